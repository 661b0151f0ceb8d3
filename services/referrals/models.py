"""Tables of the referrals service (schema `referrals`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import schema_metadata
from services.common.idempotency import idempotency_table
from services.referrals.enums import LeadRecipient, LeadStatus

metadata = schema_metadata("referrals")
idempotency_keys = idempotency_table(metadata)


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Base(DeclarativeBase):
    metadata = metadata


class Lead(Base):
    """问题线索: made from findings (ids owned by the findings service), handed to a receiver."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(_in("recipient", [r.value for r in LeadRecipient]), name="recipient"),
        CheckConstraint(_in("status", [s.value for s in LeadStatus]), name="status"),
        CheckConstraint("cardinality(finding_ids) > 0", name="has_findings"),
        Index("ix_leads_created_at_id", "created_at", "id"),
        Index("ix_leads_finding_ids", "finding_ids", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    finding_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    recipient: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'draft'"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
