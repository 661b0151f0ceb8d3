"""Every query of staffing. Who may see what is part of each read query (see rounds/access.py),
never filtered afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.common.auth import Principal
from services.common.pagination import PageParams, keyset
from services.common.repository import Repository
from services.common.tombstones import deleted_since, record_deletion
from services.rounds import access
from services.rounds.enums import RoundState
from services.rounds.models import (
    Assignment,
    AvoidanceOverride,
    Group,
    GroupMember,
    Person,
    PersonPosting,
    PersonRelation,
    Round,
    RoundPhase,
    Target,
    Term,
    tombstones,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

PERSON = "person"
POSTING = "person_posting"
RELATION = "person_relation"
GROUP = "group"
MEMBER = "group_member"
ASSIGNMENT = "assignment"


def aware(moment: datetime) -> datetime:
    """A timestamp without offset is the office's wall clock (Asia/Shanghai)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)


def _subject(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


async def tombstoned(
    repo: Repository[Any], entity: str, since: datetime | None
) -> list[uuid.UUID] | None:
    if since is None:
        return None
    return await deleted_since(repo.session, tombstones, entity, aware(since))


@dataclass(frozen=True, slots=True)
class RoundContext:
    """What staffing needs to know about a round: its term's jurisdiction (cross mode) and the
    planned stationing phase (default dates)."""

    round_id: uuid.UUID
    jurisdiction: str
    stationing_start: date | None
    stationing_end: date | None


def _round_context_query() -> Any:
    phase = aliased(RoundPhase, name="phase")
    return (
        select(
            Round.id.label("round_id"),
            Term.jurisdiction,
            phase.planned_start.label("stationing_start"),
            phase.planned_end.label("stationing_end"),
        )
        .join(Term, Term.id == Round.term_id)
        .outerjoin(
            phase,
            and_(phase.round_id == Round.id, phase.phase == RoundState.stationing.value),
        )
    )


async def round_contexts(
    session: AsyncSession, round_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, RoundContext]:
    ids = list(set(round_ids))
    if not ids:
        return {}
    rows = (await session.execute(_round_context_query().where(Round.id.in_(ids)))).all()
    return {
        r.round_id: RoundContext(r.round_id, r.jurisdiction, r.stationing_start, r.stationing_end)
        for r in rows
    }


# ---- people ---------------------------------------------------------------------------------


class PersonRepository(Repository[Person]):
    model = Person

    @staticmethod
    def visible(principal: Principal) -> ColumnElement[bool]:
        """The office sees the whole cadre pool; anyone else only their own record."""
        if access.sees_all(principal):
            return true()
        subject = _subject(principal)
        # `user_id == None` would read as IS NULL: a caller whose subject is not a user id
        # (a machine client) must match no one, not every unlinked person.
        return false() if subject is None else Person.user_id == subject

    async def get_visible(self, person_id: uuid.UUID, principal: Principal) -> Person | None:
        stmt = select(Person).where(Person.id == person_id, self.visible(principal))
        row: Person | None = await self.session.scalar(stmt)
        return row

    async def get_for_update(self, person_id: uuid.UUID) -> Person | None:
        row: Person | None = await self.session.scalar(
            select(Person).where(Person.id == person_id).with_for_update()
        )
        return row

    async def list(
        self,
        params: PageParams,
        principal: Principal,
        *,
        speciality: str | None,
        unit: str | None,
        user_id: uuid.UUID | None,
        updated_since: datetime | None,
    ) -> Sequence[Person]:
        stmt = select(Person).where(self.visible(principal))
        if speciality is not None:
            stmt = stmt.where(Person.specialities.contains([speciality]))
        if unit is not None:
            stmt = stmt.where(Person.unit == unit)
        if user_id is not None:
            stmt = stmt.where(Person.user_id == user_id)
        if updated_since is not None:
            stmt = stmt.where(Person.updated_at > aware(updated_since))
        return await self.page(stmt, params)

    async def user_taken(self, user_id: uuid.UUID, except_id: uuid.UUID | None) -> bool:
        stmt = select(Person.id).where(Person.user_id == user_id)
        if except_id is not None:
            stmt = stmt.where(Person.id != except_id)
        return await self.session.scalar(stmt.limit(1)) is not None

    async def in_groups(self, person_id: uuid.UUID) -> Sequence[str]:
        rows = await self.session.scalars(
            select(Group.name)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.person_id == person_id)
            .order_by(Group.name)
        )
        return list(rows)

    async def delete(self, person: Person) -> None:
        """Postings and relations go with the person (ON DELETE CASCADE); all leave tombstones."""
        posting_ids = list(
            await self.session.scalars(
                select(PersonPosting.id).where(PersonPosting.person_id == person.id)
            )
        )
        relation_ids = list(
            await self.session.scalars(
                select(PersonRelation.id).where(PersonRelation.person_id == person.id)
            )
        )
        await self.session.delete(person)
        await self.session.flush()
        await record_deletion(self.session, tombstones, POSTING, posting_ids)
        await record_deletion(self.session, tombstones, RELATION, relation_ids)
        await record_deletion(self.session, tombstones, PERSON, [person.id])

    async def touch(self, person: Person) -> None:
        """Postings and relations are part of the person's record: a change to them is a new
        version of the person (new ETag, seen by delta sync)."""
        person.updated_at = func.now()
        await self.session.flush()
        await self.session.refresh(person)


