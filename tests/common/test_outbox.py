"""The transactional outbox and its relay, against the real PostgreSQL (the rounds schema's
outbox), with the hub behind a stand-in gateway that records what it is sent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, func, select

from ops.stack import Database
from services.common.db import Database as Db
from services.common.errors import ServiceUnavailable
from services.common.events.catalogue import TargetRenamed
from services.common.events.outbox import Outbox, Relay, backoff
from services.common.gateway_client import GatewayClient
from services.rounds.models import outbox as table
from services.rounds.settings import RoundsSettings

events = Outbox(table)


class Hub:
    """Answers the token request and records each batch; `fail` batches are refused first."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 900})
        if self.fail:
            self.fail -= 1
            return httpx.Response(503)
        self.batches.append(orjson.loads(request.content)["events"])
        return httpx.Response(200, json={"accepted": 1, "duplicates": 0})

    @property
    def sent(self) -> list[str]:
        return [e["payload"]["name"] for batch in self.batches for e in batch]


@pytest.fixture
async def db(database: Database) -> AsyncIterator[Db]:
    settings = RoundsSettings(database_url=database.urls["rounds"], client_secret=SecretStr("x"))
    found = Db(settings)
    async with found.sessions() as session:
        await session.execute(delete(table))
        await session.commit()
    yield found
    await found.dispose()


def relay(db: Db, hub: Hub, batch: int = 200) -> Relay:
    settings = RoundsSettings(
        database_url="postgresql+asyncpg://x@y/z", client_secret=SecretStr("x")
    )
    gateway = GatewayClient(settings, transport=httpx.MockTransport(hub.handle))
    return Relay(db.engine, table, lambda: gateway, "rounds", batch=batch)


async def emit(db: Db, *names: str, commit: bool = True) -> None:
    async with db.sessions() as session:
        target = uuid.uuid4()
        for n in names:
            payload = TargetRenamed(target_id=target, name=n, previous_name="旧名")
            await events.emit(session, "target.renamed", target, payload)
        if commit:
            await session.commit()
        else:
            await session.rollback()


async def unpublished(db: Db) -> int:
    async with db.sessions() as session:
        return int(
            (await session.execute(
                select(func.count()).select_from(table).where(table.c.published_at.is_(None))
            )).scalar_one()
        )  # fmt: skip


async def test_an_event_lives_and_dies_with_its_transaction(db: Db) -> None:
    await emit(db, "甲", commit=False)
    assert await unpublished(db) == 0
    await emit(db, "乙")
    assert await unpublished(db) == 1


async def test_the_relay_sends_in_order_in_batches_and_marks_them(db: Db) -> None:
    hub = Hub()
    names = [f"村{n:03d}" for n in range(25)]
    await emit(db, *names)
    r = relay(db, hub, batch=10)
    assert [await r.once() for _ in range(4)] == [10, 10, 5, 0]
    assert hub.sent == names
    assert [len(b) for b in hub.batches] == [10, 10, 5]
    assert await unpublished(db) == 0
    first = hub.batches[0][0]
    assert (first["type"], first["version"], first["source"]) == ("target.renamed", 1, "rounds")


async def test_a_refused_batch_stays_at_the_head_and_goes_later(db: Db) -> None:
    hub = Hub()
    hub.fail = 2
    await emit(db, "一", "二")
    r = relay(db, hub)
    for _ in range(2):
        with pytest.raises(ServiceUnavailable, match="503"):
            await r.once()
        assert await unpublished(db) == 2
    await emit(db, "三")
    assert await r.once() == 3
    assert hub.sent == ["一", "二", "三"]


async def test_replicas_never_send_an_event_twice_or_out_of_order(db: Db) -> None:
    hub = Hub()
    names = [f"名{n:04d}" for n in range(300)]
    await emit(db, *names)
    replicas = [relay(db, hub, batch=7) for _ in range(4)]

    async def drain(r: Relay) -> None:
        for _ in range(200):
            if not await unpublished(db):
                return
            await r.once()

    await asyncio.gather(*(drain(r) for r in replicas))
    assert hub.sent == names  # each once, in the order written


async def test_the_run_loop_retries_with_backoff_until_the_hub_is_back(db: Db) -> None:
    hub = Hub()
    hub.fail = 3
    await emit(db, "终")
    r = relay(db, hub)
    r.backoff_base, r.poll_seconds = 0.01, 0.01
    task = asyncio.create_task(r.run())
    try:
        for _ in range(300):
            if hub.sent and r.failures == 0:  # sent, marked, and the loop knows it
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert hub.sent == ["终"]
    assert r.failures == 0


def test_backoff_is_capped_and_jittered() -> None:
    waits = [backoff(n, 0.2, 30.0) for n in range(1, 40) for _ in range(20)]
    assert all(0 <= w <= 30.0 for w in waits)
    assert len({round(w, 6) for w in waits}) > 100  # jittered, not a fixed ladder
    assert max(backoff(2, 0.2, 30.0) for _ in range(200)) <= 0.8
