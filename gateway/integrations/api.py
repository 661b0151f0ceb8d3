"""Callbacks in from the discipline inspection network platform (纪检监察网络平台): it reports a
lead's receipt, handling, case filing and outcomes at `/api/v1/integrations/platform/…`.

Each callback, in this order:
1. the gateway must have the platform's secret (`GATEWAY_PLATFORM_CALLBACK_SECRET`), else 503;
2. the raw body is read once and its Standard Webhooks signature checked against the secret (or
   the previous one, while it rotates): missing or malformed headers, or no matching signature,
   are 401 `invalid-signature`; a timestamp more than five minutes from now is 401
   `stale-timestamp`. Nothing is read or written before this passes;
3. the body is validated (422 naming the field);
4. in one transaction of the gateway's database the webhook id is recorded; an id recorded
   already is 409 `callback-replayed`;
5. the report is forwarded to the referrals service as the platform (service.py); its refusal
   (404, 409, 422) is passed on as it is, a failure to reach it is 502/503/504;
6. only an accepted callback commits its webhook id. A refused or failed one leaves no trace, so
   the platform may retry it (after fixing what was wrong) under the same id. The replay
   protection this gives up is for a message that changed nothing, and its signed timestamp
   still expires after five minutes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from pydantic import BaseModel, ValidationError

from gateway.integrations import service, signing
from gateway.integrations.clients import Referrals, Refused
from gateway.integrations.errors import (
    CallbackReplayed,
    CallbacksNotConfigured,
    InvalidSignature,
    LeadNotFound,
    StaleTimestamp,
)
from gateway.integrations.repository import CallbackRepository
from gateway.integrations.schemas import CallbackResult, Report
from gateway.integrations.service import Kind
from gateway.settings import GatewaySettings
from services.common.db import Database
from services.common.errors import (
    PROBLEM_JSON,
    BadGateway,
    Conflict,
    GatewayTimeout,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
    field_errors,
    problem_responses,
)

router = APIRouter(prefix="/api/v1/integrations/platform", tags=["integrations"])

SIGNED = (
    "Signed the Standard Webhooks way with the secret the office shares with the platform: "
    "`webhook-signature` holds `v1,<base64 HMAC-SHA256 of '<webhook-id>.<webhook-timestamp>."
    "<body>'>` (several, space-separated, while a secret rotates). A timestamp more than five "
    "minutes from now, a webhook id accepted before, a bad signature: refused, nothing changes. "
    "A report the lead already reflects (the same report under a new id) is 200 with "
    "`applied: false` and changes nothing. The steps appear in the lead's history by `platform`. "
    "The referrals service's refusals are passed on as they are: 404 `lead-not-found` (also for "
    "a lead not sent to the discipline commission), 409 `illegal-lead-transition` (with "
    "`allowed`) or `case-needs-verification`, 422 `lead-step-invalid`; a refused callback is "
    "not recorded, so it may be sent again under the same webhook id."
)


@dataclass(frozen=True)
class SignedCallback:
    webhook_id: str
    body: bytes


def _secrets(settings: GatewaySettings) -> list[str]:
    found = [settings.platform_callback_secret, settings.platform_callback_previous_secret]
    return [s.get_secret_value() for s in found if s is not None]


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def signed_callback(
    request: Request,
    webhook_id: Annotated[
        str | None, Header(description="the message id (required), once per message")
    ] = None,
    webhook_timestamp: Annotated[
        str | None, Header(description="Unix seconds (required); within five minutes of now")
    ] = None,
    webhook_signature: Annotated[
        str | None, Header(description="`v1,<base64 signature>` (required), space-separated")
    ] = None,
) -> SignedCallback:
    """The raw body, once its signature is checked (the headers are read as sent)."""
    settings: GatewaySettings = request.app.state.settings
    secrets = _secrets(settings)
    if not secrets:
        raise CallbacksNotConfigured("GATEWAY_PLATFORM_CALLBACK_SECRET is not set")
    body = await _read(request, settings.max_body_bytes)
    headers = {
        "webhook-id": webhook_id or "",
        "webhook-timestamp": webhook_timestamp or "",
        "webhook-signature": webhook_signature or "",
    }
    return SignedCallback(signing.verify(secrets, headers, body), body)


Signed = Annotated[SignedCallback, Depends(signed_callback)]
LeadId = Annotated[
    # a string, so that the signature is checked before anything is said about the id
    str,
    Path(description="线索 id (UUID)", json_schema_extra={"format": "uuid"}),
]


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema as the operation's request body (the route reads the raw body
    itself, to check its signature before parsing it), with nested models inlined."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


def _parse(kind: Kind, body: bytes) -> Report:
    try:
        return kind.report.model_validate_json(body or b"{}")
    except ValidationError as exc:
        errors = field_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(detail, errors=errors) from None


async def _receive(
    request: Request, callback: SignedCallback, lead_id: str, kind: Kind
) -> CallbackResult | Response:
    report = _parse(kind, callback.body)
    try:
        lead = uuid.UUID(lead_id)
    except ValueError:
        raise LeadNotFound(f"lead {lead_id} not found") from None
    db: Database = request.app.state.db
    settings: GatewaySettings = request.app.state.settings
    async with (
        db.sessions() as session,
        Referrals(
            settings, request.app.state.signer, request.headers.get("accept-language")
        ) as referrals,
    ):
        if not await CallbackRepository(session).claim(callback.webhook_id, kind.name, lead):
            raise CallbackReplayed(f"webhook id {callback.webhook_id} was accepted before")
        try:
            result = await service.apply(referrals, str(lead), report, callback.webhook_id)
        except Refused as refused:
            await session.rollback()
            problem = {
                "type": "about:blank",
                "title": HTTPStatus(refused.status).phrase,
                **refused.problem,
                "status": refused.status,
                "instance": request.url.path,
            }
            return Response(
                orjson.dumps(problem), status_code=refused.status, media_type=PROBLEM_JSON
            )
        await session.commit()
    return result


RESPONSES = problem_responses(
    InvalidSignature, StaleTimestamp, LeadNotFound, CallbackReplayed, Conflict, ValidationFailed,
    PayloadTooLarge, BadGateway, CallbacksNotConfigured, ServiceUnavailable, GatewayTimeout,
)  # fmt: skip


def _route(path: str, kind: Kind, summary: str, description: str) -> Any:
    return router.post(
        path,
        response_model=CallbackResult,
        summary=summary,
        description=f"{description}\n\n{SIGNED}",
        openapi_extra=_request_body(kind.report),
        responses=RESPONSES,
    )


@_route(
    "/leads/{lead_id}/received",
    service.RECEIVED,
    "平台回调：线索已接收 The platform reports a lead received",
    "Moves a transferred lead to received.",
)
async def report_received(
    lead_id: LeadId, callback: Signed, request: Request
) -> CallbackResult | Response:
    return await _receive(request, callback, lead_id, service.RECEIVED)


@_route(
    "/leads/{lead_id}/handling",
    service.HANDLING,
    "平台回调：处置方式 The platform reports the handling chosen",
    "`{handling}`: moves a received lead to handling; a lead still transferred is received "
    "first (two steps in its history), as choosing a handling implies receipt.",
)
async def report_handling(
    lead_id: LeadId, callback: Signed, request: Request
) -> CallbackResult | Response:
    return await _receive(request, callback, lead_id, service.HANDLING)


@_route(
    "/leads/{lead_id}/case-filing",
    service.CASE_FILING,
    "平台回调：立案 The platform reports a case filed",
    "`{case_number, case_filed_on?}`: only for a lead under preliminary verification (409 "
    "`case-needs-verification` otherwise).",
)
async def report_case_filing(
    lead_id: LeadId, callback: Signed, request: Request
) -> CallbackResult | Response:
    return await _receive(request, callback, lead_id, service.CASE_FILING)


@_route(
    "/leads/{lead_id}/outcomes",
    service.OUTCOMES,
    "平台回调：办结及处理结果 The platform reports the outcomes",
    "`{money_recovered?, outcomes: [{subject_id, …}]}`: concludes the lead with an outcome "
    "for every subject; party and government sanctions need a filed case.",
)
async def report_outcomes(
    lead_id: LeadId, callback: Signed, request: Request
) -> CallbackResult | Response:
    return await _receive(request, callback, lead_id, service.OUTCOMES)
