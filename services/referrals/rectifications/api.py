"""Routes of rectification items (整改事项) and escalation notices (督办提醒): parse, call the
service, shape the response. Who sees what: services/referrals/access.py."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.common.auth import CurrentPrincipal, Principal, require_roles
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
from services.common.pagination import Page, PageParams, Paging, encode_cursor, make_page
from services.referrals import access
from services.referrals.dates import Today
from services.referrals.enums import RectificationStatus
from services.referrals.errors import ReferenceInvalid
from services.referrals.models import RectificationItem
from services.referrals.rectifications.errors import (
    IllegalRectificationTransition,
    RectificationClosed,
    RectificationNotFound,
    RectificationStepInvalid,
)
from services.referrals.rectifications.repository import NoticeRepository, RectificationRepository
from services.referrals.rectifications.schemas import (
    EscalationResult,
    EscalationRun,
    NoticeRead,
    ProgressCreate,
    ProgressRead,
    RectificationCreate,
    RectificationRead,
    RectificationTransitionCreate,
    RectificationUpdate,
)
from services.referrals.rectifications.service import EscalationService, RectificationService
from services.referrals.schemas import TransitionRead
from services.referrals.settings import Settings

Office = Annotated[Principal, Depends(require_roles(*access.OFFICE))]
Escalator = Annotated[Principal, Depends(require_roles(*access.OFFICE, "service"))]
ItemId = Annotated[uuid.UUID, Path(description="整改事项 id")]

items = APIRouter(prefix="/api/v1/rectifications", tags=["rectifications"])


async def _one(
    service: RectificationService, item: RectificationItem, response: Response
) -> RectificationRead:
    set_etag(response, item.version)
    return (await service.present([item]))[0]


def _page_of(
    rows: list[ProgressRead] | list[TransitionRead], more: bool, params: PageParams
) -> str | None:
    return encode_cursor(rows[-1].at, rows[-1].id) if more and rows else None


@items.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="交办整改事项 Hand over a rectification item",
    description="From one or more findings (each must exist and be confirmed by its group's "
    "leader: 422 naming `finding_ids.<n>`); each confirmed finding then moves to handed over "
    "(已移交) in the findings service, which learns of this record by its event.",
    responses=problem_responses(Forbidden, ReferenceInvalid, RectificationStepInvalid),
)
async def create_rectification(
    body: RectificationCreate,
    session: DbSession,
    principal: Office,
    gateway: Gateway,
    response: Response,
) -> RectificationRead:
    service = RectificationService(session)
    item = await service.create(body, principal, gateway)
    response.headers["Location"] = f"/api/v1/rectifications/{item.id}"
    return await _one(service, item, response)


@items.get("", summary="整改事项列表 List rectification items")
async def list_rectifications(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    finding_id: uuid.UUID | None = None,
    status: RectificationStatus | None = None,
    round_id: uuid.UUID | None = None,
    overdue: Annotated[bool | None, Query(description="逾期未销号")] = None,
    updated_since: UpdatedSince = None,
) -> Page[RectificationRead]:
    rows = await RectificationRepository(session).search(
        paging,
        principal,
        finding_id=finding_id,
        status=status.value if status else None,
        round_id=round_id,
        overdue=overdue,
        updated_since=updated_since,
    )
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    return Page[RectificationRead](
        items=await RectificationService(session).present(rows),
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None,
    )


@items.get(
    "/{item_id}",
    summary="查看整改事项 Read a rectification item",
    responses=problem_responses(RectificationNotFound),
)
async def get_rectification(
    item_id: ItemId, session: DbSession, principal: CurrentPrincipal, response: Response
) -> RectificationRead:
    service = RectificationService(session)
    return await _one(service, await service.get(item_id, principal), response)


@items.patch(
    "/{item_id}",
    summary="修改整改事项 Change a rectification item",
    description="If-Match is required. Not once signed off (reopen it first).",
    responses=problem_responses(
        Forbidden,
        RectificationNotFound,
        RectificationClosed,
        RectificationStepInvalid,
        PreconditionFailed,
        PreconditionRequired,
    ),
)
async def update_rectification(
    item_id: ItemId,
    body: RectificationUpdate,
    session: DbSession,
    principal: Office,
    response: Response,
    if_match: IfMatch = None,
) -> RectificationRead:
    service = RectificationService(session)
    item = await service.update(item_id, body, if_match, principal)
    return await _one(service, item, response)


@items.post(
    "/{item_id}/progress",
    status_code=status.HTTP_201_CREATED,
    summary="报告整改进展 Report progress",
    description="By the item's owner (matched by `owner_user_id`) or the office.",
    responses=problem_responses(Forbidden, RectificationNotFound, RectificationClosed),
)
async def report_progress(
    item_id: ItemId, body: ProgressCreate, session: DbSession, principal: CurrentPrincipal
) -> ProgressRead:
    return ProgressRead.model_validate(
        await RectificationService(session).report(item_id, body, principal)
    )


@items.get(
    "/{item_id}/progress",
    summary="整改进展记录 Progress reports",
    responses=problem_responses(RectificationNotFound),
)
async def list_progress(
    item_id: ItemId, session: DbSession, principal: CurrentPrincipal, paging: Paging
) -> Page[ProgressRead]:
    await RectificationService(session).get(item_id, principal)
    rows = await RectificationRepository(session).progress(item_id, paging)
    more = len(rows) > paging.limit
    out = [ProgressRead.model_validate(r) for r in rows[: paging.limit]]
    return Page[ProgressRead](items=out, next_cursor=_page_of(out, more, paging))


@items.post(
    "/{item_id}/transitions",
    status_code=status.HTTP_201_CREATED,
    summary="申请销号、销号、退回、回头看重新整改 Move an item",
    description="open/sent_back/reopened → completion_requested (owner or office) → "
    "signed_off (销号, office) or sent_back (office, reason in `note`); signed_off → reopened "
    "(回头看, office, reason, optional new `deadline`). Any other move is 409 with `allowed`.",
    responses=problem_responses(
        Forbidden,
        RectificationNotFound,
        IllegalRectificationTransition,
        RectificationStepInvalid,
        PreconditionFailed,
    ),
)
async def create_rectification_transition(
    item_id: ItemId,
    body: RectificationTransitionCreate,
    session: DbSession,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> TransitionRead:
    moved = await RectificationService(session).transition(item_id, body, if_match, principal)
    return TransitionRead.model_validate(moved)


@items.get(
    "/{item_id}/transitions",
    summary="整改事项流转记录 An item's state history",
    responses=problem_responses(RectificationNotFound),
)
async def list_rectification_transitions(
    item_id: ItemId, session: DbSession, principal: CurrentPrincipal, paging: Paging
) -> Page[TransitionRead]:
    await RectificationService(session).get(item_id, principal)
    rows = await RectificationRepository(session).transitions(item_id, paging)
    more = len(rows) > paging.limit
    out = [TransitionRead.model_validate(r) for r in rows[: paging.limit]]
    return Page[TransitionRead](items=out, next_cursor=_page_of(out, more, paging))


# ---- escalation notices (督办提醒) ----

notices = APIRouter(prefix="/api/v1/notices", tags=["notices"])


@notices.post(
    "/escalations",
    summary="运行逾期督办检查 Run the escalation check",
    description="Issues, for the day `on` (default today, Asia/Shanghai), every notice of the "
    "configured ladder (REFERRALS_ESCALATION_LADDER; by default 20 days before the deadline "
    "to the owner, 10 days before to the leader in charge, once overdue to the unit head) "
    "that open items have reached. Idempotent: a notice is issued once per item, rung and "
    "deadline however often this runs. Meant for a daily scheduler.\n\n"
    "`on` may not be later than today (422 naming `on`): a run for a future day would use up "
    "rungs that are then never issued on the day they are due. An earlier day is allowed, to "
    "catch up a day the scheduler missed: it issues what was due that day (dated that day), "
    "for the items handed over by then; a rung it issues would be issued by today's run "
    "anyway, since the days left only ever shrink.",
    responses=problem_responses(Forbidden, RectificationStepInvalid),
)
async def run_escalations(
    body: EscalationRun, session: DbSession, _: Escalator, settings: Settings, day: Today
) -> EscalationResult:
    day, created = await EscalationService(session).run(
        body.on, settings.escalation_ladder, today=day
    )
    return EscalationResult(on=day, created=[NoticeRead.model_validate(n) for n in created])


@notices.get("", summary="督办提醒列表 List notices")
async def list_notices(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    item_id: uuid.UUID | None = None,
) -> Page[NoticeRead]:
    rows = await NoticeRepository(session).search(paging, principal, item_id)
    return make_page(rows, paging, NoticeRead)


routers: list[APIRouter] = [items, notices]
