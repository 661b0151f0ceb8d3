"""Routes of the target registry (巡察对象库): parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile, status

from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import PreconditionFailed, problem_responses
from services.common.fields import UpdatedSince
from services.common.pagination import Page, Paging, make_page
from services.common.tombstones import deleted_since
from services.rounds.enums import RiskClass, TargetKind
from services.rounds.models import tombstones
from services.rounds.registry.errors import (
    ImportRejected,
    ParentTargetInvalid,
    TargetAlreadyExists,
    TargetInUse,
    TargetNotFound,
)
from services.rounds.registry.importer import TargetImport
from services.rounds.registry.repository import TargetRepository
from services.rounds.registry.schemas import ImportReport, TargetCreate, TargetRead, TargetUpdate
from services.rounds.registry.service import ENTITY, TargetService

targets = APIRouter(prefix="/api/v1/targets", tags=["targets"])
Planner = Annotated[Principal, Depends(require_roles("office", "admin"))]


def _read(target: object, response: Response) -> TargetRead:
    read = TargetRead.model_validate(target)
    set_etag(response, read.version)
    return read


@targets.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="登记巡察对象 Register an inspection target",
    responses=problem_responses(TargetAlreadyExists, ParentTargetInvalid),
)
async def create_target(
    body: TargetCreate, session: DbSession, principal: Planner, response: Response
) -> TargetRead:
    target = await TargetService(session).create(body, principal)
    response.headers["Location"] = f"/api/v1/targets/{target.id}"
    return _read(target, response)


@targets.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    summary="批量导入巡察对象 Import targets from CSV or XLSX",
    description=(
        "Columns (Chinese or English headers): 名称/name, 类别/kind (code or Chinese label), "
        "辖区/jurisdiction, 上级单位/parent (a unit's name, in the file or already registered), "
        "风险等级/risk_class. CSV may be UTF-8 (with or without BOM) or GB18030/GBK, comma or "
        "tab separated. By default any bad row rejects the whole file (422 listing every bad "
        "row); with `partial=true` good rows are imported and the bad ones reported."
    ),
    responses=problem_responses(ImportRejected),
)
async def import_targets(
    session: DbSession,
    principal: Planner,
    file: Annotated[UploadFile, File(description="CSV or XLSX")],
    partial: Annotated[bool, Query(description="import the good rows, report the bad")] = False,
) -> ImportReport:
    importer = TargetImport(TargetRepository(session), principal)
    return await importer.run(file.file, file.filename or "", partial=partial)


@targets.get(
    "/{target_id}",
    summary="查看巡察对象 Read a target",
    responses=problem_responses(TargetNotFound),
)
async def get_target(
    target_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> TargetRead:
    return _read(await TargetService(session).get(target_id, principal), response)


@targets.patch(
    "/{target_id}",
    summary="修改巡察对象 Change a target",
    responses=problem_responses(TargetNotFound, TargetAlreadyExists, ParentTargetInvalid,
                                PreconditionFailed),
)  # fmt: skip
async def update_target(
    target_id: uuid.UUID,
    body: TargetUpdate,
    session: DbSession,
    principal: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> TargetRead:
    target = await TargetService(session).update(target_id, body, if_match, principal)
    return _read(target, response)


@targets.delete(
    "/{target_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除巡察对象 Delete a target",
    responses=problem_responses(TargetNotFound, TargetInUse, PreconditionFailed),
)
async def delete_target(
    target_id: uuid.UUID, session: DbSession, principal: Planner, if_match: IfMatch = None
) -> None:
    await TargetService(session).delete(target_id, if_match, principal)


@targets.get("", summary="巡察对象列表 List targets")
async def list_targets(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    kind: TargetKind | None = None,
    jurisdiction: Annotated[str | None, Query(max_length=100)] = None,
    parent_id: Annotated[
        uuid.UUID | None, Query(description="e.g. the villages of a township")
    ] = None,
    risk_class: RiskClass | None = None,
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    updated_since: UpdatedSince = None,
) -> Page[TargetRead]:
    rows = await TargetRepository(session).search(
        paging,
        principal,
        kind=kind.value if kind else None,
        jurisdiction=jurisdiction,
        parent_id=parent_id,
        risk_class=risk_class.value if risk_class else None,
        name_contains=q,
        updated_since=updated_since,
    )
    page = make_page(rows, paging, TargetRead)
    if updated_since is not None and paging.cursor is None:
        page.deleted = await deleted_since(session, tombstones, ENTITY, updated_since)
    return page


routers = [targets]
