"""Retries with an Idempotency-Key never duplicate (a mobile client on a bad network)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from ops.stack import Database
from services.common.auth import KeySet
from services.findings.app import create_app
from services.findings.settings import FindingsSettings
from tests.conftest import MintToken, serve


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[httpx.AsyncClient]:
    settings = FindingsSettings(database_url=database.urls["findings"])
    headers = {"Authorization": f"Bearer {mint('findings', sub='inspector-1')}"}
    async with serve(create_app(settings, keys=test_keys), headers=headers) as c:
        yield c


def finding(target: str) -> dict[str, str]:
    return {
        "target_id": target,
        "title": "村集体资金坐收坐支",
        "facts": "现金收入未入账。",
        "source": "visit",
        "discovered_on": "2018-07-10",
    }


async def rows_for(database: Database, target: str) -> int:
    conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM findings.findings WHERE target_id = $1", uuid.UUID(target)
        )
        return n
    finally:
        await conn.close()


async def test_a_retry_returns_the_first_response(
    client: httpx.AsyncClient, database: Database
) -> None:
    target = str(uuid.uuid4())
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/api/v1/findings", json=finding(target), headers=key)
    again = await client.post("/api/v1/findings", json=finding(target), headers=key)
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
        *(client.post("/api/v1/findings", json=finding(target), headers=key) for _ in range(50))
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
    again = await client.post("/api/v1/findings", json=finding(target), headers=key)
    assert again.status_code == 201
    assert again.json()["id"] == created[0].json()["id"]


async def test_same_key_different_body_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    target = str(uuid.uuid4())
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert (
        await client.post("/api/v1/findings", json=finding(target), headers=key)
    ).status_code == 201
    other = {**finding(target), "title": "另一个问题"}
    refused = await client.post("/api/v1/findings", json=other, headers=key)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "header.idempotency-key"
    assert await rows_for(database, target) == 1


async def test_a_failed_request_is_not_remembered(
    client: httpx.AsyncClient, database: Database
) -> None:
    target = str(uuid.uuid4())
    key = {"Idempotency-Key": uuid.uuid4().hex}
    bad = await client.post(
        "/api/v1/findings", json={**finding(target), "source": "rumour"}, headers=key
    )
    assert bad.status_code == 422
    assert await rows_for(database, target) == 0
    good = await client.post("/api/v1/findings", json=finding(target), headers=key)
    assert good.status_code == 201
    assert await rows_for(database, target) == 1


async def test_keys_are_per_caller(
    client: httpx.AsyncClient, database: Database, mint: MintToken
) -> None:
    target = str(uuid.uuid4())
    key = uuid.uuid4().hex
    mine = await client.post(
        "/api/v1/findings", json=finding(target), headers={"Idempotency-Key": key}
    )
    theirs = await client.post(
        "/api/v1/findings",
        json=finding(target),
        headers={
            "Idempotency-Key": key,
            "Authorization": f"Bearer {mint('findings', sub='inspector-2')}",
        },
    )
    assert theirs.json()["id"] != mine.json()["id"]
    assert await rows_for(database, target) == 2


async def test_malformed_key_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/findings", json=finding(str(uuid.uuid4())), headers={"Idempotency-Key": "x" * 300}
    )
    assert resp.status_code == 400
