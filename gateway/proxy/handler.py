"""The proxy path: authenticate the caller, mint an internal token, stream to the service and
back. A pure ASGI handler, off FastAPI's routing, because it is on every request's path."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive, Scope, Send

from gateway.identity.errors import InvalidAccessToken
from gateway.identity.tokens import AccessTokens, bearer_token
from gateway.keys import Signer
from gateway.proxy.transport import HOP_BY_HOP, Upstreams
from gateway.settings import GatewaySettings
from services.common.errors import BadRequest, PayloadTooLarge, Problem, problem_response
from services.common.requestid import current_request_id

# Bodies up to this size are read whole (one write upstream); larger ones are streamed.
BUFFER_LIMIT = 64 * 1024
_DROP_IN = HOP_BY_HOP | {b"authorization", b"x-request-id", b"x-forwarded-for", b"forwarded"}


class BodyTooLarge(Exception):
    pass


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send, service: str) -> None:
        lang = None
        authorization = None
        length: int | None = None
        chunked = False
        headers: list[tuple[str, str]] = []
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"accept-language":
                lang = value.decode("latin-1")
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
            elif name == b"transfer-encoding":
                chunked = True
            if name not in _DROP_IN:
                headers.append((name.decode("latin-1"), value.decode("latin-1")))
        try:
            await self._forward(
                scope, receive, send, service, headers, authorization, length, chunked
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
        headers: list[tuple[str, str]],
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
        if length is not None and length > self.max_body:
            raise PayloadTooLarge(f"request body exceeds {self.max_body} bytes")

        rid = current_request_id()
        internal = self.signer.sign(
            {
                "sub": caller.subject,
                "name": caller.username,
                "roles": list(caller.roles),
                "groups": [],
                "rid": rid,
            },
            audience=service,
            ttl=self.settings.internal_token_ttl_seconds,
        )
        headers.append(("authorization", "Bearer " + internal))
        headers.append(("x-request-id", rid))
        client = scope.get("client")
        if client:
            headers.append(("x-forwarded-for", client[0]))

        body: bytes | AsyncIterator[bytes] | None = None
        too_large = False
        if length is not None and length > BUFFER_LIMIT:
            headers.append(("content-length", str(length)))
            body = self._stream_body(receive, length)
        elif length or chunked:
            data = await self._read_body(receive)
            headers.append(("content-length", str(len(data))))
            body = data

        method = scope["method"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        try:
            upstream, resp = await self.upstreams.request(
                service, method, raw_path.decode("latin-1"), scope["query_string"], headers, body
            )
        except Problem as problem:
            too_large = isinstance(problem.__cause__, BodyTooLarge)
            if too_large:
                raise PayloadTooLarge(f"request body exceeds {self.max_body} bytes") from None
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

    async def _read_body(self, receive: Receive) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"request body exceeds {self.max_body} bytes")
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _stream_body(self, receive: Receive, declared: int) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyTooLarge("client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > declared or size > self.max_body:
                raise BodyTooLarge()
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
