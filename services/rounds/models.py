"""Tables of the rounds service (schema `rounds`).

Every mutable table has `version` (bumped by SQLAlchemy on UPDATE; the ETag) and `updated_at`
(delta sync); deletions are recorded in `tombstones`. Ids owned by other services never appear
here; gateway user ids do (people.user_id) so a signed-in inspector can be matched to a person.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from services.common.db import schema_metadata
from services.common.enums import LabeledEnum
from services.common.events.outbox import outbox_table
from services.common.idempotency import idempotency_table
from services.common.tombstones import tombstone_table
from services.rounds.enums import (
    AssignmentMode,
    CategoryKind,
    GroupKind,
    MemberRole,
    RelationKind,
    RiskClass,
    RoundKind,
    RoundState,
    TargetKind,
)

metadata = schema_metadata("rounds")
idempotency_keys = idempotency_table(metadata)
outbox = outbox_table(metadata)  # integration events, written with the change they report
tombstones = tombstone_table(metadata)


def one_of(column: str, enum: type[LabeledEnum], name: str | None = None) -> CheckConstraint:
    values = ", ".join(f"'{m.value}'" for m in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name or column)


def ordered(start: str, end: str, name: str = "dates_ordered") -> CheckConstraint:
    """Both dates optional; when both are given the end is not before the start."""
    return CheckConstraint(f"{end} IS NULL OR {start} IS NULL OR {end} >= {start}", name=name)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _updated() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class Base(DeclarativeBase):
    metadata = metadata


class Versioned:
    """Mixin: optimistic concurrency and delta sync."""

    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class Target(Versioned, Base):
    """巡察对象: an organisation the office may inspect."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("jurisdiction", "parent_id", "name", postgresql_nulls_not_distinct=True),
        Index("ix_targets_created_at_id", "created_at", "id"),
        one_of("kind", TargetKind),
        one_of("risk_class", RiskClass),
    )

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    jurisdiction: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("targets.id", ondelete="RESTRICT"), index=True
    )
    risk_class: Mapped[str] = mapped_column(String(10), server_default=text("'medium'"))
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), index=True
    )


