"""The gateway's own calls to the services (not proxied ones): through the proxy's pooled
upstream connections, each with an internal token the gateway mints for itself as the
reports reader (`REPORTS`).

The reports reader has the role `service` (the three figures endpoints admit it) and `office`
(the registers: leads with their subjects, every rectification item). It is the gateway acting,
never a user: who may see what of the result is decided here, before anything is sent (the
dashboard's figures hold no names; export packages leave out what the receiving office may not
see, see registers.py)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

from gateway.dashboard.errors import ScopeInvalid
from gateway.identity.tokens import Caller
from gateway.proxy.handler import InternalTokens
from gateway.proxy.transport import Upstreams
from services.common.errors import BadGateway, GatewayTimeout, NotFound, ServiceUnavailable
from services.common.requestid import current_request_id

REPORTS = Caller(
    subject="gateway:reports", username="reports", roles=("service", "office"), expires_at=0
)
Params = Sequence[tuple[str, str]]


class Services:
    def __init__(
        self,
        upstreams: Upstreams,
        tokens: InternalTokens,
        accept_language: str | None = None,
        *,
        retries: int = 0,
    ) -> None:
        self.upstreams = upstreams
        self.tokens = tokens
        self.accept_language = accept_language
        self.retries = retries

    async def get(self, service: str, path: str, params: Params = ()) -> Any:
        """The JSON a service answers; its 404 and 422 as ours, anything else as 502/503/504.
        With `retries` (export jobs: one slow page must not sink an hour's work), a 502, 503 or
        504 is asked again after 0.5, 1, 2 … s: reads, safe to repeat."""
        for attempt in range(self.retries + 1):
            try:
                return await self._get(service, path, params)
            except (BadGateway, ServiceUnavailable, GatewayTimeout):
                if attempt == self.retries:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    async def _get(self, service: str, path: str, params: Params) -> Any:
        rid = current_request_id() or uuid.uuid4().hex
        headers = [
            ("authorization", "Bearer " + self.tokens.mint(REPORTS, service, rid).decode()),
            ("x-request-id", rid),
            ("accept", "application/json"),
        ]
        if self.accept_language:
            headers.append(("accept-language", self.accept_language))
        upstream, handle = await self.upstreams.request(
            service, "GET", path, urlencode(list(params)).encode(), headers, None
        )
        try:
            if upstream.body is not None:
                body = upstream.body
            else:
                assert upstream.chunks is not None
                body = b"".join([chunk async for chunk in upstream.chunks])
        finally:
            handle.release()
        if 200 <= upstream.status < 300:
            return orjson.loads(body)
        problem = _problem(body)
        detail = problem.get("detail") if isinstance(problem.get("detail"), str) else None
        if upstream.status == 422:
            raise ScopeInvalid(detail, errors=problem.get("errors") or [])
        if upstream.status == 404:
            raise NotFound(detail)
        if upstream.status == 503:
            raise ServiceUnavailable(f"service {service} is unavailable; retry later")
        raise BadGateway(f"service {service} answered {upstream.status} to {path}")

    async def pages(
        self, service: str, path: str, params: Params = (), *, limit: int = 200, ahead: int = 1
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every item of a list, a keyset page at a time (`next_cursor`). The next `ahead`
        pages are asked for while the caller works on this one (an export writes a page while
        the service reads the next): at most `ahead` + 2 pages are ever held."""
        queue: asyncio.Queue[list[dict[str, Any]] | BaseException | None] = asyncio.Queue(ahead)

        async def produce() -> None:
            cursor: str | None = None
            try:
                while True:
                    query = [*params, ("limit", str(limit))]
                    if cursor:
                        query.append(("cursor", cursor))
                    page = await self.get(service, path, query)
                    await queue.put(page["items"])
                    cursor = page.get("next_cursor")
                    if not cursor:
                        await queue.put(None)
                        return
            except Exception as exc:  # handed to the consumer, raised there
                await queue.put(exc)

        producer = asyncio.create_task(produce())
        try:
            while (items := await queue.get()) is not None:
                if isinstance(items, BaseException):
                    raise items
                yield items
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer


def _problem(body: bytes) -> dict[str, Any]:
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}
