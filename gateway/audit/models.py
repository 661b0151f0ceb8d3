"""The audit log as the gateway reads it. The table is made by ops/bootstrap.py (as the
administrator, owned by the NOLOGIN role `audit_owner`), not by the gateway's Alembic history:
the gateway's role may only read it and append through `audit.append`. Hence its own metadata,
apart from `gateway.db.metadata` (which Alembic migrates)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, MetaData, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import NAMING_CONVENTION

SCHEMA = "audit"
metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


class AuditBase(DeclarativeBase):
    metadata = metadata


class AuditEntry(AuditBase):
    """审计日志: one row per audited request (two for a write: intent, then outcome)."""

    __tablename__ = "log"
    __table_args__ = (
        Index("ix_log_actor_name_seq", "actor_name", "seq"),
        Index("ix_log_actor_id_seq", "actor_id", "seq"),
        Index("ix_log_resource_resource_id_seq", "resource", "resource_id", "seq"),
        Index("ix_log_request_id", "request_id"),
        Index("ix_log_at", "at", postgresql_using="brin"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(Text)
    actor_name: Mapped[str | None] = mapped_column(Text)
    actor_roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    client_ip: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(Text)
    resource_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    intent_seq: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
