"""Routes of responsibility links (倒查) and unit portraits (素描像)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.common.errors import Forbidden, problem_responses
from services.common.pagination import Paging
from services.findings.api import Service
from services.findings.enums import DutyType
from services.findings.errors import FindingNotFound, ReferenceInvalid
from services.findings.schemas import LinkCreate, LinkRead, Portrait, TracedPage
from services.findings.tracing.errors import LinkExists, LinkNotFound, PortraitNotFound
from services.findings.tracing.service import TracingService

links = APIRouter(tags=["responsibility"])
portraits = APIRouter(prefix="/api/v1/portraits", tags=["portraits"])


def tracing_service(findings: Service) -> TracingService:
    return TracingService(findings)


Tracing = Annotated[TracingService, Depends(tracing_service)]


@links.post(
    "/api/v1/findings/{finding_id}/responsibility-links",
    status_code=status.HTTP_201_CREATED,
    summary="责任倒查 Trace a finding to a body that failed a duty",
    description="`body_id` is a target of rounds' registry (the township committee, the "
    "village work team's dispatching unit, a functional department …); 422 if it does not exist.",
    responses=problem_responses(FindingNotFound, ReferenceInvalid, LinkExists, Forbidden),
)
async def create_link(
    finding_id: uuid.UUID, body: LinkCreate, tracing: Tracing, response: Response
) -> LinkRead:
    link = await tracing.link(finding_id, body)
    response.headers["Location"] = f"/api/v1/findings/{finding_id}/responsibility-links/{link.id}"
    return LinkRead.model_validate(link)


@links.get(
    "/api/v1/findings/{finding_id}/responsibility-links",
    summary="问题的责任链 The bodies a finding traces back to",
    responses=problem_responses(FindingNotFound),
)
async def list_links(finding_id: uuid.UUID, tracing: Tracing) -> list[LinkRead]:
    return [LinkRead.model_validate(x) for x in await tracing.links_of(finding_id)]


@links.delete(
    "/api/v1/findings/{finding_id}/responsibility-links/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除责任倒查记录 Remove a responsibility link",
    responses=problem_responses(FindingNotFound, LinkNotFound, Forbidden),
)
async def delete_link(finding_id: uuid.UUID, link_id: uuid.UUID, tracing: Tracing) -> None:
    await tracing.unlink(finding_id, link_id)


@links.get(
    "/api/v1/responsibility-links",
    summary="倒查到某单位的问题 Every finding tracing back to a body, across rounds",
)
async def findings_tracing_to(
    tracing: Tracing,
    paging: Paging,
    target_id: Annotated[uuid.UUID, Query(description="the body (a target of rounds)")],
    duty: DutyType | None = None,
) -> TracedPage:
    return await tracing.tracing_to(target_id, paging, duty)


@portraits.get(
    "/{target_id}",
    summary="单位素描像 A unit's portrait across rounds",
    description="Findings at the unit by category and severity, open and closed, recurrences, "
    "money involved (exact), and the responsibility links pointing at it, over the findings "
    "you may see.",
    responses=problem_responses(PortraitNotFound),
)
async def get_portrait(target_id: uuid.UUID, tracing: Tracing) -> Portrait:
    return await tracing.portrait(target_id)


routers = [links, portraits]
