"""Business rules of staffing: the cadre pool, groups and their members, assignments, and the
avoidance and overlap rules between them. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.concurrency import check_if_match
from services.common.errors import Problem
from services.rounds.enums import AssignmentMode, GroupKind, MemberRole
from services.rounds.events import emit_assignments
from services.rounds.models import (
    Assignment,
    Group,
    GroupMember,
    Person,
    PersonPosting,
    PersonRelation,
)
from services.rounds.staffing import avoidance
from services.rounds.staffing.errors import (
    AlreadyMember,
    AssignmentExists,
    AssignmentNotFound,
    AvoidanceConflict,
    BatchInvalid,
    GroupInUse,
    GroupNameTaken,
    GroupNotFound,
    GroupNotInRound,
    GroupStructureInvalid,
    LeaderTaken,
    MemberNotFound,
    ModeInvalid,
    PeriodInvalid,
    PersonInUse,
    PersonNotFound,
    PersonUserTaken,
    PostingNotFound,
    ReferenceInvalid,
    RelationNotFound,
    StationOverlap,
)
from services.rounds.staffing.repository import (
    AssignmentRepository,
    GroupRepository,
    MemberRepository,
    PersonRepository,
    PostingRepository,
    RelationRepository,
    RoundContext,
    round_contexts,
    target_rows,
)
from services.rounds.staffing.schemas import (
    AssignmentFields,
    AssignmentUpdate,
    AvoidanceReason,
    GroupCreate,
    GroupUpdate,
    MemberCreate,
    MemberCreated,
    MemberRead,
    Override,
    PersonCreate,
    PersonUpdate,
    PostingCreate,
    RelationCreate,
)

# Postings, relations and members are never changed, only added and removed: one version each.
IMMUTABLE_VERSION = 1


def _field_error(field_name: str, message: str, code: str) -> dict[str, str]:
    return {"field": field_name, "message": message, "code": code}


def _violates(exc: IntegrityError, constraint: str) -> bool:
    return constraint in str(exc.orig)


@dataclass(slots=True)
class _Errors:
    """Field errors of a request, each with the problem class it would raise on its own."""

    found: list[tuple[type[Problem], dict[str, str]]] = field(default_factory=list)

    def add(self, cls: type[Problem], field_name: str, message: str, code: str) -> None:
        self.found.append((cls, _field_error(field_name, message, code)))

    def raise_single(self) -> None:
        if self.found:
            cls = self.found[0][0]
            errors = [e for _, e in self.found]
            raise cls("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


# ---- people ---------------------------------------------------------------------------------


class PeopleService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = PersonRepository(session)
        self.postings = PostingRepository(session)
        self.relations = RelationRepository(session)

    async def get(self, person_id: uuid.UUID, principal: Principal) -> Person:
        person = await self.repo.get_visible(person_id, principal)
        if person is None:
            raise PersonNotFound(f"person {person_id} not found")
        return person

    async def _user_free(self, user_id: uuid.UUID | None, except_id: uuid.UUID | None) -> None:
        if user_id is not None and await self.repo.user_taken(user_id, except_id):
            raise PersonUserTaken(
                f"user {user_id} is already linked to another person",
                errors=[_field_error("user_id", "already linked", "taken")],
            )

    async def _flush_unique(self) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            if _violates(exc, "uq_people_user_id"):
                raise PersonUserTaken(
                    "the user was linked to another person meanwhile",
                    errors=[_field_error("user_id", "already linked", "taken")],
                ) from exc
            raise

    async def create(self, data: PersonCreate) -> Person:
        await self._user_free(data.user_id, None)
        person = Person(
            name=data.name,
            unit=data.unit,
            position=data.position,
            specialities=[s.value for s in data.specialities],
            user_id=data.user_id,
        )
        self.session.add(person)
        await self._flush_unique()
        await self.session.refresh(person)
        return person

    async def update(
        self, person_id: uuid.UUID, data: PersonUpdate, if_match: str | None
    ) -> Person:
        person = await self.repo.get(person_id)
        if person is None:
            raise PersonNotFound(f"person {person_id} not found")
        check_if_match(if_match, person.version)
        changes = data.model_dump(exclude_unset=True)
        if "user_id" in changes and changes["user_id"] != person.user_id:
            await self._user_free(changes["user_id"], person.id)
        if "specialities" in changes:
            changes["specialities"] = [s.value for s in data.specialities or []]
        for name, value in changes.items():
            setattr(person, name, value)
        await self._flush_unique()
        await self.session.refresh(person)
        return person

    async def delete(self, person_id: uuid.UUID, if_match: str | None) -> None:
        person = await self.repo.get_for_update(person_id)
        if person is None:
            raise PersonNotFound(f"person {person_id} not found")
        check_if_match(if_match, person.version)
        groups = await self.repo.in_groups(person_id)
        if groups:
            raise PersonInUse(f"{person.name} is a member of: {', '.join(groups)}", groups=groups)
        await self.repo.delete(person)

    async def _target_exists(self, target_id: uuid.UUID) -> None:
        if target_id not in await target_rows(self.session, [target_id]):
            raise ReferenceInvalid(
                f"target {target_id} does not exist",
                errors=[_field_error("target_id", "no such target", "not_found")],
            )

    async def _person_for_change(self, person_id: uuid.UUID) -> Person:
        person = await self.repo.get_for_update(person_id)
        if person is None:
            raise PersonNotFound(f"person {person_id} not found")
        return person

    async def add_posting(self, person_id: uuid.UUID, data: PostingCreate) -> PersonPosting:
        person = await self._person_for_change(person_id)
        await self._target_exists(data.target_id)
        posting = PersonPosting(person_id=person_id, **data.model_dump())
        await self.postings.add(posting)
        await self.repo.touch(person)
        return posting

    async def add_relation(self, person_id: uuid.UUID, data: RelationCreate) -> PersonRelation:
        person = await self._person_for_change(person_id)
        await self._target_exists(data.target_id)
        relation = PersonRelation(
            person_id=person_id,
            target_id=data.target_id,
            relative_name=data.relative_name,
            relation=data.relation.value,
            note=data.note,
        )
        await self.relations.add(relation)
        await self.repo.touch(person)
        return relation

    async def get_posting(
        self, person_id: uuid.UUID, posting_id: uuid.UUID, principal: Principal
    ) -> PersonPosting:
        await self.get(person_id, principal)
        posting: PersonPosting | None = await self.postings.get_of(person_id, posting_id)
        if posting is None:
            raise PostingNotFound(f"posting {posting_id} not found")
        return posting

    async def get_relation(
        self, person_id: uuid.UUID, relation_id: uuid.UUID, principal: Principal
    ) -> PersonRelation:
        await self.get(person_id, principal)
        relation: PersonRelation | None = await self.relations.get_of(person_id, relation_id)
        if relation is None:
            raise RelationNotFound(f"relation {relation_id} not found")
        return relation

    async def remove_posting(
        self, person_id: uuid.UUID, posting_id: uuid.UUID, if_match: str | None
    ) -> None:
        person = await self._person_for_change(person_id)
        posting = await self.postings.get_of(person_id, posting_id)
        if posting is None:
            raise PostingNotFound(f"posting {posting_id} not found")
        check_if_match(if_match, IMMUTABLE_VERSION)
        await self.postings.remove(posting)
        await self.repo.touch(person)

    async def remove_relation(
        self, person_id: uuid.UUID, relation_id: uuid.UUID, if_match: str | None
    ) -> None:
        person = await self._person_for_change(person_id)
        relation = await self.relations.get_of(person_id, relation_id)
        if relation is None:
            raise RelationNotFound(f"relation {relation_id} not found")
        check_if_match(if_match, IMMUTABLE_VERSION)
        await self.relations.remove(relation)
        await self.repo.touch(person)


# ---- groups ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Structure:
    round_id: uuid.UUID
    kind: str
    lead_group_id: uuid.UUID | None
    higher_level_group: str | None


class GroupService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = GroupRepository(session)

    async def get(self, group_id: uuid.UUID, principal: Principal) -> Group:
        group = await self.repo.get_visible(group_id, principal)
        if group is None:
            raise GroupNotFound(f"group {group_id} not found")
        return group

    async def _check_structure(self, s: _Structure, self_id: uuid.UUID | None) -> None:
        """A joint group names its higher-level group; only a township sub-group has a lead
        group, which is a municipal group of the same round."""
        errors = _Errors()
        if s.kind == GroupKind.joint.value and not s.higher_level_group:
            errors.add(
                GroupStructureInvalid,
                "higher_level_group",
                "a joint group names the higher-level group it works with",
                "required",
            )
        if s.lead_group_id is not None:
            lead = await self.repo.lead_candidate(s.lead_group_id)
            if s.kind != GroupKind.township_sub.value:
                errors.add(
                    GroupStructureInvalid,
                    "lead_group_id",
                    "only a township sub-group assists a lead group",
                    "not_allowed",
                )
            elif lead is None:
                errors.add(ReferenceInvalid, "lead_group_id", "no such group", "not_found")
            elif lead.id == self_id:
                errors.add(
                    GroupStructureInvalid, "lead_group_id", "a group cannot lead itself", "self"
                )
            elif lead.round_id != s.round_id:
                errors.add(
                    GroupStructureInvalid,
                    "lead_group_id",
                    "the lead group belongs to another round",
                    "other_round",
                )
            elif lead.kind != GroupKind.municipal.value:
                errors.add(
                    GroupStructureInvalid,
                    "lead_group_id",
                    "the lead group is not a municipal group",
                    "not_municipal",
                )
        errors.raise_single()

    async def _flush_unique(self, name: str) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            if _violates(exc, "uq_groups_round_id_name"):
                raise GroupNameTaken(
                    f"{name} already exists in this round",
                    errors=[_field_error("name", "taken in this round", "taken")],
                ) from exc
            raise

    async def create(self, data: GroupCreate) -> Group:
        if data.round_id not in await round_contexts(self.session, [data.round_id]):
            raise ReferenceInvalid(
                f"round {data.round_id} does not exist",
                errors=[_field_error("round_id", "no such round", "not_found")],
            )
        await self._check_structure(
            _Structure(data.round_id, data.kind.value, data.lead_group_id, data.higher_level_group),
            None,
        )
        group = Group(
            round_id=data.round_id,
            kind=data.kind.value,
            name=data.name,
            owning_organisation=data.owning_organisation,
            lead_group_id=data.lead_group_id,
            higher_level_group=data.higher_level_group,
            capacity=data.capacity,
        )
        self.session.add(group)
        await self._flush_unique(data.name)
        await self.session.refresh(group)
        return group

    async def update(self, group_id: uuid.UUID, data: GroupUpdate, if_match: str | None) -> Group:
        group = await self.repo.get_for_update(group_id)
        if group is None:
            raise GroupNotFound(f"group {group_id} not found")
        check_if_match(if_match, group.version)
        changes = data.model_dump(exclude_unset=True)
        if "kind" in changes:
            changes["kind"] = changes["kind"].value
        merged = _Structure(
            group.round_id,
            changes.get("kind", group.kind),
            changes.get("lead_group_id", group.lead_group_id),
            changes.get("higher_level_group", group.higher_level_group),
        )
        await self._check_structure(merged, group.id)
        await self._check_dependents_still_fit(group, merged)
        for name, value in changes.items():
            setattr(group, name, value)
        await self._flush_unique(group.name)
        await self.session.refresh(group)
        return group

    async def _check_dependents_still_fit(self, group: Group, merged: _Structure) -> None:
        """A change of kind must not strand the sub-groups assisting this group, nor its joint
        assignments."""
        errors = _Errors()
        if group.kind == GroupKind.municipal.value and merged.kind != group.kind:
            _, assisting = await self.repo.dependents(group.id)
            if assisting:
                errors.add(
                    GroupStructureInvalid,
                    "kind",
                    f"sub-groups assist this municipal group: {', '.join(assisting)}",
                    "has_sub_groups",
                )
        qualifies = merged.kind == GroupKind.joint.value or bool(merged.higher_level_group)
        if not qualifies and await self.repo.joint_assignments(group.id):
            errors.add(
                GroupStructureInvalid,
                "higher_level_group",
                "the group has joint assignments, which need a higher-level group",
                "has_joint_assignments",
            )
        errors.raise_single()

    async def delete(self, group_id: uuid.UUID, if_match: str | None) -> None:
        group = await self.repo.get_for_update(group_id)
        if group is None:
            raise GroupNotFound(f"group {group_id} not found")
        check_if_match(if_match, group.version)
        assignments, assisting = await self.repo.dependents(group.id)
        if assignments or assisting:
            raise GroupInUse(
                f"{group.name} has {assignments} assignment(s) and "
                f"{len(assisting)} assisting sub-group(s)",
                assignments=assignments,
                assisting_groups=assisting,
            )
        await self.repo.delete(group)


# ---- members --------------------------------------------------------------------------------


class MemberService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.groups = GroupRepository(session)
        self.people = PersonRepository(session)
        self.repo = MemberRepository(session)
        self.assignments = AssignmentRepository(session)

    async def _visible_group(self, group_id: uuid.UUID, principal: Principal) -> None:
        if await self.groups.get_visible(group_id, principal) is None:
            raise GroupNotFound(f"group {group_id} not found")

    async def get(self, group_id: uuid.UUID, member_id: uuid.UUID, principal: Principal) -> Any:
        await self._visible_group(group_id, principal)
        row = await self.repo.read(group_id, member_id)
        if row is None:
            raise MemberNotFound(f"member {member_id} not found in group {group_id}")
        return row

    async def add(
        self, group_id: uuid.UUID, data: MemberCreate, principal: Principal
    ) -> MemberCreated:
        group = await self.groups.get_for_update(group_id)
        if group is None:
            raise GroupNotFound(f"group {group_id} not found")
        person = await self.people.get_for_update(data.person_id)
        if person is None:
            raise ReferenceInvalid(
                f"person {data.person_id} does not exist",
                errors=[_field_error("person_id", "no such person", "not_found")],
            )
        state = await self.repo.existing(group.id, person.id)
        if state["member"]:
            raise AlreadyMember(f"{person.name} is already a member of {group.name}")
        if data.role == MemberRole.leader and state["leader"]:
            raise LeaderTaken(
                f"{group.name} already has a leader",
                errors=[_field_error("role", "the group already has a leader", "taken")],
            )
        starts_on, ends_on = await self._period(group, data)
        if group.kind != GroupKind.expert_guidance.value:
            overlapping = await avoidance.overlapping_stations(
                self.session,
                person.id,
                except_group_id=group.id,
                starts_on=starts_on,
                ends_on=ends_on,
            )
            if overlapping:
                names = ", ".join(o.group_name for o in overlapping)
                raise StationOverlap(
                    f"{person.name} is stationed in {names} in an overlapping period",
                    overlapping=[o.model_dump(mode="json") for o in overlapping],
                )
        conflicts = await avoidance.conflicts_of_new_member(
            self.session, group.id, person.id, person.name
        )
        if conflicts and data.override_reason is None:
            raise AvoidanceConflict(_conflict_detail(conflicts), reasons=_dump(conflicts))
        member = GroupMember(
            group_id=group.id,
            person_id=person.id,
            role=data.role.value,
            seconded_from=data.seconded_from,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add(member)
        except IntegrityError as exc:  # the checks above run under the group lock; belt and braces
            if _violates(exc, "uq_group_members_one_leader"):
                raise LeaderTaken(f"{group.name} already has a leader") from exc
            if _violates(exc, "uq_group_members_group_id_person_id"):
                raise AlreadyMember(f"{person.name} is already a member of {group.name}") from exc
            raise
        override = None
        if conflicts and data.override_reason is not None:
            await self.assignments.record_overrides(
                conflicts, data.override_reason, principal.subject
            )
            override = Override(
                reason=data.override_reason, overridden_by=principal.subject, conflicts=conflicts
            )
        read = MemberRead(
            id=member.id,
            group_id=member.group_id,
            person_id=person.id,
            person_name=person.name,
            person_unit=person.unit,
            role=MemberRole[member.role],
            seconded_from=member.seconded_from,
            starts_on=member.starts_on,
            ends_on=member.ends_on,
            created_at=member.created_at,
        )
        return MemberCreated(**read.model_dump(), override=override)

    async def _period(self, group: Group, data: MemberCreate) -> tuple[date | None, date | None]:
        """The member's own dates, else the round's planned stationing phase."""
        context: RoundContext | None = (await round_contexts(self.session, [group.round_id])).get(
            group.round_id
        )
        starts_on = data.starts_on
        ends_on = data.ends_on
        if context is not None:
            starts_on = starts_on or context.stationing_start
            ends_on = ends_on or context.stationing_end
        if starts_on is not None and ends_on is not None and ends_on < starts_on:
            wrong = "ends_on" if data.ends_on is None else "starts_on"
            raise PeriodInvalid(
                f"with the round's stationing dates the period would end ({ends_on}) "
                f"before it starts ({starts_on})",
                errors=[_field_error(wrong, "outside the round's stationing phase", "order")],
            )
        return starts_on, ends_on

    async def remove(self, group_id: uuid.UUID, member_id: uuid.UUID, if_match: str | None) -> None:
        if await self.groups.get_for_update(group_id) is None:
            raise GroupNotFound(f"group {group_id} not found")
        if await self.repo.read(group_id, member_id) is None:
            raise MemberNotFound(f"member {member_id} not found in group {group_id}")
        check_if_match(if_match, IMMUTABLE_VERSION)
        await self.repo.remove(group_id, member_id)


# ---- assignments ----------------------------------------------------------------------------


def _dump(reasons: Sequence[AvoidanceReason]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json", exclude_none=True) for r in reasons]


def _conflict_detail(reasons: Sequence[AvoidanceReason]) -> str:
    lines = [
        f"{r.person_name} — {r.target_name}: {r.rule.label}（{r.via_target_name}，{r.detail}）"
        for r in reasons[:10]
    ]
    more = f"；另有 {len(reasons) - 10} 项" if len(reasons) > 10 else ""
    return "；".join(lines) + more


@dataclass(frozen=True, slots=True)
class Created:
    assignment: Assignment
    overridden: list[AvoidanceReason]


class AssignmentService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = AssignmentRepository(session)

    async def get(self, assignment_id: uuid.UUID, principal: Principal) -> Assignment:
        assignment = await self.repo.get_visible(assignment_id, principal)
        if assignment is None:
            raise AssignmentNotFound(f"assignment {assignment_id} not found")
        return assignment

    async def create(
        self,
        items: Sequence[AssignmentFields],
        override_reason: str | None,
        principal: Principal,
        *,
        batch: bool,
    ) -> list[Created]:
        """Validates every item, then checks duplicates and avoidance for all of them at once,
        then inserts them in one statement. Nothing is created unless everything is."""
        rounds = await round_contexts(self.session, (i.round_id for i in items))
        groups = await self.repo.groups_for_share(i.group_id for i in items)
        targets = await target_rows(self.session, (i.target_id for i in items))

        errors = _Errors()
        seen: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], int] = {}
        rows: list[dict[str, Any]] = []
        for n, item in enumerate(items):
            at = f"items.{n}." if batch else ""
            before = len(errors.found)
            context = rounds.get(item.round_id)
            group = groups.get(item.group_id)
            target = targets.get(item.target_id)
            if context is None:
                errors.add(ReferenceInvalid, f"{at}round_id", "no such round", "not_found")
            if group is None:
                errors.add(ReferenceInvalid, f"{at}group_id", "no such group", "not_found")
            elif group.round_id != item.round_id:
                errors.add(
                    GroupNotInRound,
                    f"{at}group_id",
                    "the group belongs to another round",
                    "other_round",
                )
            if target is None:
                errors.add(ReferenceInvalid, f"{at}target_id", "no such target", "not_found")
            key = (item.round_id, item.group_id, item.target_id)
            if key in seen:
                errors.add(
                    BatchInvalid,
                    f"{at}target_id",
                    f"the same group and target as items.{seen[key]}",
                    "duplicate",
                )
            seen.setdefault(key, n)
            if group is not None and target is not None and context is not None:
                self._check_mode(errors, at, item.mode, group, target.jurisdiction, context)
            if len(errors.found) > before or context is None:
                continue
            start, end = self._dates(errors, at, item, context)
            rows.append(
                {
                    "round_id": item.round_id,
                    "group_id": item.group_id,
                    "target_id": item.target_id,
                    "mode": item.mode.value,
                    "stationing_start": start,
                    "stationing_end": end,
                    "created_by": principal.subject,
                }
            )
        if batch and errors.found:
            found = [e for _, e in errors.found]
            raise BatchInvalid(
                f"{len(found)} error(s) in {len(items)} item(s); nothing was created",
                errors=found,
            )
        errors.raise_single()

        existing = await self.repo.existing_pairs(seen)
        if existing:
            raise AssignmentExists(
                f"{len(existing)} of the assignments already exist",
                existing=[
                    {"round_id": str(r), "group_id": str(g), "target_id": str(t)}
                    for r, g, t in sorted(existing)
                ],
            )
        conflicts = await avoidance.conflicts_of_candidates(
            self.session, [avoidance.Candidate(i.group_id, i.target_id) for i in items]
        )
        if conflicts and override_reason is None:
            raise AvoidanceConflict(_conflict_detail(conflicts), reasons=_dump(conflicts))
        by_pair: dict[tuple[uuid.UUID, uuid.UUID], list[AvoidanceReason]] = {}
        for c in conflicts:
            by_pair.setdefault((c.group_id, c.target_id), []).append(c)
        for row in rows:
            if (row["group_id"], row["target_id"]) in by_pair:
                row["override_reason"] = override_reason
                row["overridden_by"] = principal.subject
            else:
                row["override_reason"] = None
                row["overridden_by"] = None
        try:
            async with self.session.begin_nested():
                created = await self.repo.insert_many(rows)
        except IntegrityError as exc:
            if _violates(exc, "uq_assignments_round_id_group_id_target_id"):
                raise AssignmentExists("the assignment was created meanwhile") from exc
            raise
        if conflicts and override_reason is not None:
            await self.repo.record_overrides(
                conflicts,
                override_reason,
                principal.subject,
                {(a.group_id, a.target_id): a.id for a in created},
            )
        await emit_assignments(self.session, created)
        return [Created(a, by_pair.get((a.group_id, a.target_id), [])) for a in created]

    @staticmethod
    def _check_mode(
        errors: _Errors,
        at: str,
        mode: AssignmentMode,
        group: Group,
        target_jurisdiction: str,
        context: RoundContext,
    ) -> None:
        """交叉式: the target lies outside the term's jurisdiction. 联合式: the group works
        with a higher-level group."""
        if mode == AssignmentMode.cross and target_jurisdiction == context.jurisdiction:
            errors.add(
                ModeInvalid,
                f"{at}mode",
                f"cross mode needs a target outside {context.jurisdiction}",
                "cross_same_jurisdiction",
            )
        if (
            mode == AssignmentMode.joint
            and group.kind != GroupKind.joint.value
            and not group.higher_level_group
        ):
            errors.add(
                ModeInvalid,
                f"{at}mode",
                "joint mode needs a joint group or one with a higher-level group",
                "joint_without_higher_level",
            )

    @staticmethod
    def _dates(
        errors: _Errors, at: str, item: AssignmentFields, context: RoundContext
    ) -> tuple[date | None, date | None]:
        start = item.stationing_start or context.stationing_start
        end = item.stationing_end or context.stationing_end
        if start is not None and end is not None and end < start:
            wrong = "stationing_end" if item.stationing_end is None else "stationing_start"
            errors.add(
                PeriodInvalid,
                f"{at}{wrong}",
                f"with the round's stationing dates the period would end ({end}) "
                f"before it starts ({start})",
                "order",
            )
        return start, end

    async def update(
        self, assignment_id: uuid.UUID, data: AssignmentUpdate, if_match: str | None
    ) -> Assignment:
        assignment = await self.repo.get(assignment_id)
        if assignment is None:
            raise AssignmentNotFound(f"assignment {assignment_id} not found")
        check_if_match(if_match, assignment.version)
        changes = data.model_dump(exclude_unset=True)
        errors = _Errors()
        if "mode" in changes:
            changes["mode"] = changes["mode"].value
        if "mode" in changes and changes["mode"] != assignment.mode:
            context = (await round_contexts(self.session, [assignment.round_id]))[
                assignment.round_id
            ]
            group = await self.session.get(Group, assignment.group_id)
            target = (await target_rows(self.session, [assignment.target_id]))[assignment.target_id]
            assert group is not None
            mode = AssignmentMode[changes["mode"]]
            self._check_mode(errors, "", mode, group, target.jurisdiction, context)
        start = changes.get("stationing_start", assignment.stationing_start)
        end = changes.get("stationing_end", assignment.stationing_end)
        if start is not None and end is not None and end < start:
            wrong = "stationing_end" if "stationing_end" in changes else "stationing_start"
            errors.add(PeriodInvalid, wrong, f"the period would end before {start}", "order")
        errors.raise_single()
        for name, value in changes.items():
            setattr(assignment, name, value)
        await self.session.flush()
        await self.session.refresh(assignment)
        return assignment

    async def delete(self, assignment_id: uuid.UUID, if_match: str | None) -> None:
        assignment = await self.repo.get(assignment_id)
        if assignment is None:
            raise AssignmentNotFound(f"assignment {assignment_id} not found")
        check_if_match(if_match, assignment.version)
        await self.repo.delete(assignment)
