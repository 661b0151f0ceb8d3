"""Tables of the findings service (schema `findings`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, Index, Numeric, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import schema_metadata
from services.common.idempotency import idempotency_table
from services.findings.enums import FindingSource, FindingStatus

metadata = schema_metadata("findings")
idempotency_keys = idempotency_table(metadata)


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Base(DeclarativeBase):
    metadata = metadata


class Finding(Base):
    """问题: what a group found at a target. `target_id` is an id owned by the rounds service."""

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(_in("source", [s.value for s in FindingSource]), name="source"),
        CheckConstraint(_in("status", [s.value for s in FindingStatus]), name="status"),
        CheckConstraint("money_involved >= 0", name="money_involved_nonnegative"),
        Index("ix_findings_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    title: Mapped[str] = mapped_column(String(300))
    facts: Mapped[str] = mapped_column(Text)
    money_involved: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    source: Mapped[str] = mapped_column(String(20))
    discovered_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), server_default=text("'draft'"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
