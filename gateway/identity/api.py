"""Routes of the identity module: OAuth2 password and refresh grants, who am I."""

from __future__ import annotations

import base64
import uuid
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from gateway.identity.errors import (
    AccountLocked,
    InvalidAccessToken,
    InvalidGrant,
    TooManyLoginFailures,
    UnsupportedGrantType,
)
from gateway.identity.repository import ApiClientRepository, UserRepository
from gateway.identity.schemas import Me, TokenResponse
from gateway.identity.service import IdentityService, RefreshReused
from gateway.identity.throttle import LoginThrottle
from gateway.identity.tokens import AccessTokens, CurrentCaller
from gateway.settings import GatewaySettings
from services.common.db import DbSession
from services.common.errors import Problem, problem_response, problem_responses

auth = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@auth.post(
    "/token",
    summary="登录或刷新令牌 Log in (password grant), refresh, or authenticate a machine client",
    description="OAuth2 token endpoint. `grant_type=password` (username, password) or "
    "`refresh_token` (refresh_token) for people; `client_credentials` (client_id and "
    "client_secret, in the form or as HTTP Basic) for machine clients.",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=problem_responses(
        InvalidGrant, UnsupportedGrantType, AccountLocked, TooManyLoginFailures
    ),
)
async def issue_token(
    request: Request,
    session: DbSession,
    grant_type: Annotated[str, Form(pattern="^(password|refresh_token|client_credentials)$")],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=256)] = None,
    refresh_token: Annotated[str | None, Form(max_length=256)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    scope: Annotated[
        str | None,
        Form(
            max_length=4000,
            description="client credentials: the scopes wanted, space-separated (default: all "
            "of the key's); more than the key holds, or malformed, is `invalid_scope`. Ignored "
            "for people, whose tokens carry their roles only",
        ),
    ] = None,
) -> TokenResponse | Response:
    settings: GatewaySettings = request.app.state.settings
    identity = IdentityService(session, request.app.state.signer, settings)
    lang = request.headers.get("accept-language")
    throttle: LoginThrottle = request.app.state.login_throttle
    if grant_type in ("client_credentials", "password"):
        # the audit middleware imports this module: its helper is imported when first needed
        from gateway.audit.middleware import client_ip

        address = throttle.key(client_ip(request.scope, settings.audit_trusted_proxies))
        wait = throttle.wait(address)
        if wait is not None:
            refused = TooManyLoginFailures(f"try again in {wait} seconds", retry_after=wait)
            return problem_response(
                refused, accept_language=lang, headers={"Retry-After": str(wait)}
            )
    if grant_type == "client_credentials":
        basic = basic_credentials(request.headers.get("authorization"))
        cid, secret = basic if basic else (client_id, client_secret)
        if not cid or not secret:
            raise InvalidGrant("client_id and client_secret are required", error="invalid_client")
        try:
            return await identity.client_login(cid, secret, scope)
        except InvalidGrant:
            throttle.failed(address)
            raise
    if grant_type == "password":
        if not username or not password:
            raise InvalidGrant("username and password are required", error="invalid_request")
        login = await identity.login(username, password)
        if isinstance(login, Problem):
            throttle.failed(address)
            # Returned, not raised: the failure count must be committed.
            retry = login.extensions.get("retry_after")
            return problem_response(
                login, accept_language=lang, headers={"Retry-After": str(retry)} if retry else None
            )
        result = login
    else:
        if not refresh_token:
            raise InvalidGrant("refresh_token is required", error="invalid_request")
        refreshed = await identity.refresh(refresh_token)
        if isinstance(refreshed, RefreshReused):
            tokens: AccessTokens = request.app.state.access_tokens
            tokens.revoke_session(str(refreshed.user_id), str(refreshed.family_id))
            # Returned, not raised: the revocation of the family must be committed.
            return problem_response(
                InvalidGrant(
                    "refresh token was already used; every session of it is revoked",
                    error="invalid_grant",
                ),
                accept_language=lang,
            )
        result = refreshed
    return result


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """HTTP Basic client authentication (RFC 6749 §2.3.1), form-urlencoded parts."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    cid, sep, secret = raw.partition(":")
    return (unquote_plus(cid), unquote_plus(secret)) if sep else None


@auth.post(
    "/logout",
    status_code=204,
    summary="退出登录 Log out (revokes the login: its refresh tokens and its access tokens)",
)
async def logout(
    request: Request,
    session: DbSession,
    refresh_token: Annotated[str, Form(min_length=1, max_length=256)],
) -> None:
    identity = IdentityService(session, request.app.state.signer, request.app.state.settings)
    revoked = await identity.logout(refresh_token)
    if revoked is not None:
        tokens: AccessTokens = request.app.state.access_tokens
        tokens.revoke_session(str(revoked.user_id), str(revoked.family_id))


@auth.get("/me", summary="当前用户 Who am I", responses=problem_responses(InvalidAccessToken))
async def me(caller: CurrentCaller, session: DbSession) -> Me:
    """A person's account, or a machine client's key (its client id as `username`, its
    description as `display_name`)."""
    if caller.subject.startswith("client:"):
        key = await ApiClientRepository(session).by_client_id(
            caller.subject.removeprefix("client:")
        )
        if key is None or not key.is_active:
            raise InvalidAccessToken("the API key no longer exists or is disabled")
        return Me(id=key.id, username=key.client_id, display_name=key.description, roles=key.roles)
    user = await UserRepository(session).get(uuid.UUID(caller.subject))
    if user is None or not user.is_active:
        raise InvalidAccessToken("account no longer exists or is disabled")
    return Me.model_validate(user)
