"""Tables of the findings service (schema `findings`).

Ids owned by the rounds service (assignment, round, group, target, category) are kept with a
snapshot of what a finding must show (target name, category code and name). Every mutable table
has `version` (the ETag, bumped by SQLAlchemy on UPDATE) and `updated_at` (delta sync); deleted
findings and comments are recorded in `tombstones`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from services.common.db import schema_metadata
from services.common.enums import LabeledEnum
from services.common.events.inbox import inbox_table
from services.common.events.outbox import outbox_table
from services.common.idempotency import idempotency_table
from services.common.tombstones import tombstone_table
from services.findings.enums import DutyType, FindingSource, FindingStatus, Severity

metadata = schema_metadata("findings")
idempotency_keys = idempotency_table(metadata)
outbox = outbox_table(metadata)  # integration events, written with the change they report
inbox = inbox_table(metadata)  # events consumed, each id once
tombstones = tombstone_table(metadata)


def one_of(column: str, enum: type[LabeledEnum]) -> CheckConstraint:
    values = ", ".join(f"'{m.value}'" for m in enum)
    return CheckConstraint(f"{column} IN ({values})", name=column)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Base(DeclarativeBase):
    metadata = metadata


class Finding(Base):
    """问题: what a group found at a target, filed under a category of the round's checklist."""

    __tablename__ = "findings"
    __table_args__ = (
        one_of("source", FindingSource),
        one_of("status", FindingStatus),
        one_of("severity", Severity),
        CheckConstraint("money_involved >= 0", name="money_involved_nonnegative"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="point_complete"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        Index("ix_findings_created_at_id", "created_at", "id"),
        Index("ix_findings_group_id_created_at", "group_id", "created_at"),
        Index("ix_findings_target_id_category_code", "target_id", "category_code"),
        # the figures of rounds (stats): an index-only scan, grouped in index order
        Index(
            "ix_findings_round_id_category_code_status_severity",
            "round_id",
            "category_code",
            "status",
            "severity",
            postgresql_include=["money_involved"],
        ),
    )

    id: Mapped[uuid.UUID] = _id()
    assignment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    round_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    target_name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    category_code: Mapped[str] = mapped_column(String(20))
    category_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    facts: Mapped[str] = mapped_column(Text)
    money_involved: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    source: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20), server_default=text("'minor'"))
    discovered_on: Mapped[date] = mapped_column(Date)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'draft'"))
    recurrence_of: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="SET NULL")
    )
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), index=True
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class FindingPerson(Base):
    """涉及人员: a person a finding names. The resident ID number is confidential."""

    __tablename__ = "finding_persons"

    id: Mapped[uuid.UUID] = _id()
    finding_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    rank: Mapped[str] = mapped_column(String(100), server_default=text("''"))
    id_number: Mapped[str | None] = mapped_column(String(18))


class FindingTransition(Base):
    """The history of a finding's status: who moved it, when, from what to what, and why."""

    __tablename__ = "finding_transitions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, server_default=text("''"))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Consultation(Base):
    """An expert (业务指导组专家) consulted on a finding: they may read it."""

    __tablename__ = "consultations"

    finding_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True
    )
    expert_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()


class Evidence(Base):
    """证据: a file stored under its SHA-256, checked again on every download."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_finding_id_created_at", "finding_id", "created_at"),)

    id: Mapped[uuid.UUID] = _id()
    finding_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="CASCADE")
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()


class ResponsibilityLink(Base):
    """倒查: a body (a target in rounds' registry) that failed a duty behind a finding."""

    __tablename__ = "responsibility_links"
    __table_args__ = (
        one_of("duty", DutyType),
        Index("ix_responsibility_links_body_id_created_at", "body_id", "created_at"),
        Index("uq_responsibility_links_finding_body_duty", "finding_id", "body_id", "duty",
              unique=True),
    )  # fmt: skip

    id: Mapped[uuid.UUID] = _id()
    finding_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    body_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    body_name: Mapped[str] = mapped_column(String(200))
    duty: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, server_default=text("''"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()


class FindingComment(Base):
    """评论（意见）: a remark on a finding by its group, the office or an expert consulted on it.

    `author_name` is a display copy of the name the author's token carried when writing (none if
    it carried none). Mutable like a finding: `version` is its ETag, `updated_at` drives delta
    sync."""

    __tablename__ = "finding_comments"
    __table_args__ = (
        CheckConstraint("char_length(body) BETWEEN 1 AND 5000", name="body_length"),
        Index("ix_finding_comments_finding_id_created_at_id", "finding_id", "created_at", "id"),
        Index("ix_finding_comments_finding_id_updated_at", "finding_id", "updated_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    finding_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="CASCADE")
    )
    author: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}
