"""The dashboard: the figures of the three services for one scope, in one answer.

Two steps, each as concurrent as it can be:
1. the rounds service's summary resolves the scope (terms, a jurisdiction, rounds: they narrow
   each other, as the referrals service's statistics read them) into the rounds counted, with
   the rounds, groups, assignments and coverage;
2. the findings service's figures, the referrals service's statistics and the overdue
   rectification items are asked for those rounds at the same time.
Every service answers from aggregate queries on indexed columns (see each one's stats
repository); the assembled figures of a scope are then kept `dashboard_cache_seconds` (TtlCache)
so that a dashboard left open by many users costs the services one count per scope and period.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from gateway.dashboard.clients import Params, Services
from gateway.dashboard.schemas import (
    CaseFigures,
    CategoryLine,
    Check,
    Count,
    Coverage,
    Dashboard,
    DashboardScope,
    FindingFigures,
    FunnelStep,
    GroupFigures,
    LeadFigures,
    OverdueItem,
    PersonFigures,
    RecipientLine,
    RectificationFigures,
    RoundFigures,
    RoundLine,
    SuggestionFigures,
    TargetFigures,
    TermCoverage,
)
from services.common.cache import TtlCache

# The findings of no round at all: a scope whose terms have no rounds yet counts nothing.
NO_ROUND = "00000000-0000-0000-0000-000000000000"
OVERDUE_SHOWN = 10


@dataclass(frozen=True)
class Scope:
    """What to count; the cache key (sorted, so that the same question is one entry)."""

    term_ids: tuple[uuid.UUID, ...] = ()
    round_ids: tuple[uuid.UUID, ...] = ()
    jurisdiction: str | None = None

    @classmethod
    def of(
        cls,
        term_ids: Sequence[uuid.UUID] | None = None,
        round_ids: Sequence[uuid.UUID] | None = None,
        jurisdiction: str | None = None,
    ) -> Scope:
        return cls(
            tuple(sorted(set(term_ids or []), key=str)),
            tuple(sorted(set(round_ids or []), key=str)),
            jurisdiction,
        )

    @property
    def everything(self) -> bool:
        return not self.term_ids and not self.round_ids and self.jurisdiction is None

    def params(self) -> list[tuple[str, str]]:
        out = [("term_id", str(t)) for t in self.term_ids]
        out += [("round_id", str(r)) for r in self.round_ids]
        if self.jurisdiction is not None:
            out.append(("jurisdiction", self.jurisdiction))
        return out


@dataclass(frozen=True)
class Figures:
    """The services' answers, as they gave them."""

    rounds: dict[str, Any]
    findings: dict[str, Any]
    referrals: dict[str, Any]
    overdue: list[dict[str, Any]]
    generated_at: datetime


async def _overdue(services: Services, scope: Scope, round_ids: list[str]) -> list[dict[str, Any]]:
    """The first overdue items recorded in each round (one page each, concurrently)."""
    base: Params = [("overdue", "true"), ("limit", str(OVERDUE_SHOWN))]
    if scope.everything:
        pages = [await services.get("referrals", "/api/v1/rectifications", base)]
    else:
        pages = await asyncio.gather(
            *(
                services.get("referrals", "/api/v1/rectifications", [*base, ("round_id", r)])
                for r in round_ids
            )
        )
    return [item for page in pages for item in page["items"]]


async def count(services: Services, scope: Scope) -> Figures:
    """The three services' figures of the scope, counted now."""
    rounds = await services.get("rounds", "/api/v1/rounds/summary", scope.params())
    round_ids: list[str] = rounds["round_ids"]
    by_round: Params = [("round_id", r) for r in round_ids]
    if scope.everything:
        findings_params: Params = []
        referrals_params: Params = []
    elif round_ids:
        findings_params = referrals_params = by_round
    else:  # terms without rounds yet: nothing to count, asked in the services' own terms
        findings_params = [("round_id", NO_ROUND)]
        referrals_params = scope.params()
    findings, referrals, overdue = await asyncio.gather(
        services.get("findings", "/api/v1/findings/stats", findings_params),
        services.get("referrals", "/api/v1/leads/stats", referrals_params),
        _overdue(services, scope, round_ids),
    )
    return Figures(rounds, findings, referrals, overdue, datetime.now(UTC))


def _counts(lines: list[dict[str, Any]]) -> list[Count]:
    return [Count(code=x["code"], label=x["label"], count=x["count"]) for x in lines]


def _coverage(tally: dict[str, int]) -> Coverage:
    goal = tally["total"]
    return Coverage(
        goal=goal,
        inspected=tally["inspected"],
        planned=tally["planned"],
        remaining=tally["remaining"],
        inspected_percent=round(100 * tally["inspected"] / goal, 1) if goal else 0.0,
    )