@dataclass(frozen=True, slots=True)
class TargetInfo:
    id: uuid.UUID
    name: str
    jurisdiction: str


async def target_rows(
    session: AsyncSession, target_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TargetInfo]:
    """The existing targets among `target_ids`."""
    ids = list(set(target_ids))
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(Target.id, Target.name, Target.jurisdiction).where(Target.id.in_(ids))
        )
    ).all()
    return {r.id: TargetInfo(r.id, r.name, r.jurisdiction) for r in rows}


class _PersonPartRepository(Repository[Any]):
    """Postings and relations: immutable rows of a person (create, read, delete). They carry no
    timestamp of their own; pages are ordered by (the person's created_at, id), which for one
    person is the id order, and `updated_since` means "the person's record changed since"."""

    entity: ClassVar[str]
    columns: ClassVar[tuple[Any, ...]]

    async def list_of(
        self,
        person_id: uuid.UUID,
        params: PageParams,
        *,
        target_id: uuid.UUID | None,
        updated_since: datetime | None,
    ) -> Sequence[Row[Any]]:
        stmt = (
            select(*self.columns, Person.created_at)
            .join(Person, Person.id == self.model.person_id)
            .where(self.model.person_id == person_id)
        )
        if target_id is not None:
            stmt = stmt.where(self.model.target_id == target_id)
        if updated_since is not None:
            stmt = stmt.where(Person.updated_at > aware(updated_since))
        query = keyset(stmt, params, Person.created_at, self.model.id)
        return (await self.session.execute(query)).all()

    async def get_of(self, person_id: uuid.UUID, row_id: uuid.UUID) -> Any:
        return await self.session.scalar(
            select(self.model).where(self.model.id == row_id, self.model.person_id == person_id)
        )

    async def remove(self, row: Any) -> None:
        await self.session.delete(row)
        await self.session.flush()
        await record_deletion(self.session, tombstones, self.entity, [row.id])


class PostingRepository(_PersonPartRepository):
    model = PersonPosting
    entity = POSTING

    columns = (
        PersonPosting.id,
        PersonPosting.person_id,
        PersonPosting.target_id,
        PersonPosting.position,
        PersonPosting.from_date,
        PersonPosting.to_date,
    )


class RelationRepository(_PersonPartRepository):
    model = PersonRelation
    entity = RELATION

    columns = (
        PersonRelation.id,
        PersonRelation.person_id,
        PersonRelation.target_id,
        PersonRelation.relative_name,
        PersonRelation.relation,
        PersonRelation.note,
    )


# ---- groups and members ----------------------------------------------------------------------


