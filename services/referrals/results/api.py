"""Routes of suggestions (意见建议) and rules established (建立健全制度): the office records
them; the office, the higher-level office and other services read them."""

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
from services.common.pagination import Page, Paging, encode_cursor
from services.common.tombstones import deleted_since
from services.referrals import access
from services.referrals.enums import Adoption
from services.referrals.errors import ReferenceInvalid
from services.referrals.models import EstablishedRule, Suggestion, tombstones
from services.referrals.results.errors import (
    ResultInvalid,
    RuleNotFound,
    SuggestionInUse,
    SuggestionNotFound,
)
from services.referrals.results.repository import RuleRepository, SuggestionRepository
from services.referrals.results.schemas import (
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SuggestionCreate,
    SuggestionRead,
    SuggestionUpdate,
)
from services.referrals.results.service import RULE, SUGGESTION, RuleService, SuggestionService

Office = Annotated[Principal, Depends(require_roles(*access.OFFICE))]
Reader = Annotated[Principal, Depends(require_roles(*access.RESULT_READERS))]
SuggestionId = Annotated[uuid.UUID, Path(description="意见建议 id")]
RuleId = Annotated[uuid.UUID, Path(description="制度建设记录 id")]
RoundFilter = Annotated[uuid.UUID | None, Query(description="巡察轮次")]
TargetFilter = Annotated[uuid.UUID | None, Query(description="巡察对象")]
FindingFilter = Annotated[uuid.UUID | None, Query(description="来源问题")]
WRITE_PROBLEMS = (Forbidden, ReferenceInvalid)
CHANGE_PROBLEMS = (Forbidden, PreconditionFailed, PreconditionRequired)


def _cursor(rows: list[Suggestion] | list[EstablishedRule], more: bool) -> str | None:
    return encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None


# ---- suggestions (意见建议) ----

suggestions = APIRouter(prefix="/api/v1/suggestions", tags=["suggestions"])


@suggestions.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="登记意见建议 Record a suggestion",
    description="Of a round (422 naming `round_id` if the rounds service has no such round), "
    "optionally about a target and findings of that round (422 naming the field otherwise).",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def create_suggestion(
    body: SuggestionCreate,
    session: DbSession,
    principal: Office,
    gateway: Gateway,
    response: Response,
) -> SuggestionRead:
    service = SuggestionService(session)
    row = await service.create(body, principal, gateway)
    response.headers["Location"] = f"/api/v1/suggestions/{row.id}"
    set_etag(response, row.version)
    return (await service.present([row]))[0]


@suggestions.get(
    "", summary="意见建议列表 List suggestions", responses=problem_responses(Forbidden)
)
async def list_suggestions(
    session: DbSession,
    _: Reader,
    paging: Paging,
    round_id: RoundFilter = None,
    target_id: TargetFilter = None,
    finding_id: FindingFilter = None,
    adoption: Annotated[Adoption | None, Query(description="采纳情况")] = None,
    updated_since: UpdatedSince = None,
) -> Page[SuggestionRead]:
    rows = list(
        await SuggestionRepository(session).search(
            paging,
            round_id=round_id,
            target_id=target_id,
            finding_id=finding_id,
            adoption=adoption.value if adoption else None,
            updated_since=updated_since,
        )
    )
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    page = Page[SuggestionRead](
        items=await SuggestionService(session).present(rows), next_cursor=_cursor(rows, more)
    )
    if updated_since is not None and paging.cursor is None:
        page.deleted = await deleted_since(session, tombstones, SUGGESTION, updated_since)
    return page


@suggestions.get(
    "/{suggestion_id}",
    summary="查看意见建议 Read a suggestion",
    responses=problem_responses(Forbidden, SuggestionNotFound),
)
async def get_suggestion(
    suggestion_id: SuggestionId, session: DbSession, _: Reader, response: Response
) -> SuggestionRead:
    service = SuggestionService(session)
    row = await service.get(suggestion_id)
    set_etag(response, row.version)
    return (await service.present([row]))[0]


