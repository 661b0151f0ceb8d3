"""回避 and 同期进驻: the checks as set-based SQL, one statement per check however many members,
targets or assignments are involved.

A person must not inspect a target they worked in (a posting) or declared a relation in, nor
one whose parent (e.g. the township of a village) they worked in or declared a relation in.
A person is not stationed in two groups in overlapping periods; a member's period is their own
dates, else the planned stationing phase of the group's round, else open. The expert guidance
group (业务指导组) supports every group without being stationed, so it takes no part in overlaps.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Date,
    String,
    and_,
    column,
    func,
    literal,
    or_,
    select,
    union_all,
    values,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Subquery

from services.rounds.enums import GroupKind, RelationKind, RoundState
from services.rounds.models import (
    Assignment,
    Group,
    GroupMember,
    Person,
    PersonPosting,
    PersonRelation,
    RoundPhase,
    Target,
)
from services.rounds.staffing.enums import AvoidanceRule
from services.rounds.staffing.schemas import AvoidanceReason, OverlappingStation

POSTING = "posting"
RELATION = "relation"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A group about to inspect a target."""

    group_id: uuid.UUID
    target_id: uuid.UUID


def _declarations() -> Subquery:
    """Every posting and declared relation as (person, unit, kind, detail)."""
    postings = select(
        PersonPosting.person_id,
        PersonPosting.target_id,
        literal(POSTING, String).label("kind"),
        PersonPosting.position.label("detail"),
        literal(None, String).label("relative_name"),
    )
    relations = select(
        PersonRelation.person_id,
        PersonRelation.target_id,
        literal(RELATION, String).label("kind"),
        PersonRelation.relation.label("detail"),
        PersonRelation.relative_name,
    )
    return union_all(postings, relations).subquery("declarations")


def _rule(kind: str, at_target: bool) -> AvoidanceRule:
    if kind == POSTING:
        return AvoidanceRule.posting_at_target if at_target else AvoidanceRule.posting_at_parent
    return AvoidanceRule.relation_at_target if at_target else AvoidanceRule.relation_at_parent


def _detail(kind: str, detail: str, relative_name: str | None) -> str:
    if kind == POSTING:
        return detail or "任职"
    label = RelationKind.labels().get(detail, detail)
    return f"{label} {relative_name or ''}".strip()


async def conflicts_of_candidates(
    session: AsyncSession, candidates: Sequence[Candidate]
) -> list[AvoidanceReason]:
    """Members of each candidate's group who must avoid its target (one statement)."""
    if not candidates:
        return []
    pairs = (
        values(
            column("group_id", UUID(as_uuid=True)),
            column("target_id", UUID(as_uuid=True)),
            name="candidates",
        )
        .data([(c.group_id, c.target_id) for c in candidates])
        .alias("candidates")
    )
    decl = _declarations()
    target = aliased(Target, name="target")
    via = aliased(Target, name="via")
    stmt = (
        select(
            pairs.c.group_id,
            pairs.c.target_id,
            target.name.label("target_name"),
            GroupMember.person_id,
            Person.name.label("person_name"),
            decl.c.kind,
            decl.c.detail,
            decl.c.relative_name,
            via.id.label("via_id"),
            via.name.label("via_name"),
        )
        .select_from(pairs)
        .join(target, target.id == pairs.c.target_id)
        .join(GroupMember, GroupMember.group_id == pairs.c.group_id)
        .join(Person, Person.id == GroupMember.person_id)
        .join(
            decl,
            and_(
                decl.c.person_id == GroupMember.person_id,
                or_(decl.c.target_id == target.id, decl.c.target_id == target.parent_id),
            ),
        )
        .join(via, via.id == decl.c.target_id)
        .order_by(pairs.c.group_id, target.name, Person.name, decl.c.kind, via.name)
    )
    return [
        AvoidanceReason(
            person_id=r.person_id,
            person_name=r.person_name,
            group_id=r.group_id,
            target_id=r.target_id,
            target_name=r.target_name,
            rule=_rule(r.kind, r.via_id == r.target_id),
            via_target_id=r.via_id,
            via_target_name=r.via_name,
            detail=_detail(r.kind, r.detail, r.relative_name),
        )
        for r in (await session.execute(stmt)).all()
    ]


async def conflicts_of_new_member(
    session: AsyncSession, group_id: uuid.UUID, person_id: uuid.UUID, person_name: str
) -> list[AvoidanceReason]:
    """The group's assignments the person would have to avoid (one statement)."""
    decl = _declarations()
    target = aliased(Target, name="target")
    via = aliased(Target, name="via")
    stmt = (
        select(
            Assignment.id.label("assignment_id"),
            Assignment.target_id,
            target.name.label("target_name"),
            decl.c.kind,
            decl.c.detail,
            decl.c.relative_name,
            via.id.label("via_id"),
            via.name.label("via_name"),
        )
        .select_from(Assignment)
        .join(target, target.id == Assignment.target_id)
        .join(
            decl,
            and_(
                decl.c.person_id == person_id,
                or_(decl.c.target_id == target.id, decl.c.target_id == target.parent_id),
            ),
        )
        .join(via, via.id == decl.c.target_id)
        .where(Assignment.group_id == group_id)
        .order_by(target.name, decl.c.kind, via.name)
    )
    return [
        AvoidanceReason(
            person_id=person_id,
            person_name=person_name,
            group_id=group_id,
            target_id=r.target_id,
            target_name=r.target_name,
            rule=_rule(r.kind, r.via_id == r.target_id),
            via_target_id=r.via_id,
            via_target_name=r.via_name,
            detail=_detail(r.kind, r.detail, r.relative_name),
            assignment_id=r.assignment_id,
        )
        for r in (await session.execute(stmt)).all()
    ]


async def overlapping_stations(
    session: AsyncSession,
    person_id: uuid.UUID,
    *,
    except_group_id: uuid.UUID,
    starts_on: date | None,
    ends_on: date | None,
) -> list[OverlappingStation]:
    """Other groups the person is stationed in during an overlapping period (one statement).
    Closed ranges on both ends; a missing bound is open."""
    phase = aliased(RoundPhase, name="phase")
    start = func.coalesce(GroupMember.starts_on, phase.planned_start)
    end = func.coalesce(GroupMember.ends_on, phase.planned_end)
    wanted = func.daterange(literal(starts_on, Date), literal(ends_on, Date), "[]")
    stmt = (
        select(
            Group.id,
            Group.name,
            Group.round_id,
            start.label("starts_on"),
            end.label("ends_on"),
        )
        .select_from(GroupMember)
        .join(Group, Group.id == GroupMember.group_id)
        .outerjoin(
            phase,
            and_(phase.round_id == Group.round_id, phase.phase == RoundState.stationing.value),
        )
        .where(
            GroupMember.person_id == person_id,
            GroupMember.group_id != except_group_id,
            Group.kind != GroupKind.expert_guidance.value,
            func.daterange(start, end, "[]").op("&&")(wanted),
        )
        .order_by(start.nulls_first(), Group.name)
    )
    return [
        OverlappingStation(
            group_id=r.id,
            group_name=r.name,
            round_id=r.round_id,
            starts_on=r.starts_on,
            ends_on=r.ends_on,
        )
        for r in (await session.execute(stmt)).all()
    ]
