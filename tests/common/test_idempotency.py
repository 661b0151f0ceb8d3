"""Retries with an Idempotency-Key never duplicate (a mobile client on a bad network).
Shown on the rounds service: the middleware is the same in every service."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from ops.stack import Database
from services.common.auth import KeySet
from services.rounds.app import create_app
from services.rounds.settings import RoundsSettings
from tests.conftest import MintToken, serve


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[httpx.AsyncClient]:
    settings = RoundsSettings(database_url=database.urls["rounds"])
    headers = {"Authorization": f"Bearer {mint('rounds', sub='inspector-1')}"}
    async with serve(create_app(settings, keys=test_keys), headers=headers) as c:
        yield c


def finding(jurisdiction: str) -> dict[str, str]:
    """A target registered from a phone: the POST a flaky network makes us retry."""
    return {"name": "石头口村", "kind": "village", "jurisdiction": jurisdiction}


async def rows_for(database: Database, jurisdiction: str) -> int:
    conn = await asyncpg.connect(database.urls["rounds"].replace("+asyncpg", ""))
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM rounds.targets WHERE jurisdiction = $1", jurisdiction
        )
        return n
    finally:
        await conn.close()


async def test_a_retry_returns_the_first_response(
    client: httpx.AsyncClient, database: Database
) -> None:
    target = str(uuid.uuid4())
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/api/v1/targets", json=finding(target), headers=key)
    again = await client.post("/api/v1/targets", json=finding(target), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await rows_for(database, target) == 1


async def test_concurrent_retries_make_one_row(
    client: httpx.AsyncClient, database: Database
) -> None:
    target = str(uuid.uuid4())
    key = {"Idempotency-Key": uuid.uuid4().hex}
    responses = await asyncio.gather(
        *(client.post("/api/v1/targets", json=finding(target), headers=key) for _ in range(50))
    )
    # each either ran first, replayed the first, or was told the first is still running
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    busy = [r for r in responses if r.status_code == 409]
    assert all(r.json()["type"] == "/problems/request-in-progress" for r in busy)
    assert all(r.headers["retry-after"] == "1" for r in busy)
    assert await rows_for(database, target) == 1
    # once the first has finished, a retry replays it
    again = await client.post("/api/v1/targets", json=finding(target), headers=key)
    assert again.status_code == 201
    assert again.json()["id"] == created[0].json()["id"]


async def test_same_key_different_body_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    target = str(uuid.uuid4())
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert (
        await client.post("/api/v1/targets", json=finding(target), headers=key)
    ).status_code == 201
    other = {**finding(target), "name": "另一个村"}
    refused = await client.post("/api/v1/targets", json=other, headers=key)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "header.idempotency-key"
    assert await rows_for(database, target) == 1


async def test_a_failed_request_is_not_remembered(
    client: httpx.AsyncClient, database: Database
) -> None:
    target = str(uuid.uuid4())
    key = {"Idempotency-Key": uuid.uuid4().hex}
    bad = await client.post(
        "/api/v1/targets", json={**finding(target), "kind": "castle"}, headers=key
    )
    assert bad.status_code == 422
    assert await rows_for(database, target) == 0
    good = await client.post("/api/v1/targets", json=finding(target), headers=key)
    assert good.status_code == 201
    assert await rows_for(database, target) == 1


async def test_keys_are_per_caller(
    client: httpx.AsyncClient, database: Database, mint: MintToken
) -> None:
    target = str(uuid.uuid4())
    key = uuid.uuid4().hex
    mine = await client.post(
        "/api/v1/targets", json=finding(target), headers={"Idempotency-Key": key}
    )
    # the same key from someone else is theirs alone: not a replay, not a "reused key" refusal
    theirs = await client.post(
        "/api/v1/targets",
        json={**finding(target), "name": "新店村"},
        headers={
            "Idempotency-Key": key,
            "Authorization": f"Bearer {mint('rounds', sub='inspector-2')}",
        },
    )
    assert theirs.json()["id"] != mine.json()["id"]
    assert await rows_for(database, target) == 2


async def test_malformed_key_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/targets", json=finding(str(uuid.uuid4())), headers={"Idempotency-Key": "x" * 300}
    )
    assert resp.status_code == 400