class Term(Versioned, Base):
    """届: a committee term; the goal is every target of `coverage_kinds` inspected once in it."""

    __tablename__ = "terms"
    __table_args__ = (
        CheckConstraint("ends_on > starts_on", name="dates_ordered"),
        UniqueConstraint("name"),
        Index("ix_terms_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    coverage_kinds: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    jurisdiction: Mapped[str] = mapped_column(String(100))


class ChecklistTemplate(Versioned, Base):
    """巡察内容模板: a reusable taxonomy of problem categories."""

    __tablename__ = "checklist_templates"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class ChecklistCategory(Versioned, Base):
    """A problem category, in a template or added by one round (exactly one of the two)."""

    __tablename__ = "checklist_categories"
    __table_args__ = (
        CheckConstraint("(template_id IS NULL) <> (round_id IS NULL)", name="one_owner"),
        UniqueConstraint("template_id", "round_id", "code", postgresql_nulls_not_distinct=True),
        one_of("kind", CategoryKind),
    )

    id: Mapped[uuid.UUID] = _id()
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("checklist_templates.id", ondelete="CASCADE"), index=True
    )
    round_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rounds.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("checklist_categories.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class Round(Versioned, Base):
    """轮次: one inspection round of a term, moving through its phases."""

    __tablename__ = "rounds"
    __table_args__ = (
        UniqueConstraint("term_id", "number"),
        Index("ix_rounds_created_at_id", "created_at", "id"),
        one_of("kind", RoundKind),
        one_of("state", RoundState),
        CheckConstraint("number > 0", name="number_positive"),
    )

    id: Mapped[uuid.UUID] = _id()
    term_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("terms.id", ondelete="RESTRICT"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    theme: Mapped[str] = mapped_column(Text, server_default=text("''"))
    state: Mapped[str] = mapped_column(String(20), server_default=text("'preparation'"))
    checklist_template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("checklist_templates.id", ondelete="RESTRICT")
    )


class RoundPhase(Base):
    """Planned and actual dates of one phase of a round."""

    __tablename__ = "round_phases"
    __table_args__ = (
        one_of("phase", RoundState),
        ordered("planned_start", "planned_end", "planned_ordered"),
        ordered("actual_start", "actual_end", "actual_ordered"),
    )

    round_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    phase: Mapped[str] = mapped_column(String(20), primary_key=True)
    planned_start: Mapped[date | None] = mapped_column(Date)
    planned_end: Mapped[date | None] = mapped_column(Date)
    actual_start: Mapped[date | None] = mapped_column(Date)
    actual_end: Mapped[date | None] = mapped_column(Date)


class RoundTransition(Base):
    """The history of a round's state: who moved it, when, from what to what."""

    __tablename__ = "round_transitions"

    id: Mapped[uuid.UUID] = _id()
    round_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rounds.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, server_default=text("''"))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _created()


class WorkPlan(Base):
    """工作方案: each save is a new version; versions are never changed."""

    __tablename__ = "work_plans"
    __table_args__ = (UniqueConstraint("round_id", "version"),)

    id: Mapped[uuid.UUID] = _id()
    round_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rounds.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, server_default=text("''"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()


class Person(Versioned, Base):
    """巡察干部库: an inspector or expert who can be put in a group."""

    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("user_id"),
        Index("ix_people_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(100), server_default=text("''"))
    specialities: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=text("'{}'"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class PersonPosting(Base):
    """A unit the person worked in (任职经历): grounds for avoidance."""

    __tablename__ = "person_postings"

    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("targets.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[str] = mapped_column(String(100), server_default=text("''"))
    from_date: Mapped[date | None] = mapped_column(Date)
    to_date: Mapped[date | None] = mapped_column(Date)


class PersonRelation(Base):
    """A declared relation (亲属关系) with someone in a unit: grounds for avoidance."""

    __tablename__ = "person_relations"
    __table_args__ = (one_of("relation", RelationKind),)

    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("targets.id", ondelete="RESTRICT"), index=True
    )
    relative_name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, server_default=text("''"))


class Group(Versioned, Base):
    """巡察组 of one round. A township sub-group may assist a municipal group (`lead_group_id`);
    a joint group names the higher-level group it works with."""

    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("round_id", "name"),
        Index("ix_groups_created_at_id", "created_at", "id"),
        one_of("kind", GroupKind),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[uuid.UUID] = _id()
    round_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rounds.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    owning_organisation: Mapped[str] = mapped_column(String(200))
    lead_group_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("groups.id", ondelete="SET NULL")
    )
    higher_level_group: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer, server_default=text("8"))


class GroupMember(Base):
    """A person in a group, with a role and the period stationed (defaults to the round's)."""

    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "person_id"),
        Index(
            "uq_group_members_one_leader",
            "group_id",
            unique=True,
            postgresql_where=text("role = 'leader'"),
        ),
        one_of("role", MemberRole),
        ordered("starts_on", "ends_on"),
    )

    id: Mapped[uuid.UUID] = _id()
    group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("groups.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("people.id", ondelete="RESTRICT"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    seconded_from: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created()


class Assignment(Versioned, Base):
    """A group inspects a target in a round, in a mode. An avoidance conflict the office chose to
    override keeps its written reason and who overrode it."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("round_id", "group_id", "target_id"),
        Index("ix_assignments_created_at_id", "created_at", "id"),
        Index("ix_assignments_target_id_round_id", "target_id", "round_id"),
        one_of("mode", AssignmentMode),
        ordered("stationing_start", "stationing_end"),
    )

    id: Mapped[uuid.UUID] = _id()
    round_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rounds.id", ondelete="RESTRICT"), index=True
    )
    group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("groups.id", ondelete="RESTRICT"), index=True
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("targets.id", ondelete="RESTRICT")
    )
    mode: Mapped[str] = mapped_column(String(20))
    stationing_start: Mapped[date | None] = mapped_column(Date)
    stationing_end: Mapped[date | None] = mapped_column(Date)
    override_reason: Mapped[str | None] = mapped_column(Text)
    overridden_by: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))


class CoveragePlan(Versioned, Base):
    """A planner's proposal for covering a term's remaining targets in given rounds; the office
    accepts it (assignments are created) or discards it."""

    __tablename__ = "coverage_plans"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'accepted', 'discarded')", name="status"),
        one_of("mode", AssignmentMode),
        Index("ix_coverage_plans_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    term_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("terms.id", ondelete="CASCADE"), index=True
    )
    round_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'proposed'"))
    unplaced: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'"))
    created_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CoveragePlanItem(Base):
    """One proposed assignment of a plan."""

    __tablename__ = "coverage_plan_items"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("coverage_plans.id", ondelete="CASCADE"), primary_key=True
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    round_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rounds.id", ondelete="CASCADE")
    )
    group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("groups.id", ondelete="CASCADE")
    )
    cluster: Mapped[str] = mapped_column(String(200), server_default=text("''"))


class AvoidanceOverride(Base):
    """回避例外登记: the office let a person inspect a unit they should avoid. One row per
    reason overridden, whether at assignment or when the member joined; never changed."""

    __tablename__ = "avoidance_overrides"

    id: Mapped[uuid.UUID] = _id()
    group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("groups.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("people.id", ondelete="CASCADE")
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("targets.id", ondelete="CASCADE")
    )
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assignments.id", ondelete="SET NULL"), index=True
    )
    rule: Mapped[str] = mapped_column(String(30))
    via_target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    detail: Mapped[str] = mapped_column(Text, server_default=text("''"))
    reason: Mapped[str] = mapped_column(Text)
    overridden_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _created()
