"""The summary's queries: each an aggregate over the rounds of the scope (foreign-key indexes
on round_id), whatever the number of findings elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, cast, distinct, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.rounds.models import Assignment, Group, GroupMember, Round, Term


def _n() -> Any:
    return cast(func.count(), Integer).label("n")


class SummaryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def terms(
        self, term_ids: Sequence[uuid.UUID] | None, jurisdiction: str | None
    ) -> Sequence[Term]:
        stmt = select(Term)
        if term_ids is not None:
            stmt = stmt.where(Term.id.in_(term_ids))
        if jurisdiction is not None:
            stmt = stmt.where(Term.jurisdiction == jurisdiction)
        return (await self.session.scalars(stmt.order_by(Term.starts_on, Term.name))).all()

    async def rounds_by_id(self, round_ids: Sequence[uuid.UUID]) -> Sequence[Round]:
        return (await self.session.scalars(select(Round).where(Round.id.in_(round_ids)))).all()

    async def rounds_of_terms(self, term_ids: Sequence[uuid.UUID] | None) -> Sequence[Round]:
        stmt = select(Round)
        if term_ids is not None:
            stmt = stmt.where(Round.term_id.in_(term_ids))
        return (await self.session.scalars(stmt)).all()

    async def groups(self, round_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
        """(round_id, kind, groups, members): groups by kind, with the people in them."""
        stmt = (
            select(
                Group.round_id,
                Group.kind,
                cast(func.count(distinct(Group.id)), Integer).label("groups"),
                cast(func.count(GroupMember.id), Integer).label("members"),
            )
            .outerjoin(GroupMember, GroupMember.group_id == Group.id)
            .where(Group.round_id.in_(round_ids))
            .group_by(Group.round_id, Group.kind)
        )
        return (await self.session.execute(stmt)).all()

    async def assignments(self, round_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
        """(round_id, mode, n)"""
        stmt = (
            select(Assignment.round_id, Assignment.mode, _n())
            .where(Assignment.round_id.in_(round_ids))
            .group_by(Assignment.round_id, Assignment.mode)
        )
        return (await self.session.execute(stmt)).all()

    async def targets(self, round_ids: Sequence[uuid.UUID]) -> tuple[dict[uuid.UUID, int], int]:
        """Distinct targets assigned per round, and in all the rounds together (one statement:
        GROUPING SETS; the row of all has a null round)."""
        if not round_ids:
            return {}, 0
        stmt = (
            select(
                Assignment.round_id,
                cast(func.count(distinct(Assignment.target_id)), Integer),
            )
            .where(Assignment.round_id.in_(round_ids))
            .group_by(func.grouping_sets(Assignment.round_id, tuple_()))
        )
        per_round, total = {}, 0
        for round_id, n in (await self.session.execute(stmt)).all():
            if round_id is None:
                total = n
            else:
                per_round[round_id] = n
        return per_round, total
