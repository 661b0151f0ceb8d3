"""Route of the statistics (统计). Declared before /api/v1/leads/{lead_id} so its path wins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.auth import Principal, require_roles
from services.common.db import DbSession
from services.common.errors import Forbidden, problem_responses
from services.referrals import access
from services.referrals.stats.schemas import Stats
from services.referrals.stats.service import stats

Reader = Annotated[Principal, Depends(require_roles(*access.STATS_READERS))]

router = APIRouter(prefix="/api/v1/leads/stats", tags=["stats"])


@router.get(
    "",
    summary="移交督办统计 Hand-over statistics",
    description="Leads handed over (by recipient body), the four handlings, cases filed, "
    "persons sanctioned by kind, money recovered, rectification items, suggestions and rules "
    "established, for the rounds named (`round_id`, repeatable) or for all records; with the "
    "office's summary sentence and reconciliation checks (a failing check is reported with "
    "`ok: false`, the figures are never adjusted). For the office, the higher-level office "
    "and services.\n\n"
    "A lead or rectification item made from findings of several rounds (its `round_id` is "
    "null) counts in every round one of its findings belongs to; several rounds asked together "
    "count it once, so rounds asked one by one may add up to more than the rounds together.",
    responses=problem_responses(Forbidden),
)
async def get_stats(
    session: DbSession,
    _: Reader,
    round_id: Annotated[
        list[uuid.UUID] | None,
        Query(max_length=500, description="巡察轮次（可重复）；不填则统计全部"),
    ] = None,
) -> Stats:
    return await stats(session, round_id or [])


routers: list[APIRouter] = [router]
