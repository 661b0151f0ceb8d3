"""Deletions for delta sync: a client that asks `updated_since=T` also learns which ids were
deleted since T, so its local copy can drop them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession


def tombstone_table(metadata: MetaData) -> Table:
    return Table(
        "tombstones",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("entity", String(40), nullable=False),
        Column("entity_id", UUID(as_uuid=True), nullable=False),
        Column("deleted_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Index("ix_tombstones_entity_deleted_at", "entity", "deleted_at"),
    )


async def record_deletion(
    session: AsyncSession, table: Table, entity: str, ids: list[uuid.UUID]
) -> None:
    if ids:
        await session.execute(table.insert(), [{"entity": entity, "entity_id": i} for i in ids])


async def deleted_since(
    session: AsyncSession, table: Table, entity: str, since: datetime, limit: int = 10_000
) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(table.c.entity_id)
        # >=: a deletion in the same instant as the client's last sync is not missed
        .where(table.c.entity == entity, table.c.deleted_at >= since)
        .order_by(table.c.deleted_at)
        .limit(limit)
    )
    return list(rows)
