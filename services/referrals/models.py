"""Tables of the referrals service (schema `referrals`).

Every mutable table has `version` (bumped by SQLAlchemy on UPDATE; the ETag) and `updated_at`
(delta sync); deletions are recorded in `tombstones`. Findings and rounds belong to other
services: only their ids are kept here, plus a snapshot of the few finding fields shown
(`finding_snapshots`), taken when a lead or item is made from them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    cast,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, declared_attr, mapped_column

from services.common.db import schema_metadata
from services.common.enums import LabeledEnum
from services.common.events.outbox import outbox_table
from services.common.idempotency import idempotency_table
from services.common.tombstones import tombstone_table
from services.referrals.enums import (
    Adoption,
    GovernmentSanction,
    Handling,
    LeadRecipient,
    LeadStatus,
    NoticeRecipient,
    OrganisationalHandling,
    OwnerType,
    PartySanction,
    Rank,
    RectificationStatus,
)

metadata = schema_metadata("referrals")
idempotency_keys = idempotency_table(metadata)
outbox = outbox_table(metadata)  # integration events, written with the change they report
tombstones = tombstone_table(metadata)


def one_of(column: str, enum: type[LabeledEnum], *, nullable: bool = False) -> CheckConstraint:
    values = ", ".join(f"'{m.value}'" for m in enum)
    check = f"{column} IN ({values})"
    return CheckConstraint(f"{column} IS NULL OR {check}" if nullable else check, name=column)


def shanghai_today() -> Any:
    """The office's calendar day in SQL (Asia/Shanghai), whatever the session time zone."""
    return cast(func.timezone("Asia/Shanghai", func.now()), Date)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _uuids() -> Mapped[list[uuid.UUID]]:
    return mapped_column(ARRAY(UUID(as_uuid=True)), server_default=text("'{}'"))


MONEY = Numeric(14, 2)


class Base(DeclarativeBase):
    metadata = metadata


class Versioned:
    """Mixin: optimistic concurrency and delta sync."""

    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), index=True
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class FindingSnapshot(Base):
    """The fields of a finding (owned by the findings service) that leads and items show,
    as read through the gateway when last used here."""

    __tablename__ = "finding_snapshots"

    finding_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    target_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    round_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    group_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    refreshed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Receiver(Versioned, Base):
    """A user of a recipient body (纪委监委, 组织部 …) who handles the leads sent to it. The
    gateway's tokens carry no recipient, so the office keeps this list: user id → body."""

    __tablename__ = "receivers"
    __table_args__ = (
        one_of("recipient", LeadRecipient),
        UniqueConstraint("user_id"),
        Index("ix_receivers_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    recipient: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100), server_default=text("''"))
    created_by: Mapped[str] = mapped_column(String(64))


class Lead(Versioned, Base):
    """问题线索: made from findings, approved by the office head, transferred to a recipient
    body, handled there (four handlings), possibly a case (立案), concluded with an outcome per
    subject."""

    __tablename__ = "leads"
    __table_args__ = (
        one_of("recipient", LeadRecipient),
        one_of("status", LeadStatus),
        one_of("handling", Handling, nullable=True),
        CheckConstraint("cardinality(finding_ids) > 0", name="has_findings"),
        CheckConstraint("money_recovered >= 0", name="money_not_negative"),
        UniqueConstraint("transfer_letter_no"),
        Index("ix_leads_created_at_id", "created_at", "id"),
        Index("ix_leads_finding_ids", "finding_ids", postgresql_using="gin"),
        Index("ix_leads_recipient_status", "recipient", "status"),
    )

    id: Mapped[uuid.UUID] = _id()
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    finding_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    round_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    recipient: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'draft'"))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    transfer_letter_no: Mapped[str | None] = mapped_column(String(100))
    transferred_on: Mapped[date | None] = mapped_column(Date)
    feedback_due: Mapped[date | None] = mapped_column(Date)
    handling: Mapped[str | None] = mapped_column(String(30))
    case_number: Mapped[str | None] = mapped_column(String(100))
    case_filed_on: Mapped[date | None] = mapped_column(Date)
    concluded_on: Mapped[date | None] = mapped_column(Date)
    money_recovered: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    created_by: Mapped[str] = mapped_column(String(64))
    # 逾期未反馈: transferred, not concluded, and the deadline is before today (Shanghai).
    overdue: Mapped[bool] = column_property(
        and_(
            feedback_due.is_not(None),
            status != LeadStatus.concluded.value,
            feedback_due < shanghai_today(),
        )
    )


class LeadSubject(Base):
    """被反映人: a person a lead is about, and the outcome for them once concluded."""

    __tablename__ = "lead_subjects"
    __table_args__ = (
        one_of("rank", Rank),
        one_of("party_sanction", PartySanction, nullable=True),
        one_of("government_sanction", GovernmentSanction, nullable=True),
        one_of("organisational_handling", OrganisationalHandling, nullable=True),
        CheckConstraint("party_sanction IS NULL OR party_member", name="party_sanction_member"),
        CheckConstraint(
            "NOT not_substantiated OR (party_sanction IS NULL AND government_sanction IS NULL"
            " AND organisational_handling IS NULL AND NOT judicial_transfer)",
            name="unsubstantiated_alone",
        ),
        UniqueConstraint("lead_id", "position_no"),
    )

    id: Mapped[uuid.UUID] = _id()
    lead_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("leads.id", ondelete="CASCADE")
    )
    position_no: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    rank: Mapped[str] = mapped_column(String(20))
    party_member: Mapped[bool] = mapped_column(Boolean)
    party_sanction: Mapped[str | None] = mapped_column(String(30))
    government_sanction: Mapped[str | None] = mapped_column(String(30))
    organisational_handling: Mapped[str | None] = mapped_column(String(30))
    judicial_transfer: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    not_substantiated: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    outcome_note: Mapped[str] = mapped_column(Text, server_default=text("''"))


class LeadTransition(Base):
    """The history of a lead's state: who moved it, when, from what to what, and why."""

    __tablename__ = "lead_transitions"

    id: Mapped[uuid.UUID] = _id()
    lead_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, server_default=text("''"))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _created()


