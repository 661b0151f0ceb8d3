"""Idempotency-Key on POST: a retried request gets the first response, never a second effect.

For a POST carrying `Idempotency-Key`, this middleware opens the request's database transaction
itself and takes a transaction-scoped advisory lock on (caller, key). The first request runs; if
it succeeds (2xx) its response is stored in the same transaction as the change it made, so the
two commit together or not at all. A retry with the same key and body replays the stored response
(with `Idempotent-Replayed: true`); the same key with a different body or path is refused with
422; a retry while the first is still running gets 409 (try again shortly). Failed requests are
not stored: they changed nothing, and a retry runs again. "The same body" means the same bytes:
a client that queues requests offline re-sends what it stored (for multipart, with the same
boundary). Keys are per caller and kept eight days,
long enough for a phone that was offline for a week.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from datetime import timedelta
from typing import IO, Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import BadRequest, Conflict, ValidationFailed, problem_response

HEADER = b"idempotency-key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
STATE_SESSION = "idempotent_session"
RETENTION = timedelta(days=8)
SPOOL_IN_MEMORY = 1024 * 1024
CHUNK = 64 * 1024


class RequestInProgress(Conflict):
    title_en = "A request with this Idempotency-Key is still being processed"
    title_zh = "相同幂等键的请求仍在处理中，请稍后重试"


def idempotency_table(metadata: MetaData) -> Table:
    """The table each service declares in its own schema (and creates in a migration)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("subject", String(64), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("method", String(10), nullable=False),
        Column("path", String(2000), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )


class IdempotencyMiddleware:
    """Must sit inside the internal-token check (it keys on the authenticated subject)."""

    def __init__(self, app: ASGIApp, table: Table) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER), None)
        if key is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        lang = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"accept-language"), None
        )
        if not _VALID_KEY.match(key):
            bad = BadRequest("Idempotency-Key must be 1-255 visible ASCII characters")
            await problem_response(bad, accept_language=lang)(scope, receive, send)
            return
        principal = state.get("principal")
        subject = getattr(principal, "subject", "anonymous")

        body, fingerprint = await _spool(receive)
        try:
            captured = await self._once(scope, send, body, fingerprint, subject, key, lang)
        finally:
            body.close()
        for message in captured:
            await send(message)

    async def _once(
        self,
        scope: Scope,
        send: Send,
        body: IO[bytes],
        fingerprint: str,
        subject: str,
        key: str,
        lang: str | None,
    ) -> list[Message]:
        """Runs the request once per (caller, key); returns the response to send, or sends a
        refusal or the replay itself and returns nothing."""
        state = scope["state"]
        path = scope["path"] + (
            "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
        )
        db = scope["app"].state.db

        async with db.sessions() as session:
            locked = await session.scalar(
                select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"{subject} {key}", 0)))
            )
            if not locked:
                await session.rollback()
                busy = RequestInProgress("a request with this Idempotency-Key is still running")
                await problem_response(busy, accept_language=lang, headers={"Retry-After": "1"})(
                    scope, _gone, send
                )
                return []
            row = (
                (
                    await session.execute(
                        select(self.table).where(
                            self.table.c.subject == subject, self.table.c.key == key
                        )
                    )
                )
                .mappings()
                .one_or_none()
            )
            if row is not None:
                await session.rollback()
                if row["fingerprint"] != fingerprint or row["path"] != path:
                    reused = ValidationFailed(
                        "this Idempotency-Key was used for a different request",
                        errors=[
                            {
                                "field": "header.idempotency-key",
                                "message": "key reused with a different request",
                                "code": "idempotency_key_reused",
                            }
                        ],
                    )
                    await problem_response(reused, accept_language=lang)(scope, _gone, send)
                    return []
                await _replay(send, row)
                return []

            state[STATE_SESSION] = session
            captured: list[Message] = []

            async def capture(message: Message) -> None:
                captured.append(message)

            try:
                await self.app(scope, _replaying(body), capture)
            except Exception:
                await session.rollback()
                raise
            finally:
                state.pop(STATE_SESSION, None)
            start = next((m for m in captured if m["type"] == "http.response.start"), None)
            status = start["status"] if start else 500
            if 200 <= status < 300 and start is not None:
                await _store(session, self.table, subject, key, path, fingerprint, start, captured)
                await session.commit()
            else:
                await session.rollback()
        return captured


async def _gone() -> Message:
    return {"type": "http.disconnect"}


async def _spool(receive: Receive) -> tuple[IO[bytes], str]:
    """The request body, hashed as it arrives and kept in memory up to 1 MiB, beyond that in a
    temporary file: an evidence upload with an Idempotency-Key is not held in memory."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    digest = hashlib.sha256()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        digest.update(chunk)
        spool.write(chunk)
        if not message.get("more_body", False):
            break
    spool.seek(0)
    return spool, digest.hexdigest()


def _replaying(spool: IO[bytes]) -> Receive:
    """Hands the spooled body to the app in chunks, then reports the client gone."""

    async def receive() -> Message:
        if spool.closed:
            return {"type": "http.disconnect"}
        chunk = spool.read(CHUNK)
        if chunk:
            return {"type": "http.request", "body": chunk, "more_body": True}
        spool.close()
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _store(
    session: AsyncSession,
    table: Table,
    subject: str,
    key: str,
    path: str,
    fingerprint: str,
    start: Message,
    captured: list[Message],
) -> None:
    headers = [
        [k.decode("latin-1"), v.decode("latin-1")]
        for k, v in start.get("headers", [])
        if k.lower() not in (b"content-length", b"x-request-id", b"date")
    ]
    body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
    # Purged per caller, which the primary key (subject, key) makes cheap.
    await session.execute(
        table.delete().where(
            table.c.subject == subject, table.c.created_at < func.now() - RETENTION
        )
    )
    await session.execute(
        table.insert().values(
            subject=subject,
            key=key,
            method="POST",
            path=path,
            fingerprint=fingerprint,
            status_code=start["status"],
            headers=headers,
            body=body,
        )
    )


async def _replay(send: Send, row: Any) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row["headers"]]
    headers.append((b"idempotent-replayed", b"true"))
    headers.append((b"content-length", str(len(row["body"])).encode()))
    await send({"type": "http.response.start", "status": row["status_code"], "headers": headers})
    await send({"type": "http.response.body", "body": bytes(row["body"])})
