"""The gateway stops within its grace period even when a connection does not answer: each
step of the shutdown has a bound, a step that overruns it or fails is logged by name, and the
steps after it still run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.identity.revocations import Revocations
from gateway.settings import GatewaySettings
from ops.pg import free_port
from ops.stack import Database
from services.common import lifecycle
from services.common.db import Database as Sessions
from tests.lifespan import Lifespan


class Heard(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _hangs(_self: Revocations) -> None:
    await asyncio.Event().wait()


async def _fails(_self: Revocations) -> None:
    raise ConnectionResetError("the listening connection is gone")


async def _ignores_cancellation(_self: Revocations) -> None:
    """Goes on for a while when cancelled (far beyond the step's bound)."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await asyncio.sleep(2)


@pytest.mark.parametrize(
    ("stop", "logged"),
    [
        (_hangs, "the revocation listener did not stop within"),
        (_fails, "the revocation listener failed"),
        (_ignores_cancellation, "the revocation listener did not stop within"),
    ],
)
async def test_a_step_that_hangs_or_fails_does_not_keep_the_gateway_from_stopping(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stop: Any,
    logged: str,
) -> None:
    disposed: list[bool] = []
    dispose = Sessions.dispose

    async def counted(self: Sessions) -> None:
        disposed.append(True)
        await dispose(self)

    monkeypatch.setattr(Revocations, "stop", stop)
    monkeypatch.setattr(Sessions, "dispose", counted)
    monkeypatch.setattr(lifecycle, "SHUTDOWN_STEP_SECONDS", 0.2)
    closed = f"http://127.0.0.1:{free_port()}"
    app = create_app(
        GatewaySettings(
            database_url=database.urls["gateway"],
            signing_key_file=tmp_path / "gateway-signing.pem",
            rounds_url=closed,
            findings_url=closed,
            referrals_url=closed,
            hub_dispatch=False,
        )
    )
    span = Lifespan(app)
    await span.startup()
    # (the app's logging configuration replaces the root logger's handlers: caplog's too)
    heard = Heard()
    logging.getLogger(lifecycle.__name__).addHandler(heard)
    try:
        assert await span.shutdown() == "lifespan.shutdown.complete"
    finally:
        logging.getLogger(lifecycle.__name__).removeHandler(heard)
    assert any(logged in message for message in heard.messages), heard.messages
    assert disposed == [True]  # the step after it ran
