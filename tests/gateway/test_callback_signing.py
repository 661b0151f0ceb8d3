"""Checking the platform's callback signatures (Standard Webhooks): whatever arrives in the
three headers, the answer is the webhook id, InvalidSignature or StaleTimestamp, never another
exception (which would be a 500). Without a secret configured, the routes answer 503."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook
from starlette.types import ASGIApp

from gateway.app import create_app
from gateway.integrations.errors import InvalidSignature, StaleTimestamp
from gateway.integrations.signing import verify
from gateway.settings import GatewaySettings
from ops.stack import Database

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = b'{"handling": "preliminary_verification", "note": "\xe5\x88\x9d\xe6\xa0\xb8"}'


def signed(secrets: list[str], at: float | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    when = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(
            Webhook(s).sign(msg_id, when, BODY.decode()) for s in secrets
        ),
    }


def test_a_signature_by_a_secret_in_force_is_accepted() -> None:
    assert verify([SECRET], signed([SECRET]), BODY) == "msg_1"
    # while the platform rotates: either secret, or both signatures at once
    assert verify([SECRET, OLD], signed([OLD]), BODY) == "msg_1"
    assert verify([SECRET], signed([OLD, SECRET]), BODY) == "msg_1"
    # a secret no longer in force does not sign
    with pytest.raises(InvalidSignature):
        verify([SECRET], signed([OLD]), BODY)


def test_another_body_id_or_timestamp_breaks_the_signature() -> None:
    headers = signed([SECRET])
    with pytest.raises(InvalidSignature):
        verify([SECRET], headers, BODY.replace(b"preliminary_verification", b"closed"))
    with pytest.raises(InvalidSignature):
        verify([SECRET], {**headers, "webhook-id": "msg_2"}, BODY)
    moved = str(int(headers["webhook-timestamp"]) - 1)
    with pytest.raises(InvalidSignature):
        verify([SECRET], {**headers, "webhook-timestamp": moved}, BODY)


@pytest.mark.parametrize("skew", [-301, 301, -86400])
def test_a_timestamp_more_than_five_minutes_away_is_stale(skew: int) -> None:
    with pytest.raises(StaleTimestamp):
        verify([SECRET], signed([SECRET], at=time.time() + skew), BODY)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("webhook-id", ""),
        ("webhook-id", "x" * 201),
        ("webhook-id", "msg 1"),
        ("webhook-timestamp", ""),
        ("webhook-timestamp", "nan"),
        ("webhook-timestamp", "1e9"),
        ("webhook-timestamp", "-1"),
        ("webhook-timestamp", "9" * 40),
        ("webhook-signature", ""),
        ("webhook-signature", "garbage"),
        ("webhook-signature", "v1,"),
        ("webhook-signature", "v1,!!!not-base64!!!"),
        ("webhook-signature", "v1,a,b"),
        ("webhook-signature", "v2,abc"),
        ("webhook-signature", "v1,YWJj  v1,"),
    ],
)
def test_malformed_headers_are_an_invalid_signature(header: str, value: str) -> None:
    with pytest.raises(InvalidSignature):
        verify([SECRET], {**signed([SECRET]), header: value}, BODY)


def test_a_body_that_is_not_utf8_is_an_invalid_signature() -> None:
    with pytest.raises(InvalidSignature):
        verify([SECRET], signed([SECRET]), b"\xff\xfe")


@pytest.mark.parametrize("secret", ["secret", "whsec_", "whsec_" + "a" * 8, "whsec_!!!!"])
def test_a_callback_secret_that_cannot_sign_is_refused_at_start(secret: str) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(database_url="postgresql+asyncpg://x/y", platform_callback_secret=secret)
    settings = GatewaySettings(
        database_url="postgresql+asyncpg://x/y", platform_callback_secret=SECRET
    )
    assert settings.platform_callback_previous_secret is None


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Runs an ASGI app's lifespan (the gateway's is under its middleware, not a FastAPI)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()

    async def send(message: MutableMapping[str, Any]) -> None:
        await outbox.put(message)

    task: asyncio.Future[None] = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    )
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task


async def test_without_a_secret_the_callback_routes_answer_503(
    database: Database, tmp_path: Path
) -> None:
    settings = GatewaySettings(
        database_url=database.urls["gateway"],
        signing_key_file=tmp_path / "gateway-signing.pem",
        hub_dispatch=False,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        url = f"/api/v1/integrations/platform/leads/{uuid.uuid4()}/handling"
        resp = await client.post(url, content=BODY, headers=signed([SECRET]))
    assert resp.status_code == 503, resp.text
    assert resp.json()["type"] == "/problems/callbacks-not-configured"
