"""The plumbing every service shares, seen through a real service app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ops.stack import Database
from services.common.auth import KeySet
from services.common.db import DbSession
from services.rounds.app import create_app
from services.rounds.models import Target
from services.rounds.settings import RoundsSettings
from tests.conftest import MintToken, serve


@pytest.fixture
async def app_and_client(
    database: Database, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(RoundsSettings(database_url=database.urls["rounds"]), keys=test_keys)
    marker = f"rollback-{uuid.uuid4().hex}"
    app.state.marker = marker

    async def write_then_fail(session: DbSession) -> None:
        session.add(Target(name=marker, kind="village", jurisdiction="x", created_by="t"))
        await session.flush()
        raise RuntimeError("secret internal detail /etc/passwd")

    # outside the paths the policy table governs (a route of /api/ it does not name is refused)
    app.add_api_route("/test-only/boom", write_then_fail, methods=["POST"])
    headers = {"Authorization": f"Bearer {mint('rounds')}"}
    async with serve(app, headers=headers) as client:
        yield app, client


async def test_unexpected_error_is_500_problem_without_details_and_rolls_back(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    transport.raise_app_exceptions = False
    resp = await client.post("/test-only/boom")
    assert resp.status_code == 500
    assert resp.headers["content-type"] == "application/problem+json"
    assert "secret" not in resp.text
    assert "Traceback" not in resp.text
    assert resp.json()["type"] == "/problems/internal-error"
    listed = await client.get("/api/v1/targets", params={"jurisdiction": "x", "limit": 200})
    assert app.state.marker not in [t["name"] for t in listed.json()["items"]]


async def test_health_probes_need_no_token_and_everything_else_does(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_and_client
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await bare.get("/healthz")).status_code == 200
    ready = await bare.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"] == "head"
    assert (await bare.get("/openapi.json")).status_code == 401
    assert (await bare.get("/api/v1/targets")).status_code == 401


async def test_request_id_comes_from_the_internal_token(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], mint: MintToken
) -> None:
    _, client = app_and_client
    token = mint("rounds", rid="rid-from-gateway-123")
    resp = await client.get(
        f"/api/v1/targets/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.headers["x-request-id"] == "rid-from-gateway-123"
    assert resp.json()["request_id"] == "rid-from-gateway-123"


async def test_readiness_reports_a_database_that_is_not_migrated(
    database: Database, test_keys: KeySet
) -> None:
    # the referrals role cannot see the rounds schema: rounds' version table looks absent
    settings = RoundsSettings(database_url=database.urls["referrals"])
    async with serve(create_app(settings, keys=test_keys)) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"


async def test_values_the_database_cannot_take_are_422_not_500(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_and_client
    resp = await client.get(
        "/api/v1/targets", params={"updated_since": "0001-01-01T00:00:00+14:00"}
    )
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"


async def test_forged_cursors_are_422(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    import base64

    _, client = app_and_client
    for raw in (b"[1, 5]", b'["2020-01-01T00:00:00+00:00", 5]', b"{}", b"[]", b"null"):
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        resp = await client.get("/api/v1/targets", params={"cursor": cursor})
        assert resp.status_code == 422, (raw, resp.text)
