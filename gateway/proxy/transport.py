"""Forwarding requests to the services: a small keep-alive HTTP/1.1 client on asyncio protocols,
responses parsed by httptools (the C parser uvicorn uses).

Chosen by measurement (bench/README.md): with aiohttp (one shared ClientSession) the gateway
spent 1.0-1.6 ms of CPU per proxied request, with this client 0.6-0.85 ms (0.6 -> 0.24 ms in
front of a service that does nothing). It does only what the proxy needs: one request at a
time per connection, idle connections reused most-recently-first and dropped before the
service's own keep-alive timeout (uvicorn: 5 s), at most `upstream_pool_size` connections in
use. Bytes go through untouched: no decompression, no redirects, no cookies.

Errors map to problems: connection refused -> 503, no connection or no answer in time -> 504,
anything else (a broken or truncated response) -> 502. A reused connection the service had
already closed is retried once on a fresh one for requests that are safe to repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools

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
        b"expect",  # 100-continue is negotiated by our own server with the client
    }
)
RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server", b"upgrade", b"trailer"}
)
BUFFERED_RESPONSE_LIMIT = 1024 * 1024  # larger (or unknown-length) responses are streamed
KEEPALIVE_SECONDS = 4.0  # below uvicorn's default --timeout-keep-alive of 5 s
MAX_IDLE_PER_SERVICE = 128
STREAM_HIGH_WATER = 256 * 1024  # pause reading from the service above this much unsent body
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RequestBody = bytes | AsyncIterator[bytes] | None


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | None  # whole body when small and of known length
    chunks: AsyncIterator[bytes] | None  # otherwise streamed


class Releasable(Protocol):
    def release(self) -> None: ...


class _Released:
    """The handle of a response that was read whole: its connection is already back."""

    __slots__ = ()

    def release(self) -> None:
        return None


RELEASED = _Released()


class UpstreamDisconnected(ConnectionError):
    """The service closed the connection before the response was complete."""


class UpstreamProtocolError(Exception):
    """The service's response is not valid HTTP/1.1."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a service; one exchange at a time."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self.busy = False
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self._reset(head=False)

    def _reset(self, *, head: bool) -> None:
        self.head = head
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.content_length: int | None = None
        self.framed = False  # length or chunked: the end of the body is known without EOF
        self.informational = False
        self.streaming = False
        self.complete = False
        self.keep_alive = False
        self.got_data = False
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.read_paused = False
        self.error: BaseException | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # nothing is expected on an idle connection
            self.close()
            return
        self.got_data = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # httptools' errors, an upgrade, or ours from a callback
            self._fail(UpstreamProtocolError(f"{type(exc).__name__}: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy and not self.complete:
            if self.streaming and not self.framed:
                self._on_complete(keep_alive=False)  # a body delimited by the close
            else:
                self._fail(UpstreamDisconnected("the service closed the connection"))
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_exception(UpstreamDisconnected("connection lost"))
        self.drain_waiter = None
        self.pool.forget(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter, self.drain_waiter = self.drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self.complete:  # keep what was received; this connection is done
            raise UpstreamProtocolError("data after the end of the response")
        self.headers = []
        self.content_length = None
        self.framed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            try:
                self.content_length = int(value)
            except ValueError:
                self.content_length = None
            self.framed = True
        elif name == b"transfer-encoding":
            self.framed = True
        if name not in RESPONSE_DROP:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # interim response: wait for the final one
            self.informational = True
            return
        self.status = status
        if self.head or status in (204, 304):
            # No body follows. httptools cannot be told about HEAD, so that connection is not
            # reused: its parser would wait for a body of Content-Length bytes.
            self._on_complete(keep_alive=not self.head and self.parser.should_keep_alive())
        elif self.content_length is None or self.content_length > BUFFERED_RESPONSE_LIMIT:
            self.streaming = True
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.body.append(body)
        self.buffered += len(body)
        if self.streaming:
            if self.buffered > STREAM_HIGH_WATER and not self.read_paused:
                assert self.transport is not None
                self.transport.pause_reading()
                self.read_paused = True
            self._wake()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        if not self.complete:
            self._on_complete(keep_alive=self.parser.should_keep_alive())

    # the exchange
    def _on_complete(self, *, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if not waiter.done():
                waiter.set_exception(exc)

    def _on_timeout(self) -> None:
        self.timer = None
        self._fail(TimeoutError("the service did not answer in time"))
        self.close()

    async def _wait(self) -> None:
        """Until the parser has something new; at most the read timeout."""
        if self.error is not None:
            raise self.error
        waiter = self.loop.create_future()
        self.waiter = waiter
        self.timer = self.loop.call_later(self.pool.read_timeout, self._on_timeout)
        try:
            await waiter
        finally:
            if self.waiter is waiter:  # cancelled
                self.waiter = None
                if self.timer is not None:
                    self.timer.cancel()
                    self.timer = None

    def begin(self, *, head: bool) -> None:
        self.busy = True
        self._reset(head=head)

    def write(self, head: bytes, body: bytes | None) -> None:
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            raise UpstreamDisconnected("the connection is closed")
        transport.write(head + body if body else head)

    async def write_stream(self, head: bytes, body: AsyncIterator[bytes]) -> None:
        self.write(head, None)
        transport = self.transport
        assert transport is not None
        async for chunk in body:
            if self.closed or transport.is_closing():
                raise UpstreamDisconnected("the service closed the connection")
            transport.write(chunk)
            if self.write_paused:
                await self._drain()

    async def _drain(self) -> None:
        waiter = self.loop.create_future()
        self.drain_waiter = waiter
        async with asyncio.timeout(self.pool.read_timeout):  # a service that stops reading
            await waiter

    async def response_head(self) -> None:
        """Until the head is in (streamed bodies) or the whole response (buffered ones)."""
        while not (self.complete or self.streaming):
            await self._wait()

    def take_body(self) -> bytes:
        body = self.body
        if not body:
            return b""
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        self.buffered = 0
        return data

    async def iter_body(self) -> AsyncIterator[bytes]:
        while True:
            if self.body:
                data = self.take_body()
                if self.read_paused and not self.closed:
                    assert self.transport is not None
                    self.read_paused = False
                    self.transport.resume_reading()
                yield data
            elif self.complete:
                return
            else:
                await self._wait()

    def release(self) -> None:
        """Back to the pool when the response was read to its end, else closed."""
        if not self.busy:
            return
        self.busy = False
        reusable = self.complete and self.keep_alive and not self.closed and self.error is None
        self.body.clear()
        if reusable:
            self.pool.put(self)
        else:
            self.close()
        self.pool.upstreams.done()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        self.pool.forget(self)


class _Pool:
    """Idle keep-alive connections to one service, most recently used first."""

    def __init__(self, upstreams: Upstreams, service: str, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported upstream URL for {service}: {base_url!r}")
        self.upstreams = upstreams
        self.service = service
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host_header = parts.netloc.rsplit("@", 1)[-1] if not default_port else self.host
        self.host_line = b"host: " + host_header.encode("idna") + b"\r\n"
        self.prefix = parts.path.rstrip("/").encode("latin-1")
        self.connect_timeout = upstreams.settings.upstream_connect_timeout
        self.read_timeout = upstreams.settings.upstream_read_timeout
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Connection] = []

    def take_idle(self) -> _Connection | None:
        """The most recently used idle connection still open, if any."""
        idle = self.idle
        if not idle:
            return None
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if now - conn.idle_since > KEEPALIVE_SECONDS:
                # This one and every older one below it has outlived the keep-alive.
                stale = [conn, *idle]
                idle.clear()
                for old in stale:
                    old.close()
                return None
            conn.reused = True
            return conn
        return None

    async def connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, protocol = await self.loop.create_connection(
                    lambda: _Connection(self), self.host, self.port, ssl=self.ssl
                )
        except TimeoutError as exc:
            raise GatewayTimeout(
                f"service {self.service} did not accept a connection in time"
            ) from exc
        except OSError as exc:
            raise ServiceUnavailable(f"service {self.service} is not reachable") from exc
        return cast(_Connection, protocol)

    def put(self, conn: _Connection) -> None:
        if len(self.idle) >= MAX_IDLE_PER_SERVICE:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        self.idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        if not conn.busy and conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


class Upstreams:
    def __init__(self, settings: GatewaySettings) -> None:
        self.base = {
            "rounds": settings.rounds_url.rstrip("/"),
            "findings": settings.findings_url.rstrip("/"),
            "referrals": settings.referrals_url.rstrip("/"),
        }
        self.settings = settings
        self.limit = settings.upstream_pool_size
        self._pools: dict[str, _Pool] = {}
        self._active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def start(self) -> None:
        self._pools = {name: _Pool(self, name, url) for name, url in self.base.items()}

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()

    async def _slot(self) -> None:
        """A connection slot: waits while `upstream_pool_size` connections are in use."""
        if self._active < self.limit:
            self._active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter  # woken by done(), which hands its slot over
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.done()  # woken but cancelled: pass the slot on
            raise

    def done(self) -> None:
        """Gives a slot back, to the first waiter if there is one."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._active -= 1

    def head_of(
        self, service: str, method: str, target: bytes, headers: Iterable[tuple[str, str]]
    ) -> bytes:
        """The request line and headers, for callers that have str headers."""
        lines = b"".join(
            k.encode("latin-1") + b": " + v.encode("latin-1") + b"\r\n" for k, v in headers
        )
        return self.request_head(service, method, target, lines)

    def request_head(self, service: str, method: str, target: bytes, header_lines: bytes) -> bytes:
        pool = self._pools[service]
        return b"".join(
            (
                method.encode("ascii"),
                b" ",
                pool.prefix,
                target,
                b" HTTP/1.1\r\n",
                pool.host_line,
                header_lines,
                b"\r\n",
            )
        )

    async def request(
        self,
        service: str,
        method: str,
        raw_path: str,
        query: bytes,
        headers: list[tuple[str, str]],
        body: RequestBody,
    ) -> tuple[UpstreamResponse, Releasable]:
        """Sends the request (a streamed body needs its content-length among `headers`); the
        caller must release the returned handle."""
        target = raw_path.encode("latin-1")
        if query:
            target += b"?" + query
        if isinstance(body, bytes):
            headers = [*headers, ("content-length", str(len(body)))]
        head = self.head_of(service, method, target, headers)
        return await self.exchange(service, method, head, body)

    async def exchange(
        self, service: str, method: str, head: bytes, body: RequestBody
    ) -> tuple[UpstreamResponse, Releasable]:
        """Sends `head` (from `request_head`) and the body; the caller releases the handle."""
        pool = self._pools[service]
        if self._active < self.limit:
            self._active += 1
        else:
            await self._slot()
        streamed = body is not None and not isinstance(body, bytes)
        retry = not streamed and method in RETRYABLE_METHODS
        while True:
            conn = pool.take_idle()
            try:
                if conn is None:
                    conn = await pool.connect()
                conn.begin(head=method == "HEAD")
                if body is None or isinstance(body, bytes):
                    conn.write(head, body)
                else:
                    await conn.write_stream(head, body)
                if not (conn.complete or conn.streaming):
                    await conn.response_head()
            except BaseException as exc:
                if conn is None:
                    self.done()
                    if isinstance(exc, Exception):
                        raise self.as_problem(service, exc) from exc
                    raise
                stale = conn.reused and not conn.got_data
                conn.error = conn.error or exc
                conn.release()  # closes it, gives the slot back
                if retry and stale and isinstance(exc, UpstreamDisconnected):
                    retry = False
                    await self._slot()
                    continue
                if isinstance(exc, Exception):
                    raise self.as_problem(service, exc) from exc
                raise
            if conn.streaming:
                return UpstreamResponse(conn.status, conn.headers, None, conn.iter_body()), conn
            data = conn.take_body()
            response = UpstreamResponse(conn.status, conn.headers, data, None)
            conn.release()
            return response, RELEASED

    def as_problem(self, service: str, exc: BaseException) -> Problem:
        if isinstance(exc, Problem):
            return exc
        if isinstance(exc, TimeoutError):
            return GatewayTimeout(f"service {service} did not answer in time")
        if isinstance(exc, ConnectionRefusedError):
            return ServiceUnavailable(f"service {service} is not reachable")
        return BadGateway(f"service {service} failed: {type(exc).__name__}")