@suggestions.patch(
    "/{suggestion_id}",
    summary="修改意见建议、登记采纳情况 Change a suggestion or record its adoption",
    description="If-Match is required (428 without, 412 if stale). The round is fixed.",
    responses=problem_responses(*WRITE_PROBLEMS, SuggestionNotFound, *CHANGE_PROBLEMS),
)
async def update_suggestion(
    suggestion_id: SuggestionId,
    body: SuggestionUpdate,
    session: DbSession,
    _: Office,
    gateway: Gateway,
    response: Response,
    if_match: IfMatch = None,
) -> SuggestionRead:
    service = SuggestionService(session)
    row = await service.update(suggestion_id, body, if_match, gateway)
    set_etag(response, row.version)
    return (await service.present([row]))[0]


@suggestions.delete(
    "/{suggestion_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除意见建议 Delete a suggestion",
    description="If-Match is required. 409 while rules established cite it.",
    responses=problem_responses(SuggestionNotFound, SuggestionInUse, *CHANGE_PROBLEMS),
)
async def delete_suggestion(
    suggestion_id: SuggestionId, session: DbSession, _: Office, if_match: IfMatch = None
) -> None:
    await SuggestionService(session).delete(suggestion_id, if_match)


# ---- rules established (建立健全制度) ----

rules = APIRouter(prefix="/api/v1/rules", tags=["rules"])


@rules.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="登记建立健全制度 Record a rule established",
    description="Of a round (422 naming `round_id` if the rounds service has no such round), "
    "optionally by a target, from findings and suggestions of that round (422 naming the "
    "field otherwise).",
    responses=problem_responses(*WRITE_PROBLEMS, ResultInvalid),
)
async def create_rule(
    body: RuleCreate,
    session: DbSession,
    principal: Office,
    gateway: Gateway,
    response: Response,
) -> RuleRead:
    service = RuleService(session)
    row = await service.create(body, principal, gateway)
    response.headers["Location"] = f"/api/v1/rules/{row.id}"
    set_etag(response, row.version)
    return (await service.present([row]))[0]


@rules.get(
    "", summary="建立健全制度列表 List rules established", responses=problem_responses(Forbidden)
)
async def list_rules(
    session: DbSession,
    _: Reader,
    paging: Paging,
    round_id: RoundFilter = None,
    target_id: TargetFilter = None,
    finding_id: FindingFilter = None,
    suggestion_id: Annotated[uuid.UUID | None, Query(description="依据的意见建议")] = None,
    updated_since: UpdatedSince = None,
) -> Page[RuleRead]:
    rows = list(
        await RuleRepository(session).search(
            paging,
            round_id=round_id,
            target_id=target_id,
            finding_id=finding_id,
            suggestion_id=suggestion_id,
            updated_since=updated_since,
        )
    )
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    page = Page[RuleRead](
        items=await RuleService(session).present(rows), next_cursor=_cursor(rows, more)
    )
    if updated_since is not None and paging.cursor is None:
        page.deleted = await deleted_since(session, tombstones, RULE, updated_since)
    return page


@rules.get(
    "/{rule_id}",
    summary="查看建立健全制度 Read a rule established",
    responses=problem_responses(Forbidden, RuleNotFound),
)
async def get_rule(rule_id: RuleId, session: DbSession, _: Reader, response: Response) -> RuleRead:
    service = RuleService(session)
    row = await service.get(rule_id)
    set_etag(response, row.version)
    return (await service.present([row]))[0]


@rules.patch(
    "/{rule_id}",
    summary="修改建立健全制度 Change a rule established",
    description="If-Match is required (428 without, 412 if stale). The round is fixed.",
    responses=problem_responses(*WRITE_PROBLEMS, ResultInvalid, RuleNotFound, *CHANGE_PROBLEMS),
)
async def update_rule(
    rule_id: RuleId,
    body: RuleUpdate,
    session: DbSession,
    _: Office,
    gateway: Gateway,
    response: Response,
    if_match: IfMatch = None,
) -> RuleRead:
    service = RuleService(session)
    row = await service.update(rule_id, body, if_match, gateway)
    set_etag(response, row.version)
    return (await service.present([row]))[0]


@rules.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除建立健全制度 Delete a rule established",
    description="If-Match is required.",
    responses=problem_responses(RuleNotFound, *CHANGE_PROBLEMS),
)
async def delete_rule(
    rule_id: RuleId, session: DbSession, _: Office, if_match: IfMatch = None
) -> None:
    await RuleService(session).delete(rule_id, if_match)


routers: list[APIRouter] = [suggestions, rules]
