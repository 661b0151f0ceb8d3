"""The proxy path: authenticate the caller, mint an internal token, stream to the service and
back. A pure ASGI handler, off FastAPI's routing, because it is on every request's path."""

from __future__ import annotations

import binascii
import os
import time
from collections.abc import AsyncIterator

import orjson
from starlette.types import Receive, Scope, Send

from gateway.identity.errors import InvalidAccessToken
from gateway.identity.tokens import AccessTokens, Caller, bearer_token
from gateway.keys import Signer
from gateway.proxy.routes import is_upload
from gateway.proxy.transport import HOP_BY_HOP, Upstreams
from gateway.settings import GatewaySettings
from services.common.errors import (
    BadRequest,
    LengthRequired,
    PayloadTooLarge,
    Problem,
    problem_response,
)
from services.common.requestid import current_request_id

# Bodies up to this size are read whole (one write upstream); larger ones are streamed.
BUFFER_LIMIT = 64 * 1024
_DROP_IN = HOP_BY_HOP | {b"authorization", b"x-request-id", b"x-forwarded-for", b"forwarded"}
_WITH_CONTENT = frozenset({"POST", "PUT", "PATCH"})
_B64URL = bytes.maketrans(b"+/", b"-_")


def _b64url(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_B64URL).rstrip(b"=")


class BodyTooLarge(Exception):
    pass


class InternalTokens:
    """Mints the internal token of each forwarded request: the JWT `Signer.sign` makes (EdDSA,
    key id, the same claims), built without PyJWT's generic path. The JWS header is encoded
    once; per request only the claims are serialised (orjson) and signed (Ed25519)."""

    def __init__(self, signer: Signer, ttl: int) -> None:
        header = orjson.dumps({"alg": "EdDSA", "kid": signer.kid, "typ": "JWT"})
        self._prefix = _b64url(header) + b"."
        self._key = signer.key
        self._issuer = signer.issuer
        self._ttl = ttl

    def mint(self, caller: Caller, audience: str, rid: str) -> bytes:
        now = int(time.time())
        claims = {
            "sub": caller.subject,
            "name": caller.username,
            "roles": caller.roles,
            "groups": [],
            "rid": rid,
            "iss": self._issuer,
            "aud": audience,
            "iat": now,
            "exp": now + self._ttl,
            "jti": os.urandom(16).hex(),
        }
        if caller.scopes is not None:  # an API key's: the service checks them too
            claims["scope"] = " ".join(caller.scopes)
        signing_input = self._prefix + _b64url(orjson.dumps(claims))
        return signing_input + b"." + _b64url(self._key.sign(signing_input))


class Proxy:
    def __init__(
        self,
        settings: GatewaySettings,
        signer: Signer,
        access_tokens: AccessTokens,
        upstreams: Upstreams,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.access_tokens = access_tokens
        self.upstreams = upstreams
        self.max_body = settings.max_body_bytes
        self.max_upload = settings.max_upload_bytes
        self.tokens = InternalTokens(signer, settings.internal_token_ttl_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, service: str) -> None:
        lang = None
        authorization = None
        length: int | None = None
        chunked = False
        lines: list[bytes] = []  # the forwarded headers, ready for the wire
        for name, value in scope["headers"]:
            if name in _DROP_IN:
                if name == b"authorization":
                    authorization = value.decode("latin-1")
                elif name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = -1
                elif name == b"transfer-encoding":
                    chunked = True
                continue
            if name == b"accept-language":
                lang = value.decode("latin-1")
            lines += (name, b": ", value, b"\r\n")
        try:
            await self._forward(
                scope, receive, send, service, lines, authorization, length, chunked
            )
        except Problem as problem:
            await problem_response(problem, accept_language=lang, instance=scope["path"])(
                scope, receive, send
            )

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        service: str,
        lines: list[bytes],
        authorization: str | None,
        length: int | None,
        chunked: bool,
    ) -> None:
        token = bearer_token(authorization)
        if token is None:
            raise InvalidAccessToken("missing access token")
        caller = self.access_tokens.verify(token)
        if length is not None and length < 0:
            raise BadRequest("Content-Length is not a number")
        method: str = scope["method"]
        limit = self.max_body
        if is_upload(method, scope["path"]):
            # streamed through, never buffered here: so its length must be known up front
            if chunked:
                raise LengthRequired("send a file upload with a Content-Length, not chunked")
            limit = self.max_upload
        if length is not None and length > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")

        rid = current_request_id()
        internal = self.tokens.mint(caller, service, rid)
        lines += (b"authorization: Bearer ", internal, b"\r\nx-request-id: ", rid.encode())
        client = scope.get("client")
        if client:
            lines += (b"\r\nx-forwarded-for: ", client[0].encode("latin-1"))
        lines.append(b"\r\n")

        body: bytes | AsyncIterator[bytes] | None = None
        if length is not None and length > BUFFER_LIMIT:
            lines += (b"content-length: ", str(length).encode(), b"\r\n")
            body = self._stream_body(receive, length, limit)
        elif length or chunked:
            data = await self._read_body(receive, limit)
            lines += (b"content-length: ", str(len(data)).encode(), b"\r\n")
            body = data
        elif method in _WITH_CONTENT:
            lines.append(b"content-length: 0\r\n")

        target: bytes = scope.get("raw_path") or scope["path"].encode()
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        head = self.upstreams.request_head(service, method, target, b"".join(lines))
        try:
            upstream, resp = await self.upstreams.exchange(service, method, head, body)
        except Problem as problem:
            if isinstance(problem.__cause__, BodyTooLarge):
                raise PayloadTooLarge(f"request body exceeds {limit} bytes") from None
            raise
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": upstream.status,
                    "headers": upstream.headers,
                }
            )
            if upstream.body is not None:
                await send({"type": "http.response.body", "body": upstream.body})
            else:
                assert upstream.chunks is not None
                async for chunk in upstream.chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        finally:
            resp.release()

    @staticmethod
    async def _read_body(receive: Receive, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds {limit} bytes")
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    @staticmethod
    async def _stream_body(receive: Receive, declared: int, limit: int) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyTooLarge("client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > declared or size > limit:
                raise BodyTooLarge()
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
