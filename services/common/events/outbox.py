"""The transactional outbox and its relay.

A service writes an event in the same transaction as the change it reports (`Outbox.emit`): both
commit or neither does. The relay, a background task in every replica of the service, sends what
is unpublished to the gateway's event hub in batches and marks it published in the same
transaction that held the rows, so a crash between sending and marking re-sends (the hub keeps
each event id once): delivery is at least once, effect exactly once.

Order per aggregate: two transactions changing one aggregate serialise on its row lock, and the
later one takes its outbox `seq` after the earlier commits, so `seq` order is commit order for an
aggregate. The relay sends in `seq` order, one batch at a time per service: each batch is taken
under a transaction-scoped advisory lock, so with several replicas one sends while the others
wait for the next turn, and the rows are claimed `FOR UPDATE SKIP LOCKED` besides. A failed send
is retried with capped exponential backoff and full jitter, the batch staying at the head.

Published rows are kept a day (for inspection), then deleted by the relay."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.events.catalogue import CATALOGUE, Payload
from services.common.gateway_client import GatewayClient

log = logging.getLogger(__name__)

HUB_PATH = "/api/v1/events"
PUBLISHED = Counter("outbox_published_total", "Events relayed to the event hub", ["app"])
RELAY_FAILURES = Counter("outbox_relay_failures_total", "Failed relay attempts", ["app"])
PENDING = Gauge("outbox_pending_events", "Events written but not yet relayed", ["app"])
LAG = Gauge("outbox_lag_seconds", "Age of the oldest event not yet relayed (0 when none)", ["app"])


def outbox_table(metadata: MetaData) -> Table:
    """The table each service declares in its own schema (and creates in a migration)."""
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("version", Integer, nullable=False),
        Column("aggregate_type", String(50), nullable=False),
        Column("aggregate_id", String(64), nullable=False),
        Column("occurred_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_published_at", "published_at"),
    )


@dataclass(frozen=True)
class Outbox:
    """A service's outbox: `emit` in the transaction of the change."""

    table: Table

    async def emit(
        self, session: AsyncSession, event_type: str, aggregate_id: Any, payload: Payload
    ) -> uuid.UUID:
        [event_id] = await self.emit_many(session, event_type, [(aggregate_id, payload)])
        return event_id

    async def emit_many(
        self,
        session: AsyncSession,
        event_type: str,
        events: Sequence[tuple[Any, Payload]],
    ) -> list[uuid.UUID]:
        """Events of one type, in the order given, in one INSERT."""
        spec = CATALOGUE[event_type]
        rows: list[dict[str, Any]] = []
        ids: list[uuid.UUID] = []
        for aggregate_id, payload in events:
            if not isinstance(payload, spec.payload):
                raise TypeError(f"{event_type} carries {spec.payload.__name__}")
            ids.append(uuid.uuid4())
            rows.append(
                {
                    "id": ids[-1],
                    "type": spec.name,
                    "version": spec.version,
                    "aggregate_type": spec.aggregate,
                    "aggregate_id": str(aggregate_id),
                    "payload": payload.model_dump(mode="json"),
                }
            )
        if rows:
            await session.execute(insert(self.table), rows)
        return ids


def backoff(failures: int, base: float, cap: float) -> float:
    """Capped exponential backoff with full jitter (AWS architecture blog's "full jitter")."""
    return random.uniform(0, min(cap, base * 2 ** min(failures, 30)))  # noqa: S311 - jitter


class Relay:
    """Sends a service's outbox to the hub until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        gateway: Callable[[], GatewayClient],
        source: str,
        *,
        batch: int = 200,
        poll_seconds: float = 0.1,
        backoff_base: float = 0.2,
        backoff_cap: float = 30.0,
        retention_hours: float = 24.0,
    ) -> None:
        self.engine = engine
        self.table = table
        self.gateway = gateway
        self.source = source
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retention_hours = retention_hours
        # one lock per service (all its replicas), whatever else uses advisory locks
        self.lock_key = zlib.crc32(f"outbox-relay:{table.schema}".encode()) - 2**31
        self.failures = 0

    async def run(self) -> None:
        rounds = 0
        while True:
            try:
                sent = await self.once()
                self.failures = 0
                rounds += 1
                if rounds % 600 == 0:
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the hub, the gateway or the database is away: retry
                self.failures += 1
                RELAY_FAILURES.labels(self.source).inc()
                delay = backoff(self.failures, self.backoff_base, self.backoff_cap)
                log.warning(
                    "outbox relay of %s failed (%s: %s); retry in %.2fs",
                    self.source, type(exc).__name__, exc, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)
                continue
            if sent < self.batch:
                await asyncio.sleep(self.poll_seconds)

    async def once(self) -> int:
        """Relays one batch (0 when there is nothing, or another replica has the turn)."""
        t = self.table
        async with self.engine.begin() as conn:
            turn = await conn.scalar(select(func.pg_try_advisory_xact_lock(self.lock_key)))
            if not turn:
                return 0
            rows = (
                await conn.execute(
                    select(t)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.seq)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            pending, oldest_age = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(
                            func.extract("epoch", func.now() - func.min(t.c.occurred_at)), 0
                        ),
                    ).where(t.c.published_at.is_(None))
                )
            ).one()
            PENDING.labels(self.source).set(pending)
            LAG.labels(self.source).set(float(oldest_age))
            if not rows:
                return 0
            await self.send(rows, pending=int(pending), oldest_age=float(oldest_age))
            await conn.execute(
                update(t).where(t.c.seq.in_([r.seq for r in rows])).values(published_at=func.now())
            )
        PUBLISHED.labels(self.source).inc(len(rows))
        PENDING.labels(self.source).set(max(0, int(pending) - len(rows)))
        return len(rows)

    async def send(self, rows: Sequence[Any], *, pending: int, oldest_age: float) -> None:
        body = {
            "source": self.source,
            "backlog": {"pending": pending, "oldest_age_seconds": round(oldest_age, 3)},
            "events": [
                {
                    "id": str(r.id),
                    "type": r.type,
                    "version": r.version,
                    "source": self.source,
                    "aggregate_type": r.aggregate_type,
                    "aggregate_id": r.aggregate_id,
                    "occurred_at": r.occurred_at.isoformat(),
                    "payload": r.payload,
                }
                for r in rows
            ],
        }
        resp = await self.gateway().request("POST", HUB_PATH, json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"the event hub answered {resp.status_code}: {resp.text[:200]}")

    async def prune(self) -> None:
        t = self.table
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(t).where(
                    t.c.published_at < func.now() - text(f"interval '{self.retention_hours} hours'")
                )
            )
