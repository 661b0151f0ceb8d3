"""Coverage (全覆盖) of a term and the planner's proposals. Flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.concurrency import check_if_match
from services.rounds.coverage.errors import (
    PlanNotFound,
    PlanNotOpen,
    PlanOutdated,
    PlanRoundsInvalid,
    TermNotFound,
)
from services.rounds.coverage.planner import plan as make_plan
from services.rounds.coverage.repository import OPEN_FOR_PLANNING, CoverageRepository
from services.rounds.coverage.schemas import (
    Coverage,
    KindTally,
    PlanGroup,
    PlanRead,
    PlanRequest,
    Tally,
    TownshipTally,
    Unplaced,
)
from services.rounds.enums import AssignmentMode, TargetKind
from services.rounds.models import CoveragePlan, Term

COUNTY_LEVEL = "县直单位及其他"


def _tally(row: object) -> dict[str, int]:
    return {k: int(getattr(row, k)) for k in ("total", "inspected", "planned", "remaining")}


class CoverageService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = CoverageRepository(session)

    async def _term(self, term_id: uuid.UUID) -> Term:
        term = await self.repo.term(term_id)
        if term is None:
            raise TermNotFound(f"term {term_id} not found")
        return term

    async def coverage(self, term_id: uuid.UUID) -> Coverage:
        term = await self._term(term_id)
        overall = Tally(total=0, inspected=0, planned=0, remaining=0)
        by_kind: list[KindTally] = []
        by_township: list[TownshipTally] = []
        for row in await self.repo.tallies(term):
            if row.kind_rolled_up and row.township_rolled_up:
                overall = Tally(**_tally(row))
            elif not row.kind_rolled_up:
                kind = TargetKind.of(row.kind)
                by_kind.append(KindTally(kind=kind, label=kind.label, **_tally(row)))
            else:
                by_township.append(
                    TownshipTally(
                        township_id=row.township_id,
                        township=row.township or COUNTY_LEVEL,
                        **_tally(row),
                    )
                )
        by_kind.sort(key=lambda k: list(TargetKind).index(k.kind))
        by_township.sort(key=lambda t: (t.township_id is None, t.township))
        return Coverage(
            term_id=term.id,
            jurisdiction=term.jurisdiction,
            kinds=[TargetKind.of(k) for k in term.coverage_kinds],
            overall=overall,
            by_kind=by_kind,
            by_township=by_township,
        )

    async def propose(self, data: PlanRequest, by: Principal) -> PlanRead:
        term = await self._term(data.term_id)
        round_ids = list(dict.fromkeys(data.round_ids))
        rounds = await self.repo.rounds(round_ids)
        bad = [
            str(r.id) for r in rounds
            if r.term_id != term.id or r.state not in OPEN_FOR_PLANNING
        ] + [str(i) for i in set(round_ids) - {r.id for r in rounds}]  # fmt: skip
        if bad:
            raise PlanRoundsInvalid(
                "rounds must exist, belong to the term and still be in preparation or "
                f"mobilisation: {', '.join(bad)}",
                errors=[{"field": "round_ids", "message": f"not plannable: {', '.join(bad)}",
                         "code": "round_not_plannable"}],
            )  # fmt: skip
        targets = await self.repo.remaining(term)
        slots = await self.repo.slots(round_ids)
        blocked = await self.repo.blocked([s.group_id for s in slots])
        result = make_plan(targets, slots, blocked)
        items = [
            {"round_id": s.round_id, "group_id": s.group_id, "target_id": t,
             "cluster": result.clusters.get(t, "")}
            for s in result.slots for t in s.placed
        ]  # fmt: skip
        plan = CoveragePlan(
            term_id=term.id,
            round_ids=round_ids,
            mode=data.mode.value,
            unplaced=[{"target_id": str(t), "reason": r} for t, r in result.unplaced],
            created_by=by.subject,
        )
        plan = await self.repo.save_plan(plan, items)
        return await self.read(plan.id)

    async def read(self, plan_id: uuid.UUID) -> PlanRead:
        plan = await self.repo.plan(plan_id)
        if plan is None:
            raise PlanNotFound(f"plan {plan_id} not found")
        groups: dict[tuple[uuid.UUID, uuid.UUID], list[uuid.UUID]] = {}
        for item in await self.repo.items(plan.id):
            groups.setdefault((item.round_id, item.group_id), []).append(item.target_id)
        return PlanRead(
            id=plan.id,
            term_id=plan.term_id,
            round_ids=plan.round_ids,
            mode=AssignmentMode.of(plan.mode),
            status=plan.status,
            placed=sum(len(v) for v in groups.values()),
            groups=[
                PlanGroup(round_id=r, group_id=g, target_ids=t) for (r, g), t in groups.items()
            ],
            unplaced=[Unplaced(**u) for u in plan.unplaced],
            version=plan.version,
            created_at=plan.created_at,
        )

    async def decide(
        self, plan_id: uuid.UUID, *, accept: bool, if_match: str | None, by: Principal
    ) -> PlanRead:
        plan = await self.repo.plan(plan_id, lock=True)
        if plan is None:
            raise PlanNotFound(f"plan {plan_id} not found")
        check_if_match(if_match, plan.version)
        if plan.status != "proposed":
            raise PlanNotOpen(f"plan {plan_id} is {plan.status}")
        if accept:
            await self._still_valid(plan)
            await self.repo.create_assignments(plan, by.subject)
        plan.status = "accepted" if accept else "discarded"
        plan.decided_by = by.subject
        plan.decided_at = datetime.now(UTC)
        await self.repo.session.flush()
        return await self.read(plan.id)

    async def _still_valid(self, plan: CoveragePlan) -> None:
        """Accepting re-checks what may have changed since the proposal: the rounds still open,
        no target assigned meanwhile, no new avoidance conflict."""
        items = await self.repo.items(plan.id)
        rounds = await self.repo.rounds(plan.round_ids)
        closed = [str(r.id) for r in rounds if r.state not in OPEN_FOR_PLANNING]
        if closed:
            raise PlanOutdated(f"rounds no longer in preparation: {', '.join(closed)}")
        target_ids = [i.target_id for i in items]
        taken = await self.repo.already_assigned(plan.term_id, target_ids)
        if taken:
            raise PlanOutdated(
                f"{len(taken)} targets were assigned since the plan was made",
                target_ids=[str(t) for t in taken[:100]],
            )
        blocked = await self.repo.blocked(list({i.group_id for i in items}), target_ids)
        conflicts = [i for i in items if (i.group_id, i.target_id) in blocked]
        if conflicts:
            raise PlanOutdated(
                f"{len(conflicts)} proposed assignments now conflict with avoidance",
                conflicts=[{"group_id": str(c.group_id), "target_id": str(c.target_id)}
                           for c in conflicts[:100]],
            )  # fmt: skip
