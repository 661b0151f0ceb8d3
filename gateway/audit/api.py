"""The audit trail for the office: read the log, verify the chain, take the signed head.
Reading any of these is itself on the record (the middleware audits `/api/v1/audit`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gateway.audit import repository
from gateway.audit.repository import EntryFilter
from gateway.audit.schemas import AuditEntryRead, SignedHead, VerifyBreak, VerifyResult
from gateway.audit.verify import current_head, signed_head, verify
from gateway.identity.errors import InvalidAccessToken
from gateway.identity.tokens import Caller, CurrentCaller
from services.common.db import DbSession
from services.common.errors import Forbidden, ValidationFailed, problem_responses
from services.common.fields import AwareInstant
from services.common.pagination import Page, Paging

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
# who may read and verify the log; the head is also for the superior office, who keeps it
AUDITORS = frozenset({"admin", "office"})
HEAD_HOLDERS = AUDITORS | {"superior"}
PROBLEMS = problem_responses(InvalidAccessToken, Forbidden)


async def auditor(caller: CurrentCaller) -> Caller:
    if not AUDITORS & set(caller.roles):
        raise Forbidden("the audit trail is for the office (admin, office)")
    return caller


async def head_holder(caller: CurrentCaller) -> Caller:
    if not HEAD_HOLDERS & set(caller.roles):
        raise Forbidden("the audit head is for the office and the superior office")
    return caller


Auditor = Annotated[Caller, Depends(auditor)]
HeadHolder = Annotated[Caller, Depends(head_holder)]


@router.get(
    "/entries",
    summary="审计日志 The audit trail, newest first",
    description="Filters combine (and). `user` is a username, client id or user id.",
    responses=problem_responses(InvalidAccessToken, Forbidden, ValidationFailed),
)
async def entries(
    session: DbSession,
    _: Auditor,
    paging: Paging,
    user: Annotated[str | None, Query(max_length=256)] = None,
    resource: Annotated[str | None, Query(max_length=64, description="e.g. leads")] = None,
    resource_id: Annotated[str | None, Query(max_length=64)] = None,
    request_id: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[AwareInstant | None, Query(description="at or after")] = None,
    until: Annotated[AwareInstant | None, Query(description="before")] = None,
) -> Page[AuditEntryRead]:
    before = None
    if paging.cursor is not None:
        if not paging.cursor.isdigit() or len(paging.cursor) > 19:
            raise ValidationFailed(
                "cursor is not one this API issued",
                errors=[
                    {"field": "query.cursor", "message": "invalid cursor", "code": "cursor_invalid"}
                ],
            )
        before = int(paging.cursor)
    where = EntryFilter(user, resource, resource_id, request_id, since, until)
    rows = await repository.entries(session, where, before, paging.limit)
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    return Page[AuditEntryRead](
        items=[AuditEntryRead.model_validate(r) for r in rows],
        next_cursor=str(rows[-1].seq) if more and rows else None,
    )


@router.get(
    "/verify",
    summary="校验审计链 Recompute the hash chain and name the first broken entry",
    description="Walks the whole log (in batches). With `seq` and `hash` of a head kept "
    "earlier (`/api/v1/audit/head`), also checks that entry is still there unchanged: the "
    "only way to notice that the newest entries were cut off.",
    responses=problem_responses(InvalidAccessToken, Forbidden, ValidationFailed),
)
async def verify_chain(
    session: DbSession,
    _: Auditor,
    seq: Annotated[int | None, Query(ge=1, le=2**62, description="a held head's seq")] = None,
    hash: Annotated[
        str | None, Query(pattern="^[0-9a-f]{64}$", description="the held head's hash, hex")
    ] = None,
) -> VerifyResult:
    if (seq is None) != (hash is None):
        raise ValidationFailed(
            "give both seq and hash of the held head, or neither",
            errors=[{"field": "query.hash", "message": "seq and hash go together",
                     "code": "missing"}],
        )  # fmt: skip
    held = (seq, bytes.fromhex(hash)) if seq is not None and hash is not None else None
    result = await verify(session, held=held)
    broken = result.broken
    return VerifyResult(
        ok=result.ok,
        checked=result.checked,
        head_seq=result.head_seq,
        first_broken=VerifyBreak(seq=broken.seq, reason=broken.reason) if broken else None,
    )


@router.get(
    "/head",
    summary="审计链头 The newest entry's seq and hash, signed by the gateway",
    responses=PROBLEMS,
)
async def head(request: Request, session: DbSession, _: HeadHolder) -> SignedHead:
    return SignedHead.model_validate(
        signed_head(await current_head(session), request.app.state.signer)
    )
