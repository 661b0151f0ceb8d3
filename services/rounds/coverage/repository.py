"""The coverage queries: one statement for the tallies, one each for what the planner needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, insert, literal, or_, select, text, tuple_, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.rounds.coverage.planner import Candidate, Slot
from services.rounds.enums import GroupKind, RoundState, TargetKind
from services.rounds.events import emit_assignments
from services.rounds.models import (
    Assignment,
    CoveragePlan,
    CoveragePlanItem,
    Group,
    GroupMember,
    PersonPosting,
    PersonRelation,
    Round,
    Target,
    Term,
)

UNDER_TOWNSHIP = (TargetKind.village.value, TargetKind.community.value)
OPEN_FOR_PLANNING = (RoundState.preparation.value, RoundState.mobilisation.value)
STARTED = tuple(s.value for s in RoundState if s.value not in OPEN_FOR_PLANNING)


def township_of() -> Any:
    """A village's or community's township is its parent; a township committee is its own."""
    return case(
        (Target.kind.in_(UNDER_TOWNSHIP), Target.parent_id),
        (Target.kind == TargetKind.township_committee.value, Target.id),
        else_=None,
    )


def goal(term: Term) -> Any:
    """The targets the term must cover: of its kinds, in its own jurisdiction."""
    return select(
        Target.id.label("target_id"),
        Target.kind.label("kind"),
        Target.name.label("name"),
        Target.risk_class.label("risk_class"),
        township_of().label("township_id"),
    ).where(Target.kind.in_(term.coverage_kinds), Target.jurisdiction == term.jurisdiction)


def status_in_term(term_id: uuid.UUID) -> Any:
    """Per target assigned in the term: 2 if a round reached stationing, else 1 (planned)."""
    return (
        select(
            Assignment.target_id.label("target_id"),
            func.max(case((Round.state.in_(STARTED), 2), else_=1)).label("level"),
        )
        .join(Round, Round.id == Assignment.round_id)
        .where(Round.term_id == term_id)
        .group_by(Assignment.target_id)
    )


class CoverageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def term(self, term_id: uuid.UUID) -> Term | None:
        return await self.session.get(Term, term_id)

    async def analytic(self) -> None:
        """Coverage reads whole registers: hash joins are right whatever the table statistics
        say. Fresh bulk loads (an import, an accepted plan) leave statistics that promise one
        row, and a nested loop over thousands of targets then takes seconds, not milliseconds.
        SET LOCAL lasts until the end of this transaction only."""
        await self.session.execute(text("SET LOCAL enable_nestloop = off"))

    async def tallies(self, term: Term) -> Sequence[Any]:
        """Rows per (kind) and per (township) and one overall, via GROUPING SETS."""
        await self.analytic()
        g = goal(term).subquery("goal")
        s = status_in_term(term.id).subquery("status")
        township = aliased(Target)
        level = s.c.level
        stmt = (
            select(
                g.c.kind,
                g.c.township_id,
                func.min(township.name).label("township"),
                func.grouping(g.c.kind).label("kind_rolled_up"),
                func.grouping(g.c.township_id).label("township_rolled_up"),
                func.count().label("total"),
                func.count().filter(level == 2).label("inspected"),
                func.count().filter(level == 1).label("planned"),
                func.count().filter(level.is_(None)).label("remaining"),
            )
            .select_from(g)
            .outerjoin(s, s.c.target_id == g.c.target_id)
            .outerjoin(township, township.id == g.c.township_id)
            .group_by(func.grouping_sets(g.c.kind, g.c.township_id, tuple_()))
        )
        return (await self.session.execute(stmt)).all()

    async def remaining(self, term: Term) -> list[Candidate]:
        await self.analytic()
        g = goal(term).subquery("goal")
        s = status_in_term(term.id).subquery("status")
        stmt = (
            select(g.c.target_id, g.c.name, g.c.township_id, g.c.risk_class)
            .outerjoin(s, s.c.target_id == g.c.target_id)
            .where(s.c.target_id.is_(None))
            .order_by(g.c.name, g.c.target_id)
        )
        rows = (await self.session.execute(stmt)).all()
        return [Candidate(r.target_id, r.name, r.township_id, r.risk_class) for r in rows]

    async def rounds(self, round_ids: list[uuid.UUID]) -> Sequence[Round]:
        return (await self.session.scalars(select(Round).where(Round.id.in_(round_ids)))).all()

    async def slots(self, round_ids: list[uuid.UUID]) -> list[Slot]:
        """Every inspecting group of the rounds with its room left (capacity minus assigned)."""
        taken = (
            select(Assignment.group_id, func.count().label("n"))
            .where(Assignment.round_id.in_(round_ids))
            .group_by(Assignment.group_id)
            .subquery()
        )
        stmt = (
            select(
                Group.round_id, Round.number, Group.id, Group.capacity - func.coalesce(taken.c.n, 0)
            )
            .join(Round, Round.id == Group.round_id)
            .outerjoin(taken, taken.c.group_id == Group.id)
            .where(Group.round_id.in_(round_ids), Group.kind != GroupKind.expert_guidance.value)
            .order_by(Round.number, Group.name)
        )
        rows = (await self.session.execute(stmt)).all()
        return [Slot(r[0], r[1], r[2], max(0, r[3])) for r in rows]

    async def blocked(
        self, group_ids: Sequence[uuid.UUID], target_ids: Sequence[uuid.UUID] | None = None
    ) -> set[tuple[uuid.UUID, uuid.UUID]]:
        """(group, target) pairs where a member worked in, or declared a relation at, the target
        or its parent. One query, whatever the number of groups and members."""
        if not group_ids:
            return set()
        ties = union(
            select(PersonPosting.person_id, PersonPosting.target_id),
            select(PersonRelation.person_id, PersonRelation.target_id),
        ).subquery("ties")
        stmt = (
            select(GroupMember.group_id, Target.id)
            .join(ties, ties.c.person_id == GroupMember.person_id)
            .join(Target, or_(Target.id == ties.c.target_id, Target.parent_id == ties.c.target_id))
            .where(GroupMember.group_id.in_(group_ids))
            .distinct()
        )
        if target_ids is not None:
            stmt = stmt.where(Target.id.in_(target_ids))
        return {(g, t) for g, t in (await self.session.execute(stmt)).all()}

    async def save_plan(self, plan: CoveragePlan, items: list[dict[str, Any]]) -> CoveragePlan:
        self.session.add(plan)
        await self.session.flush()
        if items:
            await self.session.execute(
                insert(CoveragePlanItem), [{**i, "plan_id": plan.id} for i in items]
            )
        await self.session.refresh(plan)
        return plan

    async def plan(self, plan_id: uuid.UUID, *, lock: bool = False) -> CoveragePlan | None:
        stmt = select(CoveragePlan).where(CoveragePlan.id == plan_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()

    async def items(self, plan_id: uuid.UUID) -> Sequence[CoveragePlanItem]:
        stmt = (
            select(CoveragePlanItem)
            .where(CoveragePlanItem.plan_id == plan_id)
            .order_by(
                CoveragePlanItem.round_id, CoveragePlanItem.group_id, CoveragePlanItem.cluster
            )
        )
        return (await self.session.scalars(stmt)).all()

    async def already_assigned(
        self, term_id: uuid.UUID, target_ids: list[uuid.UUID]
    ) -> list[uuid.UUID]:
        stmt = (
            select(Assignment.target_id)
            .join(Round, Round.id == Assignment.round_id)
            .where(Round.term_id == term_id, Assignment.target_id.in_(target_ids))
            .distinct()
        )
        return list((await self.session.scalars(stmt)).all())

    async def create_assignments(self, plan: CoveragePlan, by: str) -> int:
        """INSERT … SELECT from the plan's items: one statement for the whole plan."""
        source = select(
            CoveragePlanItem.round_id,
            CoveragePlanItem.group_id,
            CoveragePlanItem.target_id,
            literal(plan.mode),
            literal(by),
        ).where(CoveragePlanItem.plan_id == plan.id)
        created = (
            await self.session.scalars(
                insert(Assignment)
                .from_select(["round_id", "group_id", "target_id", "mode", "created_by"], source)
                .returning(Assignment)
            )
        ).all()
        await emit_assignments(self.session, created)
        return len(created)
