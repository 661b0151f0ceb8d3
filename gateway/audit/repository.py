"""Every query of the audit log (reading; appends go through writer.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.audit.models import AuditEntry

Reader = AsyncSession | AsyncConnection
ENTRY_COLUMNS = tuple(AuditEntry.__table__.columns)


@dataclass(frozen=True, slots=True)
class EntryFilter:
    user: str | None = None
    resource: str | None = None
    resource_id: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def head(db: Reader) -> Row[Any] | None:
    """The newest entry (seq, hash, at), or None while the log is empty."""
    stmt = select(*ENTRY_COLUMNS).order_by(AuditEntry.seq.desc()).limit(1)
    return (await db.execute(stmt)).first()


async def entry(db: Reader, seq: int) -> Row[Any] | None:
    return (await db.execute(select(*ENTRY_COLUMNS).where(AuditEntry.seq == seq))).first()


async def batches(db: Reader, through: int, size: int = 1000) -> AsyncIterator[Sequence[Row[Any]]]:
    """Entries 1..`through` in order, `size` at a time (keyset on seq: memory stays flat and no
    transaction is held open between batches)."""
    after = 0
    while True:
        stmt = (
            select(*ENTRY_COLUMNS)
            .where(AuditEntry.seq > after, AuditEntry.seq <= through)
            .order_by(AuditEntry.seq)
            .limit(size)
        )
        rows = (await db.execute(stmt)).all()
        if not rows:
            return
        yield rows
        after = rows[-1].seq


def listing(where: EntryFilter, before: int | None, limit: int) -> Select[AuditEntry]:
    """Newest first, keyset on seq; `limit` + 1 rows (the extra one says a next page exists)."""
    stmt = select(AuditEntry)
    if where.user:
        stmt = stmt.where(
            or_(AuditEntry.actor_name == where.user, AuditEntry.actor_id == where.user)
        )
    if where.resource:
        stmt = stmt.where(AuditEntry.resource == where.resource)
    if where.resource_id:
        stmt = stmt.where(AuditEntry.resource_id == where.resource_id)
    if where.request_id:
        stmt = stmt.where(AuditEntry.request_id == where.request_id)
    if where.since:
        stmt = stmt.where(AuditEntry.at >= where.since)
    if where.until:
        stmt = stmt.where(AuditEntry.at < where.until)
    if before is not None:
        stmt = stmt.where(AuditEntry.seq < before)
    return stmt.order_by(AuditEntry.seq.desc()).limit(limit + 1)


async def entries(
    db: AsyncSession, where: EntryFilter, before: int | None, limit: int
) -> Sequence[AuditEntry]:
    return (await db.scalars(listing(where, before, limit))).all()
