"""The planning figures of a scope. The scope is read the way the referrals service's statistics
read it, so that the dashboard's parts count the same rounds: terms (`term_id`), a jurisdiction
(its terms), rounds (`round_id`); given together they narrow each other; none is everything."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.rounds.coverage.schemas import Tally
from services.rounds.coverage.service import CoverageService
from services.rounds.enums import AssignmentMode, GroupKind, RoundKind, RoundState
from services.rounds.models import Round, Term
from services.rounds.summary.errors import SummaryScopeInvalid
from services.rounds.summary.repository import SummaryRepository
from services.rounds.summary.schemas import (
    AssignmentFigures,
    GroupFigures,
    GroupKindCount,
    KindCount,
    ModeCount,
    RoundLine,
    RoundsSummary,
    StateCount,
    TermLine,
)


@dataclass(frozen=True)
class Scope:
    term_ids: list[uuid.UUID]
    round_ids: list[uuid.UUID]
    jurisdiction: str | None

    @property
    def everything(self) -> bool:
        return not self.term_ids and not self.round_ids and self.jurisdiction is None


def _missing(field: str, asked: Sequence[uuid.UUID], found: set[uuid.UUID]) -> list[dict[str, str]]:
    return [
        {
            "field": f"{field}.{n}",
            "message": f"no {field.removesuffix('_id')} {i}",
            "code": "not_found",
        }
        for n, i in enumerate(asked)
        if i not in found
    ]


class SummaryService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = SummaryRepository(session)

    async def _resolve(self, scope: Scope) -> tuple[Sequence[Term], list[Round]]:
        """The terms shown and the rounds counted."""
        errors: list[dict[str, str]] = []
        asked_rounds: Sequence[Round] = []
        known: Sequence[Term] = []
        if scope.term_ids:
            known = await self.repo.terms(scope.term_ids, None)
            errors += _missing("term_id", scope.term_ids, {t.id for t in known})
        if scope.round_ids:
            asked_rounds = await self.repo.rounds_by_id(scope.round_ids)
            errors += _missing("round_id", scope.round_ids, {r.id for r in asked_rounds})
        if errors:
            raise SummaryScopeInvalid("; ".join(e["message"] for e in errors), errors=errors)
        if scope.term_ids or scope.jurisdiction is not None or not scope.round_ids:
            if scope.term_ids and scope.jurisdiction is None:
                terms = known
            else:
                terms = await self.repo.terms(scope.term_ids or None, scope.jurisdiction)
            rounds = list(await self.repo.rounds_of_terms([t.id for t in terms]))
            if scope.round_ids:
                wanted = set(scope.round_ids)
                rounds = [r for r in rounds if r.id in wanted]
        else:  # rounds alone: their terms are shown
            rounds = list(asked_rounds)
            terms = await self.repo.terms(list({r.term_id for r in rounds}), None)
        order = {t.id: n for n, t in enumerate(terms)}
        rounds.sort(key=lambda r: (order.get(r.term_id, len(order)), r.number))
        return terms, rounds

    async def summary(self, scope: Scope) -> RoundsSummary:
        terms, rounds = await self._resolve(scope)
        ids = [r.id for r in rounds]
        groups: dict[uuid.UUID, int] = defaultdict(int)
        members: dict[uuid.UUID, int] = defaultdict(int)
        group_kinds: dict[str, int] = defaultdict(int)
        for round_id, kind, n, people in await self.repo.groups(ids):
            groups[round_id] += n
            members[round_id] += people
            group_kinds[kind] += n
        assigned: dict[uuid.UUID, int] = defaultdict(int)
        modes: dict[str, int] = defaultdict(int)
        for round_id, mode, n in await self.repo.assignments(ids):
            assigned[round_id] += n
            modes[mode] += n
        targets, all_targets = await self.repo.targets(ids)
        coverage = CoverageService(self.session)
        lines = [
            TermLine(
                id=t.id,
                name=t.name,
                jurisdiction=t.jurisdiction,
                starts_on=t.starts_on,
                ends_on=t.ends_on,
                coverage=(await coverage.coverage(t.id)).overall,
            )
            for t in terms
        ]
        states: dict[str, int] = defaultdict(int)
        kinds: dict[str, int] = defaultdict(int)
        for r in rounds:
            states[r.state] += 1
            kinds[r.kind] += 1
        return RoundsSummary(
            scope="all" if scope.everything else "scoped",
            term_ids=[t.id for t in terms],
            round_ids=ids,
            jurisdiction=scope.jurisdiction,
            terms=lines,
            rounds=[
                RoundLine(
                    id=r.id,
                    term_id=r.term_id,
                    number=r.number,
                    name=r.name,
                    kind=RoundKind.of(r.kind),
                    kind_label=RoundKind.of(r.kind).label,
                    state=RoundState.of(r.state),
                    state_label=RoundState.of(r.state).label,
                    groups=groups[r.id],
                    members=members.get(r.id, 0),
                    assignments=assigned[r.id],
                    targets=targets.get(r.id, 0),
                )
                for r in rounds
            ],
            rounds_by_state=[
                StateCount(code=s, label=s.label, count=states[s.value]) for s in RoundState
            ],
            rounds_by_kind=[
                KindCount(code=k, label=k.label, count=kinds[k.value]) for k in RoundKind
            ],
            groups=GroupFigures(
                total=sum(groups.values()),
                members=sum(members.values()),
                by_kind=[
                    GroupKindCount(code=k, label=k.label, count=group_kinds[k.value])
                    for k in GroupKind
                ],
            ),
            assignments=AssignmentFigures(
                total=sum(assigned.values()),
                targets=all_targets,
                by_mode=[
                    ModeCount(code=m, label=m.label, count=modes[m.value]) for m in AssignmentMode
                ],
            ),
            coverage=Tally(
                total=sum(t.coverage.total for t in lines),
                inspected=sum(t.coverage.inspected for t in lines),
                planned=sum(t.coverage.planned for t in lines),
                remaining=sum(t.coverage.remaining for t in lines),
            ),
        )