def assemble(scope: Scope, f: Figures) -> Dashboard:
    r, fi, re = f.rounds, f.findings, f.referrals
    as_of = date.fromisoformat(re["as_of"])
    findings_of = {x["round_id"]: x["count"] for x in fi["by_round"]}
    leads, persons, rect = re["leads"], re["persons"], re["rectification"]
    statuses = {x["code"]: x["label"] for x in rect["by_status"]}
    overdue_items = sorted(f.overdue, key=lambda i: (i["deadline"], i["id"]))[:OVERDUE_SHOWN]
    return Dashboard(
        scope=DashboardScope(
            everything=scope.everything,
            term_ids=r["term_ids"],
            round_ids=r["round_ids"],
            jurisdiction=scope.jurisdiction,
        ),
        as_of=as_of,
        generated_at=f.generated_at,
        rounds=RoundFigures(
            total=len(r["rounds"]),
            by_state=_counts(r["rounds_by_state"]),
            by_kind=_counts(r["rounds_by_kind"]),
            items=[
                RoundLine(
                    id=x["id"],
                    term_id=x["term_id"],
                    number=x["number"],
                    name=x["name"],
                    kind=x["kind"],
                    kind_label=x["kind_label"],
                    state=x["state"],
                    state_label=x["state_label"],
                    groups=x["groups"],
                    members=x["members"],
                    targets=x["targets"],
                    findings=findings_of.get(x["id"], 0),
                )
                for x in r["rounds"]
            ],
        ),
        groups=GroupFigures(
            total=r["groups"]["total"],
            members=r["groups"]["members"],
            by_kind=_counts(r["groups"]["by_kind"]),
        ),
        targets=TargetFigures(
            inspected=r["assignments"]["targets"],
            assignments=r["assignments"]["total"],
            by_mode=[Count(**x) for x in r["assignments"]["by_mode"] if x["count"]],
            coverage=_coverage(r["coverage"]),
            terms=[
                TermCoverage(
                    term_id=t["id"],
                    name=t["name"],
                    jurisdiction=t["jurisdiction"],
                    **_coverage(t["coverage"]).model_dump(),
                )
                for t in r["terms"]
            ],
        ),
        findings=FindingFigures(
            total=fi["total"],
            confirmed=fi["confirmed_or_later"],
            money_involved=Decimal(fi["money_involved"]),
            confirmed_money_involved=Decimal(fi["confirmed_money_involved"]),
            by_status=_counts(fi["by_status"]),
            by_severity=_counts(fi["by_severity"]),
            by_category=[
                CategoryLine(
                    code=c["code"],
                    name=c["name"],
                    count=c["count"],
                    money_involved=Decimal(c["money_involved"]),
                )
                for c in fi["by_category"]
            ],
        ),
        leads=LeadFigures(
            handed_over=leads["handed_over"],
            received=leads["received"],
            awaiting_handling=leads["awaiting_handling"],
            handled=leads["handled"],
            handlings=_counts(leads["handlings"]),
            cases_filed=leads["cases_filed"],
            concluded=leads["concluded"],
            overdue=leads["overdue"],
            by_recipient=[
                RecipientLine(
                    code=x["recipient"],
                    label=x["label"],
                    handed_over=x["handed_over"],
                    cases_filed=x["cases_filed"],
                    sanctioned=x["sanctioned"],
                    money_recovered=Decimal(x["money_recovered"]),
                )
                for x in leads["by_recipient"]
            ],
        ),
        cases=CaseFigures(filed=leads["cases_filed"], subjects=persons["subjects_of_filed_cases"]),
        persons=PersonFigures(
            subjects=persons["subjects"],
            sanctioned=persons["sanctioned"],
            party_sanctioned=persons["party_sanctioned"],
            government_sanctioned=persons["government_sanctioned"],
            organisational_handling=persons["organisational_handling"],
            judicial_transfers=persons["judicial_transfers"],
            not_substantiated=persons["not_substantiated"],
        ),
        money_recovered=Decimal(leads["money_recovered"]),
        rectification=RectificationFigures(
            fed_back=rect["fed_back"],
            done=rect["signed_off"],
            due=rect["open"] - rect["overdue"],
            overdue=rect["overdue"],
            by_status=_counts(rect["by_status"]),
            overdue_items=[
                OverdueItem(
                    id=i["id"],
                    title=i["title"],
                    owner_name=i["owner_name"],
                    deadline=i["deadline"],
                    days_overdue=(as_of - date.fromisoformat(i["deadline"])).days,
                    status=i["status"],
                    status_label=statuses.get(i["status"], i["status"]),
                )
                for i in overdue_items
            ],
        ),
        suggestions=SuggestionFigures(
            total=re["suggestions"]["total"], by_adoption=_counts(re["suggestions"]["by_adoption"])
        ),
        rules=re["rules"],
        funnel=[
            FunnelStep(
                step="findings_confirmed",
                label="发现问题（已确认）",
                count=fi["confirmed_or_later"],
            ),
            FunnelStep(step="handed_over", label="移交问题线索", count=leads["handed_over"]),
            FunnelStep(step="received", label="已接收", count=leads["received"]),
            FunnelStep(step="handled", label="已确定处置方式", count=leads["handled"]),
            FunnelStep(step="cases_filed", label="立案", count=leads["cases_filed"]),
            FunnelStep(step="concluded", label="办结", count=leads["concluded"]),
        ],
        summary=re["summary"],
        checks=[Check(**c) for c in re["checks"]],
        consistent=re["consistent"],
    )


class DashboardService:
    def __init__(self, cache_seconds: float) -> None:
        self.cache: TtlCache[Scope, Dashboard] | None = (
            TtlCache(ttl=cache_seconds, max_entries=1000) if cache_seconds > 0 else None
        )

    async def dashboard(
        self, services: Services, scope: Scope, *, fresh: bool = False
    ) -> Dashboard:
        async def load(key: Scope) -> Dashboard:
            return assemble(key, await count(services, key))

        if self.cache is None or fresh:
            return await load(scope)
        return await self.cache.get_or_load(scope, load)
