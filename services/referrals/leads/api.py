"""Routes of leads (问题线索) and of the receivers list: parse, call the service, shape the
response. Who sees what: services/referrals/access.py."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.common.auth import Principal, require_roles
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import (
    Forbidden,
    PreconditionFailed,
    PreconditionRequired,
    problem_responses,
)
from services.common.fields import UpdatedSince
from services.common.gateway_client import Gateway
from services.common.pagination import Page, Paging, encode_cursor, make_page
from services.common.tombstones import deleted_since
from services.referrals import access
from services.referrals.access import Caller, CurrentCaller
from services.referrals.enums import LeadRecipient, LeadStatus
from services.referrals.errors import ReferenceInvalid
from services.referrals.leads.errors import (
    CaseNeedsVerification,
    IllegalLeadTransition,
    LeadIncomplete,
    LeadNotEditable,
    LeadNotFound,
    LeadStepInvalid,
    LetterNumberTaken,
    ReceiverNotFound,
)
from services.referrals.leads.repository import LeadRepository, ReceiverRepository
from services.referrals.leads.schemas import (
    LeadCreate,
    LeadRead,
    LeadTransitionCreate,
    LeadUpdate,
    ReceiverIn,
    ReceiverRead,
)
from services.referrals.leads.service import LEAD, LeadService, ReceiverService
from services.referrals.models import Lead, tombstones
from services.referrals.schemas import TransitionRead
from services.referrals.settings import Settings

Office = Annotated[Principal, Depends(require_roles(*access.OFFICE))]


def _office_caller(principal: Office) -> Caller:
    return Caller(principal)


OfficeCaller = Annotated[Caller, Depends(_office_caller)]
LeadId = Annotated[uuid.UUID, Path(description="线索 id")]


async def _one(service: LeadService, lead: Lead, caller: Caller, response: Response) -> LeadRead:
    set_etag(response, lead.version)
    return (await service.present([lead], caller))[0]


# ---- receivers (线索承办人): declared before /{lead_id} so their paths win ----

receivers = APIRouter(prefix="/api/v1/leads/receivers", tags=["receivers"])


@receivers.get("", summary="线索承办人列表 List receivers")
async def list_receivers(
    session: DbSession, _: Office, paging: Paging, recipient: LeadRecipient | None = None
) -> Page[ReceiverRead]:
    rows = await ReceiverRepository(session).search(paging, recipient.value if recipient else None)
    return make_page(rows, paging, ReceiverRead)


@receivers.get(
    "/{user_id}",
    summary="查看线索承办人 Read a receiver",
    responses=problem_responses(Forbidden, ReceiverNotFound),
)
async def get_receiver(
    user_id: uuid.UUID, session: DbSession, _: Office, response: Response
) -> ReceiverRead:
    found = await ReceiverService(session).get(user_id)
    set_etag(response, found.version)
    return ReceiverRead.model_validate(found)


@receivers.put(
    "/{user_id}",
    summary="指定线索承办人 Make a user a receiver of a recipient body",
    description="A user with the `receiver` role sees the leads transferred to this body. "
    "Creates (201) or replaces (200); If-Match is honoured on a replacement.",
    responses={
        201: {"model": ReceiverRead, "description": "Created: the user was not a receiver yet"},
        **problem_responses(Forbidden, PreconditionFailed),
    },
)
async def put_receiver(
    user_id: uuid.UUID,
    body: ReceiverIn,
    session: DbSession,
    principal: Office,
    response: Response,
    if_match: IfMatch = None,
) -> ReceiverRead:
    row, created = await ReceiverService(session).put(user_id, body, if_match, principal)
    if created:
        response.status_code = status.HTTP_201_CREATED
    set_etag(response, row.version)
    return ReceiverRead.model_validate(row)


@receivers.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="取消线索承办人 Remove a receiver",
    responses=problem_responses(
        Forbidden, ReceiverNotFound, PreconditionFailed, PreconditionRequired
    ),
)
async def delete_receiver(
    user_id: uuid.UUID, session: DbSession, _: Office, if_match: IfMatch = None
) -> None:
    await ReceiverService(session).delete(user_id, if_match)


# ---- leads (问题线索) ----

leads = APIRouter(prefix="/api/v1/leads", tags=["leads"])


@leads.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="登记问题线索 Register a lead",
    description="From one or more findings (each must exist and be confirmed by its group's "
    "leader: 422 naming `finding_ids.<n>`); each confirmed finding then moves to handed over "
    "(已移交) in the findings service, which learns of this record by its event. "
    "The lead starts as a draft; its round is `round_id` or the findings' common round.",
    responses=problem_responses(Forbidden, ReferenceInvalid),
)
async def create_lead(
    body: LeadCreate,
    session: DbSession,
    caller: OfficeCaller,
    gateway: Gateway,
    response: Response,
) -> LeadRead:
    service = LeadService(session)
    lead = await service.create(body, caller.principal, gateway)
    response.headers["Location"] = f"/api/v1/leads/{lead.id}"
    return await _one(service, lead, caller, response)


@leads.get(
    "",
    summary="问题线索列表 List leads",
    description="The leads the caller may see, each in the caller's read model (`view`: "
    "`full` for the office and the lead's receiver, `follow_up` for a group leader; see "
    "LeadRead). With `updated_since`, every lead changed at or after that instant (a lead "
    "changed exactly then may come back twice).",
)
async def list_leads(
    session: DbSession,
    caller: CurrentCaller,
    paging: Paging,
    finding_id: uuid.UUID | None = None,
    status: LeadStatus | None = None,
    recipient: LeadRecipient | None = None,
    round_id: uuid.UUID | None = None,
    overdue: Annotated[bool | None, Query(description="逾期未办结")] = None,
    updated_since: UpdatedSince = None,
) -> Page[LeadRead]:
    rows = await LeadRepository(session).search(
        paging,
        caller,
        finding_id=finding_id,
        status=status.value if status else None,
        recipient=recipient.value if recipient else None,
        round_id=round_id,
        overdue=overdue,
        updated_since=updated_since,
    )
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    page = Page[LeadRead](
        items=await LeadService(session).present(rows, caller),
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None,
    )
    # Only drafts can be deleted, and only the office ever saw one.
    if updated_since is not None and paging.cursor is None and access.is_office(caller.principal):
        page.deleted = await deleted_since(session, tombstones, LEAD, updated_since)
    return page


@leads.get(
    "/{lead_id}",
    summary="查看问题线索 Read a lead",
    description="In the caller's read model (`view`; see LeadRead): a group leader following "
    "the findings of their group sees where the lead stands, not whom it is about.",
    responses=problem_responses(LeadNotFound),
)
async def get_lead(
    lead_id: LeadId, session: DbSession, caller: CurrentCaller, response: Response
) -> LeadRead:
    service = LeadService(session)
    return await _one(service, await service.get(lead_id, caller), caller, response)


@leads.patch(
    "/{lead_id}",
    summary="修改问题线索 Change a lead",
    description="If-Match is required. Title and summary until transfer; recipient and "
    "subjects (replaced as a whole) while a draft; `feedback_due` after transfer, never before "
    "the transfer day (422 naming `feedback_due`).",
    responses=problem_responses(
        Forbidden,
        LeadNotFound,
        LeadNotEditable,
        LeadStepInvalid,
        PreconditionFailed,
        PreconditionRequired,
    ),
)
async def update_lead(
    lead_id: LeadId,
    body: LeadUpdate,
    session: DbSession,
    caller: OfficeCaller,
    response: Response,
    if_match: IfMatch = None,
) -> LeadRead:
    service = LeadService(session)
    lead = await service.update(lead_id, body, if_match, caller)
    return await _one(service, lead, caller, response)


@leads.delete(
    "/{lead_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除线索草稿 Delete a draft lead",
    responses=problem_responses(
        Forbidden, LeadNotFound, LeadNotEditable, PreconditionFailed, PreconditionRequired
    ),
)
async def delete_lead(
    lead_id: LeadId, session: DbSession, caller: OfficeCaller, if_match: IfMatch = None
) -> None:
    await LeadService(session).delete(lead_id, if_match, caller)


@leads.post(
    "/{lead_id}/transitions",
    status_code=status.HTTP_201_CREATED,
    summary="线索流转 Move a lead to its next state",
    description="draft → approved → transferred → received → handling → case_filed → "
    "concluded (handling may conclude without a case; approved may go back to draft). Any "
    "other move is 409 `illegal-lead-transition` whose `allowed` lists the legal next states. "
    "Approval, withdrawal and transfer are the office's; the other steps the receiver's (a "
    "`receiver` of the lead's recipient body) or the office's, recording a paper feedback. "
    "Anyone else who sees the lead (a group leader) is 403; who does not see it, 404. "
    "`transferred_on` lies between the day the lead was registered and today (Asia/Shanghai). "
    "If-Match is honoured when sent.",
    responses=problem_responses(
        Forbidden,
        LeadNotFound,
        IllegalLeadTransition,
        LeadIncomplete,
        LetterNumberTaken,
        CaseNeedsVerification,
        LeadStepInvalid,
        PreconditionFailed,
    ),
)
async def create_lead_transition(
    lead_id: LeadId,
    body: LeadTransitionCreate,
    session: DbSession,
    caller: CurrentCaller,
    settings: Settings,
    response: Response,
    if_match: IfMatch = None,
) -> TransitionRead:
    moved = await LeadService(session).transition(
        lead_id, body, if_match, caller, settings.feedback_months
    )
    response.headers["Location"] = f"/api/v1/leads/{lead_id}/transitions"
    return TransitionRead.model_validate(moved)


@leads.get(
    "/{lead_id}/transitions",
    summary="线索流转记录 A lead's state history",
    description="In the follow-up view (a group leader) the notes are withheld (null).",
    responses=problem_responses(LeadNotFound),
)
async def list_lead_transitions(
    lead_id: LeadId, session: DbSession, caller: CurrentCaller, paging: Paging
) -> Page[TransitionRead]:
    service = LeadService(session)
    shown = await service.handles(await service.get(lead_id, caller), caller)
    rows = await LeadRepository(session).transitions(lead_id, paging)
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    items = [TransitionRead.model_validate(r) for r in rows]
    if not shown:
        items = [t.model_copy(update={"note": None}) for t in items]
    return Page[TransitionRead](
        items=items,
        next_cursor=encode_cursor(rows[-1].at, rows[-1].id) if more and rows else None,
    )


routers: list[APIRouter] = [receivers, leads]
