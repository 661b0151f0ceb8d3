"""Checking the access tokens clients present. A verified token is remembered until it expires
so the hot path of the proxy pays for one signature check per token, not per request; whether
it has been revoked since is asked on every request, of the in-memory set of revocations
(revocations.py)."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request

from gateway.identity.errors import InvalidAccessToken
from gateway.identity.revocations import Revocations
from gateway.keys import Signer

ACCESS_AUDIENCE = "gateway"


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    username: str
    roles: tuple[str, ...]
    expires_at: int
    session: str | None = None  # `sid`: the login (refresh-token family) of a person's token
    version: int = 0  # `ver`: the subject's token version when the token was issued
    scopes: tuple[str, ...] | None = None  # an API key's `scope` claim; None for people


class AccessTokens:
    """`revocations`: refused logins and token versions (None: nothing is ever revoked, for
    tests of what lies behind the check)."""

    def __init__(
        self, signer: Signer, revocations: Revocations | None = None, *, cache_size: int = 10_000
    ) -> None:
        self.signer = signer
        self.revocations = revocations
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Caller] = OrderedDict()

    def verify(self, token: str) -> Caller:
        caller = self._verified(token)
        revocations = self.revocations
        if revocations is not None and revocations.refuses(
            caller.subject, caller.session, caller.version
        ):
            raise InvalidAccessToken("the access token was revoked")
        return caller

    def revoke_session(self, subject: str, session: str) -> None:
        """Refuses the login's tokens here at once, before the commit announces it to every
        replica (this one included): the client that logged out is refused by the replica it
        asked, however quick its next request. Should the commit fail, the login is refused
        here a little longer than it is elsewhere: a safe error."""
        if self.revocations is not None:
            self.revocations.apply(subject, session, None, time.time())

    def _verified(self, token: str) -> Caller:
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
        session = claims.get("sid")
        version = claims.get("ver", 0)
        scope = claims.get("scope")
        if (
            not (session is None or isinstance(session, str))
            or type(version) is not int
            or not (scope is None or isinstance(scope, str))
        ):
            raise InvalidAccessToken("malformed sid, ver or scope claim")
        caller = Caller(
            subject=str(claims["sub"]),
            username=str(claims.get("name", "")),
            roles=tuple(str(r) for r in roles),
            expires_at=int(claims["exp"]),
            session=session,
            version=version,
            scopes=None if scope is None else tuple(scope.split()),
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
