"""Forwarding requests to the services over keep-alive HTTP/1.1 (aiohttp's C parser).

Chosen by measurement (bench/README.md): one shared ClientSession with a large connection pool,
no cookie jar, no automatic decompression and no redirects, so bytes go through untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from yarl import URL

from gateway.settings import GatewaySettings
from services.common.errors import BadGateway, GatewayTimeout, Problem, ServiceUnavailable

# Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus those we set ourselves.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server", b"upgrade", b"trailer"}
)
BUFFERED_RESPONSE_LIMIT = 1024 * 1024


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | None  # whole body when small and of known length
    chunks: AsyncIterator[bytes] | None  # otherwise streamed


class Upstreams:
    def __init__(self, settings: GatewaySettings) -> None:
        self.base = {
            "rounds": settings.rounds_url.rstrip("/"),
            "findings": settings.findings_url.rstrip("/"),
            "referrals": settings.referrals_url.rstrip("/"),
        }
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.settings.upstream_pool_size,
            limit_per_host=0,
            keepalive_timeout=30,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.settings.upstream_connect_timeout,
                sock_read=self.settings.upstream_read_timeout,
            ),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "Upstreams.start() was not called"
        return self._session

    def url(self, service: str, raw_path: str, query: bytes) -> URL:
        target = self.base[service] + raw_path
        if query:
            target += "?" + query.decode("latin-1")
        return URL(target, encoded=True)

    async def request(
        self,
        service: str,
        method: str,
        raw_path: str,
        query: bytes,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
    ) -> tuple[UpstreamResponse, aiohttp.ClientResponse]:
        """Sends the request; the caller must release the returned aiohttp response."""
        try:
            resp = await self.session.request(
                method,
                self.url(service, raw_path, query),
                headers=headers,
                data=body,
                allow_redirects=False,
                compress=None,
            )
        except Exception as exc:
            raise self.as_problem(service, exc) from exc
        out_headers = [
            (k.lower(), v) for k, v in resp.raw_headers if k.lower() not in RESPONSE_DROP
        ]
        length = resp.content_length
        if method == "HEAD" or resp.status in (204, 304):
            resp.release()
            return UpstreamResponse(resp.status, out_headers, b"", None), resp
        if length is not None and length <= BUFFERED_RESPONSE_LIMIT:
            try:
                data = await resp.read()
            except Exception as exc:
                resp.release()
                raise self.as_problem(service, exc) from exc
            return UpstreamResponse(resp.status, out_headers, data, None), resp
        return UpstreamResponse(
            resp.status, out_headers, None, resp.content.iter_chunked(64 * 1024)
        ), resp

    def as_problem(self, service: str, exc: BaseException) -> Problem:
        if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
            return GatewayTimeout(f"service {service} did not answer in time")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return ServiceUnavailable(f"service {service} is not reachable")
        if isinstance(exc, Problem):
            return exc
        return BadGateway(f"service {service} failed: {type(exc).__name__}")
