"""The hash chain: what an audit entry is, how it is serialised, how entries link.

An entry's content is serialised canonically (JSON, keys sorted, no whitespace, UTF-8; the
time as ISO 8601 in UTC) and hashed: `digest = SHA-256(canonical)`. The link is
`hash = SHA-256(prev_hash ‖ seq as 8 bytes big-endian ‖ digest)`, with 32 zero bytes before the
first entry. The gateway computes the digest; the database's `audit.append` (ops/bootstrap.py)
takes the chain lock, assigns `seq` and `prev_hash` and computes `hash` with the same formula,
so an application cannot write a row with a forged link. The verifier recomputes both from the
stored columns: a changed field, a changed hash or a missing entry breaks the chain there.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

FORMAT_VERSION = 1
GENESIS = bytes(32)
# the longest stored text of each free-form field: a hostile client cannot grow a row unboundedly
MAX_TEXT = 2048


def clean(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """Text PostgreSQL can store (no NUL, valid UTF-8) and of bounded length."""
    if value is None:
        return None
    value = value.replace("\x00", "\ufffd")[:limit]
    return value.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the audit trail (审计日志): who did what to which record, when, from where."""

    at: datetime
    request_id: str
    action: str  # "read" or "write"
    phase: str  # "intent" (a write about to be forwarded) or "outcome" (its status is known)
    method: str
    path: str
    query: str = ""
    actor_id: str | None = None
    actor_name: str | None = None
    actor_roles: tuple[str, ...] = ()
    client_ip: str | None = None
    resource: str | None = None
    resource_id: str | None = None
    status: int | None = None
    intent_seq: int | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def canonical(self) -> bytes:
        body: dict[str, Any] = asdict(self)
        body["v"] = FORMAT_VERSION
        body["at"] = self.at.astimezone(UTC).isoformat()
        body["actor_roles"] = list(self.actor_roles)
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    def digest(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()

    @classmethod
    def from_row(cls, row: Any) -> Entry:
        """The entry as stored (a row of `audit.log`, by attribute)."""
        return cls(
            at=row.at,
            request_id=row.request_id,
            action=row.action,
            phase=row.phase,
            method=row.method,
            path=row.path,
            query=row.query,
            actor_id=row.actor_id,
            actor_name=row.actor_name,
            actor_roles=tuple(row.actor_roles or ()),
            client_ip=row.client_ip,
            resource=row.resource,
            resource_id=row.resource_id,
            status=row.status,
            intent_seq=row.intent_seq,
            # jsonb: a dict through SQLAlchemy, its text through plain asyncpg
            detail=orjson.loads(row.detail) if isinstance(row.detail, str) else dict(row.detail),
        )


def link(prev_hash: bytes, seq: int, digest: bytes) -> bytes:
    """The hash of entry `seq` (what `audit.append` computes in SQL)."""
    return hashlib.sha256(prev_hash + seq.to_bytes(8, "big") + digest).digest()


def now() -> datetime:
    return datetime.now(UTC)