class GroupRepository(Repository[Group]):
    model = Group

    async def memberships(self, user_id: uuid.UUID) -> Sequence[Any]:
        """The groups a signed-in user belongs to, with role, round and station period."""
        stmt = (
            select(
                GroupMember.group_id,
                Group.round_id,
                Group.kind.label("group_kind"),
                Group.name.label("group_name"),
                GroupMember.role,
                GroupMember.starts_on,
                GroupMember.ends_on,
            )
            .join(Group, Group.id == GroupMember.group_id)
            .join(Person, Person.id == GroupMember.person_id)
            .where(Person.user_id == user_id)
            .order_by(Group.round_id, Group.name)
        )
        return (await self.session.execute(stmt)).all()

    @staticmethod
    def visible(principal: Principal) -> ColumnElement[bool]:
        """The office sees every group; a (deputy) leader the groups they lead."""
        if access.sees_all(principal):
            return true()
        if _subject(principal) is None:
            return false()
        return Group.id.in_(access.visible_group_ids(principal))

    async def get_visible(self, group_id: uuid.UUID, principal: Principal) -> Group | None:
        row: Group | None = await self.session.scalar(
            select(Group).where(Group.id == group_id, self.visible(principal))
        )
        return row

    async def get_for_update(self, group_id: uuid.UUID) -> Group | None:
        """Locks the group: member changes and assignment checks of one group are serialised,
        so two concurrent requests cannot each slip past the leader or avoidance checks."""
        row: Group | None = await self.session.scalar(
            select(Group).where(Group.id == group_id).with_for_update()
        )
        return row

    async def list(
        self,
        params: PageParams,
        principal: Principal,
        *,
        round_id: uuid.UUID | None,
        kind: str | None,
        lead_group_id: uuid.UUID | None,
        updated_since: datetime | None,
    ) -> Sequence[Group]:
        stmt = select(Group).where(self.visible(principal))
        if round_id is not None:
            stmt = stmt.where(Group.round_id == round_id)
        if kind is not None:
            stmt = stmt.where(Group.kind == kind)
        if lead_group_id is not None:
            stmt = stmt.where(Group.lead_group_id == lead_group_id)
        if updated_since is not None:
            stmt = stmt.where(Group.updated_at > aware(updated_since))
        return await self.page(stmt, params)

    async def lead_candidate(self, group_id: uuid.UUID) -> Group | None:
        row: Group | None = await self.session.get(Group, group_id)
        return row

    async def dependents(self, group_id: uuid.UUID) -> tuple[int, Sequence[str]]:
        """How many assignments the group has and which groups assist it (one statement)."""
        assignments = (
            select(func.count()).select_from(Assignment).where(Assignment.group_id == group_id)
        ).scalar_subquery()
        assisting = (
            select(func.array_agg(Group.name)).where(Group.lead_group_id == group_id)
        ).scalar_subquery()
        row = (await self.session.execute(select(assignments, assisting))).one()
        return int(row[0]), sorted(row[1] or [])

    async def joint_assignments(self, group_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.group_id == group_id, Assignment.mode == "joint")
        )
        return int(count or 0)

    async def delete(self, group: Group) -> None:
        member_ids = list(
            await self.session.scalars(
                select(GroupMember.id).where(GroupMember.group_id == group.id)
            )
        )
        await self.session.delete(group)
        await self.session.flush()
        await record_deletion(self.session, tombstones, MEMBER, member_ids)
        await record_deletion(self.session, tombstones, GROUP, [group.id])


def _member_columns() -> list[Any]:
    return [
        GroupMember.id,
        GroupMember.group_id,
        GroupMember.person_id,
        Person.name.label("person_name"),
        Person.unit.label("person_unit"),
        GroupMember.role,
        GroupMember.seconded_from,
        GroupMember.starts_on,
        GroupMember.ends_on,
        GroupMember.created_at,
    ]


class MemberRepository(Repository[GroupMember]):
    """Members are immutable rows (added, read, removed): `created_at` is their last change."""

    model = GroupMember

    async def list_of(
        self,
        group_id: uuid.UUID,
        params: PageParams,
        *,
        role: str | None,
        updated_since: datetime | None,
    ) -> Sequence[Row[Any]]:
        stmt = (
            select(*_member_columns())
            .join(Person, Person.id == GroupMember.person_id)
            .where(GroupMember.group_id == group_id)
        )
        if role is not None:
            stmt = stmt.where(GroupMember.role == role)
        if updated_since is not None:
            stmt = stmt.where(GroupMember.created_at > aware(updated_since))
        query = keyset(stmt, params, GroupMember.created_at, GroupMember.id)
        return (await self.session.execute(query)).all()

    async def read(self, group_id: uuid.UUID, member_id: uuid.UUID) -> Row[Any] | None:
        row: Row[Any] | None = (
            await self.session.execute(
                select(*_member_columns())
                .join(Person, Person.id == GroupMember.person_id)
                .where(GroupMember.id == member_id, GroupMember.group_id == group_id)
            )
        ).one_or_none()
        return row

    async def existing(self, group_id: uuid.UUID, person_id: uuid.UUID) -> dict[str, bool]:
        """Whether the person is already a member and whether the group has a leader."""
        row = (
            await self.session.execute(
                select(
                    exists().where(
                        GroupMember.group_id == group_id, GroupMember.person_id == person_id
                    ),
                    exists().where(GroupMember.group_id == group_id, GroupMember.role == "leader"),
                )
            )
        ).one()
        return {"member": bool(row[0]), "leader": bool(row[1])}

    async def remove(self, group_id: uuid.UUID, member_id: uuid.UUID) -> bool:
        gone = await self.session.scalar(
            delete(GroupMember)
            .where(GroupMember.id == member_id, GroupMember.group_id == group_id)
            .returning(GroupMember.id)
        )
        if gone is None:
            return False
        await record_deletion(self.session, tombstones, MEMBER, [gone])
        return True


