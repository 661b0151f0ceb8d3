"""Verification of the gateway's internal tokens.

The gateway signs a short-lived JWT (EdDSA, with a key id) for every request it forwards; a
service accepts nothing else. Keys come from the gateway's JWKS, fetched when an unknown key id
is seen (so a key rotation needs no restart), never more often than `min_refresh_seconds`.
Only EdDSA is accepted: the algorithm is pinned, not read from the token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import Forbidden, Unauthorized, problem_response
from services.common.requestid import request_id_var

ALGORITHM = "EdDSA"
INTERNAL_TOKEN_TTL_SECONDS = 60
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "rid"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the gateway vouches for it."""

    subject: str
    roles: tuple[str, ...]
    request_id: str
    username: str | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)
    # an API key's scopes (`scope` claim, space-separated), None for people: see policy.py
    scopes: tuple[str, ...] | None = None

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class InvalidToken(Exception):
    pass


class KeySet:
    """Public keys by key id, from a JWKS document."""

    def __init__(self, jwks_url: str | None = None, *, min_refresh_seconds: float = 10.0) -> None:
        self.jwks_url = jwks_url
        self.min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def load(self, jwks: Any) -> None:
        """Takes the Ed25519 keys with a key id and skips any other entry (a symmetric key, a
        key it cannot parse). A document that is not a JWKS raises ValueError and the keys held
        so far stay: a malformed answer makes no token pass, nor a request fail but with 401."""
        entries = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(entries, list):
            raise ValueError("not a JWKS document")
        keys = {}
        for jwk in entries:
            if not (
                isinstance(jwk, dict)
                and isinstance(jwk.get("kid"), str)
                and jwk.get("kty") == "OKP"
                and jwk.get("crv") == "Ed25519"
            ):
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
            except jwt.PyJWTError:
                continue
        self._keys = keys

    async def get(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None or self.jwks_url is None:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and time.monotonic() - self._fetched_at >= self.min_refresh_seconds:
                await self._fetch()
                key = self._keys.get(kid)
        return key

    async def _fetch(self) -> None:
        assert self.jwks_url is not None
        self._fetched_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                resp = await client.get(self.jwks_url)
                resp.raise_for_status()
                self.load(resp.json())
        except (httpx.HTTPError, ValueError):
            # The gateway may not be up yet; the next unknown key id retries after the interval.
            self._fetched_at = time.monotonic() - self.min_refresh_seconds / 2


class TokenVerifier:
    def __init__(self, keys: KeySet, *, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise InvalidToken("unexpected algorithm or missing key id")
        key = await self.keys.get(header["kid"])
        if key is None:
            raise InvalidToken("unknown key id")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        roles = claims.get("roles", [])
        groups = claims.get("groups", [])
        if not isinstance(roles, list) or not isinstance(groups, list):
            raise InvalidToken("roles and groups must be lists")
        scope = claims.get("scope")
        if not (scope is None or isinstance(scope, str)):
            raise InvalidToken("scope must be a string")
        return Principal(
            subject=str(claims["sub"]),
            roles=tuple(str(r) for r in roles),
            request_id=str(claims["rid"]),
            username=claims.get("name"),
            groups=tuple(str(g) for g in groups),
            scopes=None if scope is None else tuple(scope.split()),
        )


class InternalAuthMiddleware:
    """Rejects with 401 any request without a valid internal token (except health probes)."""

    def __init__(
        self, app: ASGIApp, verifier: TokenVerifier, open_paths: frozenset[str] | None = None
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.open_paths = open_paths or frozenset({"/healthz", "/readyz", "/metrics"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        token = None
        lang = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                raw = value.decode("latin-1")
                if raw[:7].lower() == "bearer ":
                    token = raw[7:].strip()
            elif name == b"accept-language":
                lang = value.decode("latin-1")
        if not token:
            await self._reject(scope, receive, send, "missing internal token", lang)
            return
        try:
            principal = await self.verifier.verify(token)
        except InvalidToken:
            await self._reject(scope, receive, send, "invalid internal token", lang)
            return
        scope.setdefault("state", {})["principal"] = principal
        # The gateway's request id is the one that ties the logs together.
        request_id_var.set(principal.request_id)
        scope["state"]["request_id"] = principal.request_id
        await self.app(scope, receive, send)

    @staticmethod
    async def _reject(
        scope: Scope, receive: Receive, send: Send, detail: str, lang: str | None
    ) -> None:
        resp = problem_response(
            Unauthorized(detail),
            accept_language=lang,
            headers={"WWW-Authenticate": 'Bearer realm="internal"'},
        )
        await resp(scope, receive, send)


async def get_principal(request: Request) -> Principal:
    principal = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise Unauthorized()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting only callers with one of `roles` (403 otherwise)."""

    async def check(request: Request) -> Principal:
        principal = await get_principal(request)
        if not principal.has_role(*roles):
            raise Forbidden(f"requires one of the roles: {', '.join(roles)}")
        return principal

    return check
