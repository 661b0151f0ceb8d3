"""Routes of the rounds service: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.common.auth import CurrentPrincipal
from services.common.db import DbSession
from services.common.errors import problem_responses
from services.common.pagination import Page, Paging, make_page
from services.rounds.enums import TargetKind
from services.rounds.registry.errors import ParentTargetInvalid, TargetAlreadyExists, TargetNotFound
from services.rounds.registry.repository import TargetRepository
from services.rounds.registry.schemas import TargetCreate, TargetRead
from services.rounds.registry.service import TargetService

targets = APIRouter(prefix="/api/v1/targets", tags=["targets"])


@targets.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="登记巡察对象 Register an inspection target",
    responses=problem_responses(TargetAlreadyExists, ParentTargetInvalid),
)
async def create_target(
    body: TargetCreate, session: DbSession, principal: CurrentPrincipal, response: Response
) -> TargetRead:
    target = await TargetService(session).create(body, principal)
    response.headers["Location"] = f"/api/v1/targets/{target.id}"
    return TargetRead.model_validate(target)


@targets.get(
    "/{target_id}",
    summary="查看巡察对象 Read a target",
    responses=problem_responses(TargetNotFound),
)
async def get_target(target_id: uuid.UUID, session: DbSession, _: CurrentPrincipal) -> TargetRead:
    return TargetRead.model_validate(await TargetService(session).get(target_id))


@targets.get("", summary="巡察对象列表 List targets")
async def list_targets(
    session: DbSession,
    _: CurrentPrincipal,
    paging: Paging,
    kind: TargetKind | None = None,
    jurisdiction: Annotated[str | None, Query(max_length=100)] = None,
    parent_id: uuid.UUID | None = None,
    updated_since: datetime | None = None,
) -> Page[TargetRead]:
    rows = await TargetRepository(session).list(
        paging,
        kind=kind.value if kind else None,
        jurisdiction=jurisdiction,
        parent_id=parent_id,
        updated_since=updated_since,
    )
    return make_page(rows, paging, TargetRead)


routers = [targets]