# ---- assignments -----------------------------------------------------------------------------


class AssignmentRepository(Repository[Assignment]):
    model = Assignment

    @staticmethod
    def visible(principal: Principal) -> ColumnElement[bool]:
        """The office sees every assignment; members and leaders those of their groups."""
        if access.sees_all(principal):
            return true()
        if _subject(principal) is None:
            return false()
        return Assignment.id.in_(access.visible_assignment_ids(principal))

    async def get_visible(
        self, assignment_id: uuid.UUID, principal: Principal
    ) -> Assignment | None:
        row: Assignment | None = await self.session.scalar(
            select(Assignment).where(Assignment.id == assignment_id, self.visible(principal))
        )
        return row

    async def list(
        self,
        params: PageParams,
        principal: Principal,
        *,
        round_id: uuid.UUID | None,
        group_id: uuid.UUID | None,
        target_id: uuid.UUID | None,
        mode: str | None,
        updated_since: datetime | None,
    ) -> Sequence[Assignment]:
        stmt = select(Assignment).where(self.visible(principal))
        if round_id is not None:
            stmt = stmt.where(Assignment.round_id == round_id)
        if group_id is not None:
            stmt = stmt.where(Assignment.group_id == group_id)
        if target_id is not None:
            stmt = stmt.where(Assignment.target_id == target_id)
        if mode is not None:
            stmt = stmt.where(Assignment.mode == mode)
        if updated_since is not None:
            stmt = stmt.where(Assignment.updated_at > aware(updated_since))
        return await self.page(stmt, params)

    async def groups_for_share(self, group_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Group]:
        """The groups of a batch, locked against concurrent member changes (in id order, so
        two batches never deadlock on each other)."""
        ids = sorted(set(group_ids))
        rows = await self.session.scalars(
            select(Group).where(Group.id.in_(ids)).order_by(Group.id).with_for_update(read=True)
        )
        return {g.id: g for g in rows}

    async def existing_pairs(
        self, triples: Iterable[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]
    ) -> set[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
        wanted = list(set(triples))
        if not wanted:
            return set()
        rows = await self.session.execute(
            select(Assignment.round_id, Assignment.group_id, Assignment.target_id).where(
                tuple_(Assignment.round_id, Assignment.group_id, Assignment.target_id).in_(wanted)
            )
        )
        return {(r[0], r[1], r[2]) for r in rows}

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> Sequence[Assignment]:
        """One multi-row INSERT … RETURNING for the whole batch."""
        result = await self.session.scalars(insert(Assignment).returning(Assignment), rows)
        return result.all()

    async def delete(self, assignment: Assignment) -> None:
        await self.session.delete(assignment)
        await self.session.flush()
        await record_deletion(self.session, tombstones, ASSIGNMENT, [assignment.id])

    async def record_overrides(
        self,
        conflicts: Sequence[Any],
        reason: str,
        by: str,
        assignment_of: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] | None = None,
    ) -> None:
        """One register row per reason overridden (one INSERT). A conflict found when a member
        joins names its assignment; at assignment time the new assignment is looked up by
        (group, target) in `assignment_of`."""
        rows = [
            {
                "group_id": c.group_id,
                "person_id": c.person_id,
                "target_id": c.target_id,
                "assignment_id": c.assignment_id
                or (assignment_of or {}).get((c.group_id, c.target_id)),
                "rule": c.rule.value,
                "via_target_id": c.via_target_id,
                "detail": c.detail,
                "reason": reason,
                "overridden_by": by,
            }
            for c in conflicts
        ]
        if rows:
            await self.session.execute(insert(AvoidanceOverride), rows)

    async def overrides_of_group(self, group_id: uuid.UUID) -> Sequence[AvoidanceOverride]:
        stmt = (
            select(AvoidanceOverride)
            .where(AvoidanceOverride.group_id == group_id)
            .order_by(AvoidanceOverride.at, AvoidanceOverride.id)
        )
        return (await self.session.scalars(stmt)).all()
