"""Checking the access tokens clients present. A verified token is remembered until it expires
so the hot path of the proxy pays for one signature check per token, not per request."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request

from gateway.identity.errors import InvalidAccessToken
from gateway.keys import Signer

ACCESS_AUDIENCE = "gateway"


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    username: str
    roles: tuple[str, ...]
    expires_at: int


class AccessTokens:
    def __init__(self, signer: Signer, *, cache_size: int = 10_000) -> None:
        self.signer = signer
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Caller] = OrderedDict()

    def verify(self, token: str) -> Caller:
        now = time.time()
        caller = self._cache.get(token)
        if caller is not None:
            if caller.expires_at > now:
                return caller
            del self._cache[token]
        try:
            claims = self.signer.verify(token, audience=ACCESS_AUDIENCE)
        except jwt.PyJWTError as exc:
            raise InvalidAccessToken("invalid or expired access token") from exc
        roles = claims.get("roles")
        if not isinstance(roles, list):
            raise InvalidAccessToken("token carries no roles")
        caller = Caller(
            subject=str(claims["sub"]),
            username=str(claims.get("name", "")),
            roles=tuple(str(r) for r in roles),
            expires_at=int(claims["exp"]),
        )
        self._cache[token] = caller
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return caller


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


async def current_caller(request: Request) -> Caller:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise InvalidAccessToken("missing access token")
    tokens: AccessTokens = request.app.state.access_tokens
    return tokens.verify(token)


CurrentCaller = Annotated[Caller, Depends(current_caller)]