class RectificationItem(Versioned, Base):
    """整改事项: a problem the inspected unit must fix by a deadline, owned by someone, signed
    off (销号) by the office, and reopened when a follow-up (回头看) finds it back."""

    __tablename__ = "rectification_items"
    __table_args__ = (
        one_of("owner_type", OwnerType),
        one_of("status", RectificationStatus),
        CheckConstraint("cardinality(finding_ids) > 0", name="has_findings"),
        Index("ix_rectification_items_created_at_id", "created_at", "id"),
        Index("ix_rectification_items_finding_ids", "finding_ids", postgresql_using="gin"),
        # the daily escalation: open statuses, deadline up to a day (an index range)
        Index("ix_rectification_items_status_deadline", "status", "deadline"),
    )
    # Owner, leader in charge and unit head each see the item: each of them is indexed.

    id: Mapped[uuid.UUID] = _id()
    title: Mapped[str] = mapped_column(String(300))
    duties: Mapped[str] = mapped_column(Text)
    finding_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    round_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    owner_type: Mapped[str] = mapped_column(String(30))
    owner_name: Mapped[str] = mapped_column(String(200))
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    leader_name: Mapped[str | None] = mapped_column(String(100))
    leader_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    unit_head_name: Mapped[str | None] = mapped_column(String(100))
    unit_head_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(30), server_default=text("'open'"))
    signed_off_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    # 逾期未整改: not signed off, and the deadline is before today (Shanghai).
    overdue: Mapped[bool] = column_property(
        and_(status != RectificationStatus.signed_off.value, deadline < shanghai_today())
    )


class ProgressReport(Base):
    """整改进展: what the owner reports having done."""

    __tablename__ = "progress_reports"
    __table_args__ = (Index("ix_progress_reports_item_id_at", "item_id", "at"),)

    id: Mapped[uuid.UUID] = _id()
    item_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rectification_items.id", ondelete="CASCADE")
    )
    note: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _created()


class RectificationTransition(Base):
    """The history of an item's state (completion requests, sign-off, send-back, reopening)."""

    __tablename__ = "rectification_transitions"

    id: Mapped[uuid.UUID] = _id()
    item_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rectification_items.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, server_default=text("''"))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _created()


class Notice(Base):
    """督办提醒: one rung of the escalation ladder reached by one item for one deadline. Unique,
    so running the check again on the same or a later day never sends it twice."""

    __tablename__ = "notices"
    __table_args__ = (
        one_of("recipient", NoticeRecipient),
        UniqueConstraint("item_id", "days_before", "recipient", "deadline"),
        Index("ix_notices_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    item_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rectification_items.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(20))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    days_before: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[date] = mapped_column(Date)
    issued_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class Suggestion(Versioned, Base):
    """意见建议: what a round recommends to a body (possibly about one inspected unit and some
    findings), and whether it was adopted."""

    __tablename__ = "suggestions"
    __table_args__ = (
        one_of("adoption", Adoption),
        Index("ix_suggestions_created_at_id", "created_at", "id"),
        Index("ix_suggestions_finding_ids", "finding_ids", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _id()
    round_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    target_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    addressed_to: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    adoption: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    adoption_note: Mapped[str] = mapped_column(Text, server_default=text("''"))
    finding_ids: Mapped[list[uuid.UUID]] = _uuids()
    created_by: Mapped[str] = mapped_column(String(64))


class EstablishedRule(Versioned, Base):
    """建立健全制度: a rule an inspected unit made as a result of a round, linked to the
    findings or suggestions behind it."""

    __tablename__ = "rules"
    __table_args__ = (
        Index("ix_rules_created_at_id", "created_at", "id"),
        Index("ix_rules_finding_ids", "finding_ids", postgresql_using="gin"),
        Index("ix_rules_suggestion_ids", "suggestion_ids", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _id()
    round_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    target_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    unit: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    document_no: Mapped[str | None] = mapped_column(String(100))
    issued_on: Mapped[date | None] = mapped_column(Date)
    finding_ids: Mapped[list[uuid.UUID]] = _uuids()
    suggestion_ids: Mapped[list[uuid.UUID]] = _uuids()
    created_by: Mapped[str] = mapped_column(String(64))
