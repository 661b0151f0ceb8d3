"""Route of the findings' figures. Declared before /api/v1/findings/{finding_id}."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.auth import Principal, require_roles
from services.common.db import DbSession
from services.common.errors import Forbidden, problem_responses
from services.findings.enums import FindingStatus, Severity
from services.findings.stats.repository import StatsRepository
from services.findings.stats.schemas import (
    CategoryFigures,
    FindingStats,
    RoundFigures,
    SeverityCount,
    StatusCount,
)

# Counts carry no finding's content: the office, the higher-level office and the gateway's
# dashboard (as a service) read them.
READERS = ("office", "admin", "superior", "service")
Reader = Annotated[Principal, Depends(require_roles(*READERS))]
CENT = Decimal("0.01")
CONFIRMED_OR_LATER = {
    FindingStatus.confirmed.value,
    FindingStatus.handed_over.value,
    FindingStatus.closed.value,
}

router = APIRouter(prefix="/api/v1/findings/stats", tags=["stats"])


def _statuses(counts: dict[str, int]) -> list[StatusCount]:
    return [StatusCount(code=s, label=s.label, count=counts.get(s.value, 0)) for s in FindingStatus]


@router.get(
    "",
    summary="问题统计 Figures of the findings",
    description="Findings (drafts included) and money involved, by state, severity, checklist "
    "category and round: of every finding, or of the rounds given (`round_id`, repeatable). "
    "Counts only, no finding's content: for the office, the higher-level office and services.",
    responses=problem_responses(Forbidden),
)
async def finding_stats(
    session: DbSession,
    _: Reader,
    round_id: Annotated[
        list[uuid.UUID] | None, Query(max_length=500, description="巡察轮次（可重复）")
    ] = None,
) -> FindingStats:
    rounds = list(dict.fromkeys(round_id)) if round_id else None
    repo = StatsRepository(session)
    rows = await repo.groups(rounds)
    status: dict[str, int] = defaultdict(int)
    severity: dict[str, int] = defaultdict(int)
    per_round: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    per_code: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    money_of: dict[str, Decimal] = defaultdict(Decimal)
    confirmed_money = Decimal(0)
    for r in rows:
        status[r.status] += r.n
        severity[r.severity] += r.n
        per_round[r.round_id][0] += r.n
        if r.status in CONFIRMED_OR_LATER:
            per_round[r.round_id][1] += r.n
            confirmed_money += Decimal(r.money)
        per_code[r.category_code][r.status] += r.n
        money_of[r.category_code] += Decimal(r.money)
    codes = sorted(per_code)
    names = await repo.category_names(rounds, codes)
    return FindingStats(
        scope="all" if rounds is None else "rounds",
        round_ids=rounds or [],
        total=sum(status.values()),
        confirmed_or_later=sum(n for s, n in status.items() if s in CONFIRMED_OR_LATER),
        money_involved=sum(money_of.values(), Decimal(0)).quantize(CENT),
        confirmed_money_involved=confirmed_money.quantize(CENT),
        by_status=_statuses(status),
        by_severity=[
            SeverityCount(code=s, label=s.label, count=severity.get(s.value, 0)) for s in Severity
        ],
        by_category=[
            CategoryFigures(
                code=code,
                name=names.get(code, code),
                count=sum(per_code[code].values()),
                money_involved=money_of[code].quantize(CENT),
                by_status=_statuses(per_code[code]),
            )
            for code in codes
        ],
        by_round=[
            RoundFigures(round_id=rid, count=n, confirmed_or_later=c)
            for rid, (n, c) in sorted(per_round.items(), key=lambda kv: str(kv[0]))
        ],
    )


routers: list[APIRouter] = [router]
