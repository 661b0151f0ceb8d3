"""Routes of findings: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

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
from services.common.pagination import Paging, encode_cursor, sync_watermark
from services.findings.access import CurrentScope
from services.findings.clients import RoundsClient
from services.findings.enums import FindingStatus, Severity
from services.findings.errors import (
    FindingNotEditable,
    FindingNotFound,
    NotAnExpert,
    NotGroupLeader,
    NotOffice,
    ReferenceInvalid,
    ReopeningNeedsReason,
    TransitionNotAllowed,
)
from services.findings.evidence.storage import Store
from services.findings.repository import FindingRepository
from services.findings.schemas import (
    BatchRequest,
    BatchResponse,
    ConsultationCreate,
    ConsultationRead,
    FindingCreate,
    FindingPage,
    FindingRead,
    FindingUpdate,
    TransitionCreate,
    TransitionRead,
)
from services.findings.service import FindingService

findings = APIRouter(prefix="/api/v1/findings", tags=["findings"])


def finding_service(session: DbSession, scope: CurrentScope, gateway: Gateway) -> FindingService:
    return FindingService(session, scope, RoundsClient(gateway))


Service = Annotated[FindingService, Depends(finding_service)]
WRITE = (FindingNotFound, FindingNotEditable, PreconditionFailed, PreconditionRequired, Forbidden)


def _shaped(read: FindingRead, response: Response) -> FindingRead:
    set_etag(response, read.version)
    return read


@findings.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="登记问题 Record a finding",
    description="The assignment (rounds) fixes the round, group and target; the category must be "
    "one of the round's. Send `Idempotency-Key`: a retry returns the first response.",
    responses=problem_responses(ReferenceInvalid),
)
async def create_finding(body: FindingCreate, service: Service, response: Response) -> FindingRead:
    read = await service.create(body)
    response.headers["Location"] = f"/api/v1/findings/{read.id}"
    return _shaped(read, response)


@findings.post(
    "/batch",
    summary="批量登记问题（离线队列） Record up to 500 findings, each with its own key",
    description="Each item is a finding plus `idempotency_key` (per user, kept 8 days). The "
    "answer has a result per item, in order: `created`, `replayed` (the key was seen before "
    "with the same finding: its first result) or `rejected` (422 with field errors, nothing "
    "stored for it). A bad item does not spoil the others.",
)
async def create_findings_batch(body: BatchRequest, service: Service) -> BatchResponse:
    return await service.batch(body)


@findings.get(
    "/{finding_id}", summary="查看问题 Read a finding", responses=problem_responses(FindingNotFound)
)
async def get_finding(finding_id: uuid.UUID, service: Service, response: Response) -> FindingRead:
    return _shaped(await service.read(await service.get(finding_id)), response)


@findings.patch(
    "/{finding_id}",
    summary="修改草稿问题 Change a draft finding",
    description="Requires `If-Match` with the ETag you read (428 without, 412 if stale).",
    responses=problem_responses(*WRITE, ReferenceInvalid),
)
async def update_finding(
    finding_id: uuid.UUID,
    body: FindingUpdate,
    service: Service,
    response: Response,
    if_match: IfMatch = None,
) -> FindingRead:
    return _shaped(await service.update(finding_id, body, if_match), response)


@findings.delete(
    "/{finding_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除草稿问题 Delete a draft finding",
    responses=problem_responses(*WRITE),
)
async def delete_finding(
    finding_id: uuid.UUID, service: Service, store: Store, if_match: IfMatch = None
) -> None:
    files = await service.delete(finding_id, if_match)
    # evidence is confidential: its files go with the finding, once the deletion commits
    store.remove_once_committed(service.session, files)


@findings.get(
    "",
    summary="问题列表 List the findings you may see",
    description="Keyset pages (`cursor`). With `updated_since` (delta sync): findings changed at "
    "or after that instant (an instant is never skipped, so one may come again) and, on the "
    "first page, the ids deleted since then, and `sync_from`: the `updated_since` of the next "
    "sync (keep the first page's when paging).",
)
async def list_findings(
    session: DbSession,
    scope: CurrentScope,
    service: Service,
    paging: Paging,
    round_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    category_id: uuid.UUID | None = None,
    status: FindingStatus | None = None,
    severity: Severity | None = None,
    updated_since: UpdatedSince = None,
) -> FindingPage:
    repo = FindingRepository(session)
    mark = await sync_watermark(session) if paging.cursor is None else None
    rows = await repo.search(
        paging,
        scope,
        filters={
            "round_id": round_id,
            "group_id": group_id,
            "target_id": target_id,
            "category_id": category_id,
            "status": status.value if status else None,
            "severity": severity.value if severity else None,
        },
        updated_since=updated_since,
    )
    shown = rows[: paging.limit]
    more = len(rows) > paging.limit
    page = FindingPage(
        items=await service.read_many(shown),
        next_cursor=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
        sync_from=mark,
    )
    if updated_since is not None and paging.cursor is None:
        page.deleted = await repo.deleted_since(scope, updated_since)
    return page


@findings.post(
    "/{finding_id}/transitions",
    summary="问题状态流转 Move a finding: confirm, hand over, close, reopen",
    description="draft → confirmed (the group's leader or deputy leader, or the office); "
    "confirmed → handed_over | closed and reopening handed_over | closed → confirmed (the "
    "office; reopening needs a `reason`). Another move is 409 listing the allowed ones. "
    "`If-Match` is honoured when sent. Confirming flags a recurrence (屡查屡犯).",
    responses=problem_responses(
        FindingNotFound,
        TransitionNotAllowed,
        ReopeningNeedsReason,
        NotGroupLeader,
        NotOffice,
        PreconditionFailed,
    ),
)
async def transition_finding(
    finding_id: uuid.UUID,
    body: TransitionCreate,
    service: Service,
    response: Response,
    if_match: IfMatch = None,
) -> FindingRead:
    return _shaped(await service.transition(finding_id, body, if_match), response)


@findings.get(
    "/{finding_id}/transitions",
    summary="问题流转记录 Who moved the finding, when and why",
    responses=problem_responses(FindingNotFound),
)
async def list_transitions(finding_id: uuid.UUID, service: Service) -> list[TransitionRead]:
    return [TransitionRead.model_validate(t) for t in await service.history(finding_id)]


@findings.post(
    "/{finding_id}/consultations",
    status_code=status.HTTP_201_CREATED,
    summary="邀请专家会商 Consult an expert on the finding (they may then read it)",
    description="`expert_id` must be an expert of the finding's round (a member of one of its "
    "expert guidance groups, 业务指导组), else 422 `not_an_expert_of_the_round`. Adding one "
    "already consulted returns that consultation.",
    responses=problem_responses(FindingNotFound, NotGroupLeader, NotAnExpert),
)
async def add_consultation(
    finding_id: uuid.UUID, body: ConsultationCreate, service: Service
) -> ConsultationRead:
    return ConsultationRead.model_validate(await service.consult(finding_id, body.expert_id))


@findings.get(
    "/{finding_id}/consultations",
    summary="会商专家 Experts consulted on the finding",
    responses=problem_responses(FindingNotFound),
)
async def list_consultations(finding_id: uuid.UUID, service: Service) -> list[ConsultationRead]:
    return [ConsultationRead.model_validate(c) for c in await service.consultations(finding_id)]


@findings.delete(
    "/{finding_id}/consultations/{expert_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="结束专家会商 Stop consulting an expert",
    responses=problem_responses(FindingNotFound, NotGroupLeader),
)
async def remove_consultation(
    finding_id: uuid.UUID, expert_id: uuid.UUID, service: Service
) -> None:
    await service.end_consultation(finding_id, expert_id)


routers = [findings]
