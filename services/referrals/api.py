"""Routes of the referrals service: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response, status

from services.common.auth import CurrentPrincipal
from services.common.db import DbSession
from services.common.errors import problem_responses
from services.common.pagination import Page, Paging, make_page
from services.referrals.enums import LeadStatus
from services.referrals.errors import LeadNotFound
from services.referrals.repository import LeadRepository
from services.referrals.schemas import LeadCreate, LeadRead
from services.referrals.service import LeadService

leads = APIRouter(prefix="/api/v1/leads", tags=["leads"])


@leads.post("", status_code=status.HTTP_201_CREATED, summary="登记问题线索 Register a lead")
async def create_lead(
    body: LeadCreate, session: DbSession, principal: CurrentPrincipal, response: Response
) -> LeadRead:
    lead = await LeadService(session).create(body, principal)
    response.headers["Location"] = f"/api/v1/leads/{lead.id}"
    return LeadRead.model_validate(lead)


@leads.get(
    "/{lead_id}", summary="查看问题线索 Read a lead", responses=problem_responses(LeadNotFound)
)
async def get_lead(lead_id: uuid.UUID, session: DbSession, _: CurrentPrincipal) -> LeadRead:
    return LeadRead.model_validate(await LeadService(session).get(lead_id))


@leads.get("", summary="问题线索列表 List leads")
async def list_leads(
    session: DbSession,
    _: CurrentPrincipal,
    paging: Paging,
    finding_id: uuid.UUID | None = None,
    status: LeadStatus | None = None,
    updated_since: datetime | None = None,
) -> Page[LeadRead]:
    rows = await LeadRepository(session).list(
        paging,
        finding_id=finding_id,
        status=status.value if status else None,
        updated_since=updated_since,
    )
    return make_page(rows, paging, LeadRead)


routers = [leads]
