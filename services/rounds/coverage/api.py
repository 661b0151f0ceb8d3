"""Routes of coverage (全覆盖) and the planner."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from services.common.auth import Principal, require_roles
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import PreconditionFailed, problem_responses
from services.rounds.coverage.errors import (
    PlanNotFound,
    PlanNotOpen,
    PlanOutdated,
    PlanRoundsInvalid,
    TermNotFound,
)
from services.rounds.coverage.schemas import Coverage, PlanRead, PlanRequest
from services.rounds.coverage.service import CoverageService

coverage = APIRouter(prefix="/api/v1/coverage", tags=["coverage"])
Planner = Annotated[Principal, Depends(require_roles("office", "admin"))]


@coverage.get(
    "",
    summary="全覆盖进度 Coverage of a term",
    description="Targets of the term's kinds in its jurisdiction: inspected (a round reached "
    "stationing), planned (assigned in a round still being prepared) and remaining, overall, "
    "by kind and by township.",
    responses=problem_responses(TermNotFound),
)
async def get_coverage(term_id: uuid.UUID, session: DbSession, _: Planner) -> Coverage:
    return await CoverageService(session).coverage(term_id)


@coverage.post(
    "/plans",
    status_code=status.HTTP_201_CREATED,
    summary="生成全覆盖安排方案 Propose how to cover the rest",
    description="Places every remaining target of the term into the groups of the given rounds, "
    "respecting avoidance and each group's capacity and keeping a township with its villages. "
    "Nothing is assigned until the plan is accepted.",
    responses=problem_responses(TermNotFound, PlanRoundsInvalid),
)
async def propose_plan(
    body: PlanRequest, session: DbSession, principal: Planner, response: Response
) -> PlanRead:
    plan = await CoverageService(session).propose(body, principal)
    response.headers["Location"] = f"/api/v1/coverage/plans/{plan.id}"
    set_etag(response, plan.version)
    return plan


@coverage.get(
    "/plans/{plan_id}", summary="查看方案 Read a plan", responses=problem_responses(PlanNotFound)
)
async def get_plan(
    plan_id: uuid.UUID, session: DbSession, _: Planner, response: Response
) -> PlanRead:
    plan = await CoverageService(session).read(plan_id)
    set_etag(response, plan.version)
    return plan


@coverage.post(
    "/plans/{plan_id}/accept",
    summary="采纳方案 Accept a plan (creates the assignments)",
    responses=problem_responses(PlanNotFound, PlanNotOpen, PlanOutdated, PreconditionFailed),
)
async def accept_plan(
    plan_id: uuid.UUID, session: DbSession, principal: Planner, if_match: IfMatch = None
) -> PlanRead:
    return await CoverageService(session).decide(
        plan_id, accept=True, if_match=if_match, by=principal
    )


@coverage.post(
    "/plans/{plan_id}/discard",
    summary="放弃方案 Discard a plan",
    responses=problem_responses(PlanNotFound, PlanNotOpen, PreconditionFailed),
)
async def discard_plan(
    plan_id: uuid.UUID, session: DbSession, principal: Planner, if_match: IfMatch = None
) -> PlanRead:
    return await CoverageService(session).decide(
        plan_id, accept=False, if_match=if_match, by=principal
    )


routers = [coverage]
