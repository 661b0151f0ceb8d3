"""Routes of the findings service: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response, status

from services.common.auth import CurrentPrincipal
from services.common.db import DbSession
from services.common.errors import problem_responses
from services.common.pagination import Page, Paging, make_page
from services.findings.enums import FindingStatus
from services.findings.errors import FindingNotFound
from services.findings.repository import FindingRepository
from services.findings.schemas import FindingCreate, FindingRead
from services.findings.service import FindingService

findings = APIRouter(prefix="/api/v1/findings", tags=["findings"])


@findings.post("", status_code=status.HTTP_201_CREATED, summary="登记问题 Record a finding")
async def create_finding(
    body: FindingCreate, session: DbSession, principal: CurrentPrincipal, response: Response
) -> FindingRead:
    finding = await FindingService(session).create(body, principal)
    response.headers["Location"] = f"/api/v1/findings/{finding.id}"
    return FindingRead.model_validate(finding)


@findings.get(
    "/{finding_id}", summary="查看问题 Read a finding", responses=problem_responses(FindingNotFound)
)
async def get_finding(
    finding_id: uuid.UUID, session: DbSession, _: CurrentPrincipal
) -> FindingRead:
    return FindingRead.model_validate(await FindingService(session).get(finding_id))


@findings.get("", summary="问题列表 List findings")
async def list_findings(
    session: DbSession,
    _: CurrentPrincipal,
    paging: Paging,
    target_id: uuid.UUID | None = None,
    status: FindingStatus | None = None,
    updated_since: datetime | None = None,
) -> Page[FindingRead]:
    rows = await FindingRepository(session).list(
        paging,
        target_id=target_id,
        status=status.value if status else None,
        updated_since=updated_since,
    )
    return make_page(rows, paging, FindingRead)


routers = [findings]
