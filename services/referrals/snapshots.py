"""Snapshots of findings (owned by the findings service) kept for display and scoping."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.referrals.clients import FindingRef
from services.referrals.models import FindingSnapshot


async def save(session: AsyncSession, refs: Sequence[FindingRef]) -> None:
    """One upsert for all: what the findings service says now replaces what was kept."""
    if not refs:
        return
    stmt = insert(FindingSnapshot).values(
        [
            {
                "finding_id": r.id,
                "title": r.title,
                "target_id": r.target_id,
                "round_id": r.round_id,
                "group_id": r.group_id,
            }
            for r in refs
        ]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[FindingSnapshot.finding_id],
        set_={
            "title": stmt.excluded.title,
            "target_id": stmt.excluded.target_id,
            "round_id": stmt.excluded.round_id,
            "group_id": stmt.excluded.group_id,
            "refreshed_at": func.now(),
        },
    )
    await session.execute(stmt)


async def of(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, FindingSnapshot]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(
        select(FindingSnapshot).where(FindingSnapshot.finding_id.in_(wanted))
    )
    return {r.finding_id: r for r in rows}


def common_round(refs: Sequence[FindingRef]) -> uuid.UUID | None:
    """The round of the findings when they all name the same one."""
    rounds = {r.round_id for r in refs}
    return rounds.pop() if len(rounds) == 1 else None
