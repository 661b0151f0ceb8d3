"""Users, refresh tokens, machine clients and revocations of access tokens (schema `gateway`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_username_lower", func.lower(text("username")), unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    failed_logins: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Carried by access tokens as `ver`; raised by a trigger when the account is disabled, its
    # password or its roles change (see AccessRevocation).
    token_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the ETag of the administrator's API: every change made there or by ops sets it
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RefreshToken(Base):
    """A refresh token is used once; its successor stays in the same family. Presenting a used
    token again means it was stolen or replayed: the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiClient(Base):
    """A machine client, an API key (one of our services, the discipline platform, the
    higher-level office's system): OAuth2 client credentials, the secret stored as an argon2
    hash. Its tokens carry its roles and its scopes (`<resource>:read|write` of the policy
    table, services/common/policy.py) and expire no later than the key (`expires_at`; only our
    own services' keys, rotated by `ops`, have none)."""

    __tablename__ = "api_clients"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    description: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # as User.token_version: raised when the client is disabled, its secret or roles change
    token_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the ETag: every change sets it (the last use does not)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccessRevocation(Base):
    """Access tokens refused before they expire (gateway/identity/revocations.py).

    A row names a login (`session_id`: the refresh-token family the token's `sid` claim carries;
    logout and a replayed refresh token add one) or a subject's lowest valid `ver` claim
    (`min_version`; added by the triggers on `users` and `api_clients` when an account is
    disabled or its password, secret or roles change). Every insert is announced with NOTIFY on
    `gateway_access_revocations` to each gateway replica. A row matters only while a token
    issued before it can still be alive (the access-token lifetime); older rows are deleted."""

    __tablename__ = "access_revocations"
    __table_args__ = (
        CheckConstraint(
            "session_id IS NOT NULL OR min_version IS NOT NULL", name="session_or_version"
        ),
        Index("ix_access_revocations_revoked_at", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    subject: Mapped[str] = mapped_column(String(100))
    session_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    min_version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
