"""The audit trail's recorder: an ASGI layer around everything the gateway serves.

What is recorded (审计): every write (POST, PUT, PATCH, DELETE; logins and token refreshes
included, with the username or client id tried and never a password, secret or token), and
every read (GET, HEAD) of the confidential resources: leads and their subjects, findings (they
carry the persons involved), exports, and the audit log itself (`GATEWAY_AUDIT_READ_RESOURCES`).
Each entry says who (user id, username and roles, or the machine client), what (method, path,
query, resource and its id, the status answered), when (UTC), from where (the client's address;
`X-Forwarded-For` is believed only from `GATEWAY_AUDIT_TRUSTED_PROXIES`) and the request id.

When, and what happens if the audit log cannot be written:
- A read is recorded once its status is known and before any of the answer leaves: the
  response start is held until the entry is committed. If it cannot be written the client gets
  503 (audit-trail-unavailable) instead of the data, so nothing confidential is ever shown
  without a record of it.
- A write is recorded twice. An *intent* entry is committed before the request is forwarded;
  if that fails the client gets 503 and nothing was done. The *outcome* entry (with the status,
  pointing at its intent by `intent_seq`) is committed before the response start is released.
  The service has committed by then, and a database transaction cannot span the service and
  the audit log; so if the outcome cannot be written, the write has happened, it is on record
  as attempted (its intent), the client gets 503 rather than an acknowledgement, the failure is
  logged as an error and counted (`audit_append_failures_total`). A client that retries with
  its Idempotency-Key gets the first answer, which is then recorded. An intent without an
  outcome therefore means "outcome unknown": the request id finds it in the service's log.
  Recording only after the fact would leave a write that happened with no record at all
  whenever the gateway or the database failed in between; recording only before would not say
  whether it succeeded. The price is two appends per write.

The appends of all gateway replicas are serialised by one lock in `audit.append`, so the chain
is linear and `seq` has no gaps; see chain.py for the hashes and ops/bootstrap.py for why the
gateway's role can append and read but never change or delete an entry.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit.chain import Entry, clean, now
from gateway.audit.errors import AuditTrailUnavailable
from gateway.audit.writer import AppendFailed, AuditWriter
from gateway.identity.api import basic_credentials
from gateway.identity.errors import InvalidAccessToken
from gateway.identity.revocations import RevocationsUnknown
from gateway.identity.tokens import AccessTokens, bearer_token
from gateway.settings import GatewaySettings
from services.common.errors import problem_response
from services.common.requestid import current_request_id, new_request_id

PREFIX = "/api/v1/"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READS = frozenset({"GET", "HEAD"})
LOGIN_PATH = "/api/v1/auth/token"
# a token request is a small form; beyond this it is passed on unread (and not parsed here)
LOGIN_FORM_LIMIT = 64 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Actor:
    id: str | None = None
    name: str | None = None
    roles: tuple[str, ...] = ()


def resource_of(path: str) -> tuple[str | None, str | None]:
    """`/api/v1/findings/<uuid>/evidence/<uuid>` -> ("findings", "<first uuid>")."""
    if not path.startswith(PREFIX):
        return None, None
    parts = path[len(PREFIX) :].split("/")
    resource = parts[0] or None
    for part in parts[1:]:
        try:
            return resource, str(uuid.UUID(part))
        except ValueError:
            continue
    return resource, None


def client_ip(scope: Scope, trusted: Sequence[Network]) -> str | None:
    """The peer's address; when the peer is a trusted proxy, the nearest address in
    X-Forwarded-For that is not one (read from the right: the left part is the client's word)."""
    client = scope.get("client")
    peer = client[0] if client else None
    if peer is None or not trusted or not _trusted(peer, trusted):
        return peer
    forwarded: list[str] = []
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded += [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(forwarded):
        if not _trusted(hop, trusted):
            return clean(hop, 64)
    return clean(forwarded[0], 64) if forwarded else peer


def _trusted(address: str, trusted: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def login_detail(
    body: bytes | None, content_type: str, authorization: str | None
) -> dict[str, str]:
    """What a token request says about who is logging in: grant type, username or client id.
    Never the password, the client secret or a refresh token."""
    detail: dict[str, str] = {}
    basic = basic_credentials(authorization)
    if basic:
        detail["client_id"] = basic[0]
    if body is None:
        detail["form"] = "too large to read"
    elif content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        for key in ("grant_type", "username", "client_id"):
            if form.get(key):
                detail.setdefault(key, form[key][0])
    else:
        detail["form"] = "not url-encoded, not read"
    return {k: clean(v, 256) or "" for k, v in detail.items()}


class AuditMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: GatewaySettings,
        tokens: AccessTokens,
        writer: AuditWriter | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.writer = writer or AuditWriter(
            settings.database_url, timeout=settings.audit_timeout_seconds
        )
        self.read_resources = frozenset(settings.audit_read_resources)
        self.trusted: tuple[Network, ...] = tuple(settings.audit_trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._closing_on_shutdown(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        resource, resource_id = resource_of(scope["path"])
        if method in WRITES:
            action = "write"
        elif method in READS and resource in self.read_resources:
            action = "read"
        else:
            await self.app(scope, receive, send)
            return
        await self._audited(scope, receive, send, action, resource, resource_id)

    def _closing_on_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.writer.close()
            return message

        return wrapped

    def _actor(self, authorization: str | None, detail: dict[str, str]) -> Actor:
        token = bearer_token(authorization)
        if token is None:
            return Actor()
        try:
            caller = self.tokens.verify(token)
        except (InvalidAccessToken, RevocationsUnknown):
            detail["credentials"] = "rejected"
            return Actor()
        return Actor(caller.subject, caller.username, caller.roles)

    def _logged_in(self, body: bytes) -> Actor | None:
        """Who a successful token response is for: the subject of the access token issued."""
        try:
            token = orjson.loads(body)["access_token"]
            caller = self.tokens.verify(token)
        except (
            orjson.JSONDecodeError,
            KeyError,
            TypeError,
            InvalidAccessToken,
            RevocationsUnknown,
        ):
            return None
        return Actor(caller.subject, caller.username, caller.roles)

    async def _audited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        action: str,
        resource: str | None,
        resource_id: str | None,
    ) -> None:
        authorization = lang = None
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"accept-language":
                lang = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1").lower()
        detail: dict[str, str] = {}
        actor = self._actor(authorization, detail)
        login = action == "write" and scope["path"] == LOGIN_PATH
        if login:
            body, receive = await _read_prefix(receive, LOGIN_FORM_LIMIT)
            detail.update(login_detail(body, content_type, authorization))
            tried = detail.get("username") or detail.get("client_id")
            actor = Actor(name=tried) if tried else actor
        base = Entry(
            at=now(),
            request_id=current_request_id() or new_request_id(),
            action=action,
            phase="outcome",
            method=scope["method"],
            path=clean(scope["path"]) or "",
            query=clean(scope["query_string"].decode("latin-1")) or "",
            actor_id=actor.id,
            actor_name=clean(actor.name, 256),
            actor_roles=actor.roles,
            client_ip=client_ip(scope, self.trusted),
            resource=clean(resource, 64),
            resource_id=resource_id,
            detail=detail,
        )

        async def refuse(why: str) -> None:
            response = problem_response(
                AuditTrailUnavailable(why),
                accept_language=lang,
                instance=scope["path"],
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)

        intent_seq: int | None = None
        if action == "write":
            try:
                intent_seq, _ = await self.writer.append(replace(base, phase="intent"))
            except AppendFailed:
                await refuse("the request could not be put on record; nothing was done")
                return

        recorded = refused = False
        start: Message | None = None
        held: list[bytes] = []

        async def record(status: int, who: Actor) -> bool:
            nonlocal recorded
            recorded = True
            entry = replace(
                base,
                at=now(),
                status=status,
                intent_seq=intent_seq,
                actor_id=who.id,
                actor_name=clean(who.name, 256),
                actor_roles=who.roles,
            )
            try:
                await self.writer.append(entry)
            except AppendFailed:
                return False
            return True

        async def release(message: Message, who: Actor) -> bool:
            """Records the outcome; False (and a 503 sent instead) if it could not be."""
            nonlocal refused
            if await record(message["status"], who):
                return True
            refused = True
            await refuse(
                f"the request was carried out (status {message['status']}) but the record of "
                "its outcome could not be completed; it is on record as attempted"
                if action == "write"
                else "the read could not be put on record; nothing was sent"
            )
            return False

        async def audited_send(message: Message) -> None:
            nonlocal start
            if refused:
                return  # the client has its 503; the rest of this answer goes nowhere
            kind = message["type"]
            if kind == "http.response.start":
                if login:
                    start = message  # held with its body: the body says who logged in
                elif await release(message, actor):
                    await send(message)
                return
            if login and kind == "http.response.body" and start is not None:
                held.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(held)
                who = (self._logged_in(body) if start["status"] == 200 else None) or actor
                if await release(start, who):
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        finally:
            if not recorded:
                # it failed before answering (the server answers 500): on record all the same
                await record(500, actor)


async def _read_prefix(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The request body if it is at most `limit` bytes (None if longer), and a `receive` that
    hands the app every message again, from the first."""
    consumed: list[Message] = []
    size = 0
    complete = False
    while size <= limit:
        message = await receive()
        consumed.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            complete = True
            break

    async def replay() -> Message:
        if consumed:
            return consumed.pop(0)
        return await receive()

    if not complete or size > limit:
        return None, replay
    body = b"".join(m.get("body", b"") for m in consumed)
    return body, replay
