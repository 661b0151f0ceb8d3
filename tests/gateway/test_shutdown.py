"""The gateway stops within its grace period even when a connection does not answer: each
step of the shutdown has a bound, a step that overruns it is logged by name, and the steps
after it still run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.identity.revocations import Revocations
from gateway.settings import GatewaySettings
from ops.pg import free_port
from ops.stack import Database
from services.common import lifecycle
from services.common.db import Database as Sessions
from tests.lifespan import Lifespan


async def test_a_step_that_never_ends_does_not_keep_the_gateway_from_stopping(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    async def never(_self: Revocations) -> None:
        await asyncio.Event().wait()

    disposed: list[bool] = []
    dispose = Sessions.dispose

    async def counted(self: Sessions) -> None:
        disposed.append(True)
        await dispose(self)

    monkeypatch.setattr(Revocations, "stop", never)
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
    capfd.readouterr()
    assert await span.shutdown() == "lifespan.shutdown.complete"
    logged = capfd.readouterr()
    assert "the revocation listener did not stop" in logged.out + logged.err
    assert disposed == [True]  # the step after it ran
