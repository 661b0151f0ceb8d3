"""Route of the statistics (统计). Declared before /api/v1/leads/{lead_id} so its path wins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.auth import Principal, require_roles
from services.common.db import DbSession
from services.common.errors import Forbidden, problem_responses
from services.common.gateway_client import Gateway
from services.referrals import access, clients
from services.referrals.errors import ReferenceInvalid
from services.referrals.stats.schemas import Stats
from services.referrals.stats.service import Scope, stats

Reader = Annotated[Principal, Depends(require_roles(*access.STATS_READERS))]

router = APIRouter(prefix="/api/v1/leads/stats", tags=["stats"])


@router.get(
    "",
    summary="移交督办统计 Hand-over statistics",
    description="Leads handed over (by recipient body), the four handlings, cases filed, "
    "persons sanctioned by kind, money recovered, rectification items, suggestions and rules "
    "established, for all records or a scope: rounds (`round_id`), terms (`term_id`, their "
    "rounds as the rounds service has them) and a jurisdiction (the rounds of its terms); "
    "given together they narrow each other (a scope with no rounds counts nothing); with the "
    "office's summary sentence and reconciliation checks (a failing check is reported with "
    "`ok: false`, the figures are never adjusted). For the office, the higher-level office "
    "and services.\n\n"
    "A lead or rectification item made from findings of several rounds (its `round_id` is "
    "null) counts in every round one of its findings belongs to; several rounds asked together "
    "count it once, so rounds asked one by one may add up to more than the rounds together.",
    responses=problem_responses(Forbidden, ReferenceInvalid),
)
async def get_stats(
    session: DbSession,
    _: Reader,
    gateway: Gateway,
    round_id: Annotated[
        list[uuid.UUID] | None,
        Query(max_length=500, description="巡察轮次（可重复）"),
    ] = None,
    term_id: Annotated[
        list[uuid.UUID] | None,
        Query(max_length=50, description="届次（可重复）：统计其全部轮次"),
    ] = None,
    jurisdiction: Annotated[
        str | None,
        Query(
            min_length=1, max_length=100, description="辖区（如“赤壁市”）：统计其各届次的全部轮次"
        ),
    ] = None,
) -> Stats:
    rounds: list[uuid.UUID] | None = list(dict.fromkeys(round_id)) if round_id else None
    if term_id or jurisdiction is not None:
        of_terms = await clients.rounds_of_terms(gateway, term_id or [], jurisdiction)
        rounds = [r for r in of_terms if rounds is None or r in rounds]
    scope = Scope(rounds, term_ids=list(dict.fromkeys(term_id or [])), jurisdiction=jurisdiction)
    return await stats(session, scope)


routers: list[APIRouter] = [router]
