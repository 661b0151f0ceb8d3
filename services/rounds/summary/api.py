"""Route of the summary. Declared before /api/v1/rounds/{round_id} so its path wins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.auth import Principal, require_roles
from services.common.db import DbSession
from services.common.errors import Forbidden, problem_responses
from services.rounds import access
from services.rounds.summary.errors import SummaryScopeInvalid
from services.rounds.summary.schemas import RoundsSummary
from services.rounds.summary.service import Scope, SummaryService

# Counts and the rounds' names and phases, nothing about people: the office, the higher-level
# office and the gateway's dashboard (as a service).
Reader = Annotated[Principal, Depends(require_roles(*access.READERS_OF_ALL, "superior"))]

router = APIRouter(prefix="/api/v1/rounds/summary", tags=["stats"])


@router.get(
    "",
    summary="巡察工作概况 Rounds, groups, assignments and coverage of a scope",
    description="For terms (`term_id`, repeatable), a jurisdiction (its terms) or rounds "
    "(`round_id`, repeatable); given together they narrow each other; none is every term. "
    "Each round with its current phase, groups, people and targets; rounds by phase and kind; "
    "groups by kind; assignments by mode; and the coverage (全覆盖) of each term shown. An "
    "unknown term or round is 422 naming it.",
    responses=problem_responses(Forbidden, SummaryScopeInvalid),
)
async def rounds_summary(
    session: DbSession,
    _: Reader,
    term_id: Annotated[
        list[uuid.UUID] | None, Query(max_length=50, description="届次（可重复）")
    ] = None,
    round_id: Annotated[
        list[uuid.UUID] | None, Query(max_length=500, description="巡察轮次（可重复）")
    ] = None,
    jurisdiction: Annotated[
        str | None, Query(min_length=1, max_length=100, description="辖区，如“赤壁市”")
    ] = None,
) -> RoundsSummary:
    scope = Scope(
        term_ids=list(dict.fromkeys(term_id or [])),
        round_ids=list(dict.fromkeys(round_id or [])),
        jurisdiction=jurisdiction,
    )
    return await SummaryService(session).summary(scope)


routers: list[APIRouter] = [router]
