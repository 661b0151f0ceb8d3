"""The administrator's API keys of machine clients (rules in `clients.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from gateway.identity.clients import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientInvalid,
    ApiClientNotFound,
    ApiClientRead,
    ApiClients,
    ApiClientTaken,
    ApiClientUpdate,
    ManagedByOps,
    RotatedClientSecret,
    version_of,
)
from gateway.identity.models import ApiClient
from gateway.identity.tokens import CurrentCaller
from gateway.settings import GatewaySettings
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import Forbidden, PreconditionFailed, problem_responses
from services.common.pagination import Page, Paging, make_page

router = APIRouter(prefix="/api/v1/admin/api-clients", tags=["API keys"])
ClientIdPath = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_.\-]{2,63}$", description="the key's client id")
]


async def api_clients(request: Request, session: DbSession) -> ApiClients:
    settings: GatewaySettings = request.app.state.settings
    return ApiClients(session, settings.api_key_max_days)


Keys = Annotated[ApiClients, Depends(api_clients)]
CHANGE = (Forbidden, ApiClientInvalid, ApiClientNotFound, ManagedByOps, PreconditionFailed)


def _read(client: ApiClient, response: Response) -> ApiClientRead:
    set_etag(response, version_of(client))
    return ApiClientRead.model_validate(client)


@router.post(
    "",
    status_code=201,
    summary="签发 API 密钥 Issue an API key to a machine client",
    description="The answer carries the secret, this once. The client logs in with OAuth2 "
    "client credentials (`POST /api/v1/auth/token`, `grant_type=client_credentials`); its "
    "tokens carry its roles and scopes and expire no later than the key.",
    responses=problem_responses(Forbidden, ApiClientInvalid, ApiClientTaken),
)
async def issue_key(
    body: ApiClientCreate, caller: CurrentCaller, keys: Keys, response: Response
) -> ApiClientCreated:
    created = await keys.issue(body, caller)
    response.headers["Location"] = f"/api/v1/admin/api-clients/{created.client_id}"
    return created


@router.get(
    "",
    summary="API 密钥列表 List API keys (never their secrets)",
    responses=problem_responses(Forbidden),
)
async def list_keys(
    keys: Keys,
    paging: Paging,
    active: Annotated[
        bool | None, Query(description="only enabled, or only disabled, keys")
    ] = None,
) -> Page[ApiClientRead]:
    return make_page(await keys.page(paging, active=active), paging, ApiClientRead)


@router.get(
    "/{client_id}",
    summary="查看 API 密钥 Read an API key (never its secret)",
    responses=problem_responses(Forbidden, ApiClientNotFound),
)
async def get_key(client_id: ClientIdPath, keys: Keys, response: Response) -> ApiClientRead:
    return _read(await keys.get(client_id), response)


@router.patch(
    "/{client_id}",
    summary="修改、停用或启用 API 密钥 Change a key's scopes, expiry or description; disable it",
    description="Narrower scopes, an earlier expiry or `is_active: false` refuse the tokens "
    "the key holds at once. A service's key is 409: ops keeps it.",
    responses=problem_responses(*CHANGE),
)
async def update_key(
    client_id: ClientIdPath,
    body: ApiClientUpdate,
    keys: Keys,
    response: Response,
    if_match: IfMatch = None,
) -> ApiClientRead:
    return _read(await keys.update(client_id, body, if_match), response)


@router.post(
    "/{client_id}/rotate-secret",
    summary="轮换 API 密钥 Rotate a key's secret",
    description="The new secret is in the answer, this once; the old one, and every token "
    "issued with it, are refused from now on.",
    responses=problem_responses(*CHANGE),
)
async def rotate_key(
    client_id: ClientIdPath, keys: Keys, if_match: IfMatch = None
) -> RotatedClientSecret:
    return await keys.rotate(client_id, if_match)
