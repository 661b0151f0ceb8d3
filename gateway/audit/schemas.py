"""What the audit endpoints answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AuditEntryRead(BaseModel):
    """审计日志条目 One entry of the audit trail."""

    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="position in the chain, from 1, without gaps")
    at: datetime
    request_id: str
    action: str = Field(description="`read` or `write`")
    phase: str = Field(
        description="`intent`: a write about to be forwarded; `outcome`: the status answered"
    )
    actor_id: str | None = Field(description="user id, or `client:<id>` for a machine client")
    actor_name: str | None = Field(description="username or client id (tried, for a login)")
    actor_roles: list[str]
    client_ip: str | None
    method: str
    path: str
    query: str
    resource: str | None
    resource_id: str | None
    status: int | None = Field(description="the status answered (none on an intent)")
    intent_seq: int | None = Field(description="on a write's outcome: its intent entry")
    detail: dict[str, Any] = Field(description="for a login: grant type, username or client id")
    prev_hash: str = Field(description="hex")
    hash: str = Field(description="hex: SHA-256(prev_hash ‖ seq ‖ SHA-256(entry))")

    @field_validator("prev_hash", "hash", mode="before")
    @classmethod
    def _hex(cls, value: object) -> object:
        return value.hex() if isinstance(value, bytes) else value


class VerifyBreak(BaseModel):
    seq: int = Field(description="the first entry that does not verify")
    reason: str


class VerifyResult(BaseModel):
    ok: bool
    checked: int = Field(description="entries recomputed")
    head_seq: int = Field(description="the newest entry when verification began")
    first_broken: VerifyBreak | None = None


class PublicKey(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str


class SignedHead(BaseModel):
    """链头 The chain's newest entry, signed by the gateway, for an outside party to keep."""

    seq: int = Field(description="0 while the log is empty")
    hash: str = Field(description="hex")
    at: datetime | None
    signed: str = Field(
        description="JWS (EdDSA) with claims iss, sub=`audit-head`, iat, seq, hash, at; verify "
        "with `public_key` or the gateway's /.well-known/jwks.json"
    )
    public_key: PublicKey
