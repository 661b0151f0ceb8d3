"""Appending to the audit log, with group commit.

Every append takes the one chain lock and holds it through its commit (the WAL flush), so one
entry per transaction would cap the whole system at one audited request per flush. Instead each
gateway process keeps one append in flight: entries that arrive meanwhile wait and go together
in the next call of `audit.append` (one statement, one commit), and each caller is answered once
its entry is committed. A lone request waits for one round trip and one flush; under load many
requests share them. Over a connection of its own (not the gateway's SQLAlchemy pool: no
pre-ping round trip, and a gateway busy with its own queries still gets its entries written)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import orjson
import structlog
from prometheus_client import Counter, Histogram

from gateway.audit.chain import Entry

APPEND = "SELECT appended_seq, appended_hash FROM audit.append($1::jsonb)"
MAX_BATCH = 500
# Errors that mean the connection, not the statement, failed: worth another try on a fresh
# connection (after a database restart the open connection is dead).
RETRYABLE = (
    OSError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
)
ATTEMPTS = 3

APPENDS = Histogram(
    "audit_append_seconds",
    "Time from asking for an audit entry to its commit (queue, chain lock, insert, flush)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
BATCHES = Histogram(
    "audit_append_batch_entries",
    "Entries committed together in one append",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500),
)
FAILURES = Counter(
    "audit_append_failures_total",
    "Audit entries that could not be written (the request was answered 503)",
    ["action", "phase"],
)
log = structlog.get_logger("audit")


class AppendFailed(Exception):
    """The entry could not be written."""


def asyncpg_dsn(database_url: str) -> str:
    """SQLAlchemy's `postgresql+asyncpg://` URL as asyncpg takes it."""
    scheme, sep, rest = database_url.partition("://")
    return "postgresql://" + rest if sep and scheme.startswith("postgresql") else database_url


def as_json(entry: Entry) -> dict[str, Any]:
    """What `audit.append` reads of an entry: its fields and its digest (hex)."""
    return {
        "at": entry.at.isoformat(),
        "request_id": entry.request_id,
        "action": entry.action,
        "phase": entry.phase,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "actor_roles": list(entry.actor_roles),
        "client_ip": entry.client_ip,
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "resource": entry.resource,
        "resource_id": entry.resource_id,
        "status": entry.status,
        "intent_seq": entry.intent_seq,
        "detail": entry.detail,
        "digest": entry.digest().hex(),
    }


# an entry as `audit.append` takes it (JSON), whoever waits for it, and since when
Waiting = tuple[Entry, bytes, "asyncio.Future[tuple[int, bytes]]", float]


class AuditWriter:
    def __init__(self, database_url: str, *, timeout: float = 5.0) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._waiting: list[Waiting] = []
        self._flusher: asyncio.Task[None] | None = None

    async def append(self, entry: Entry) -> tuple[int, bytes]:
        """Writes the entry and returns its (seq, hash) once committed; AppendFailed if it
        could not be. A retry after a connection failed may, rarely, write entries twice (the
        first try committed, its answer was lost): a duplicate is on record, never a gap."""
        try:
            encoded = orjson.dumps(as_json(entry))
        except (TypeError, ValueError) as exc:
            raise self.failed(entry, exc) from exc
        done: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._waiting.append((entry, encoded, done, time.perf_counter()))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="audit-append")
        return await done

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            await self._commit(batch)

    async def _commit(self, batch: list[Waiting]) -> None:
        try:
            results = await self._write(b"[" + b",".join(w[1] for w in batch) + b"]")
        except asyncpg.PostgresError as exc:
            if len(batch) == 1:
                self._fail(batch, exc)
                return
            for one in batch:  # an entry the database refuses must not take the others along
                await self._commit([one])
            return
        except Exception as exc:  # unreachable or too slow: the whole batch fails
            self._fail(batch, exc)
            return
        BATCHES.observe(len(batch))
        committed = time.perf_counter()
        for (_, _, done, asked), result in zip(batch, results, strict=True):
            APPENDS.observe(committed - asked)
            if not done.done():
                done.set_result(result)

    async def _write(self, payload: bytes) -> list[tuple[int, bytes]]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                pool = await self._get_pool()
                async with pool.acquire(timeout=self.timeout) as conn:
                    rows = await conn.fetch(APPEND, payload.decode(), timeout=self.timeout)
                return [(int(r[0]), bytes(r[1])) for r in rows]
            except TimeoutError:
                raise  # the database is there but slow (the lock?): retrying would only wait
            except RETRYABLE:
                if attempt == ATTEMPTS:
                    raise
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=1,  # one append in flight per process: the rest wait and go together
                timeout=self.timeout,
                server_settings={"application_name": "gateway-audit", "timezone": "UTC"},
            )
        return self._pool

    def _fail(self, batch: list[Waiting], exc: BaseException) -> None:
        for entry, _, done, _ in batch:
            if not done.done():
                done.set_exception(self.failed(entry, exc))

    def failed(self, entry: Entry, exc: BaseException) -> AppendFailed:
        """Counts and logs (loudly) an entry that could not be written."""
        FAILURES.labels(entry.action, entry.phase).inc()
        log.error(
            "audit entry not written",
            error=f"{type(exc).__name__}: {exc}",
            action=entry.action,
            phase=entry.phase,
            method=entry.method,
            path=entry.path,
            status=entry.status,
            intent_seq=entry.intent_seq,
            actor=entry.actor_name,
        )
        return AppendFailed(str(exc))

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await self._flusher
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
