"""Who sees what in the rounds service, as SQL the queries include (never filtered afterwards).

The office (and administrators) plan and see everything; the other services (role `service`)
read everything to check the ids they are given. A group leader or deputy leader sees
the rounds their groups belong to, those groups, and the targets assigned to them. A group member
sees their own assignments. Anyone else sees nothing here. A signed-in user is matched to a
person of the cadre pool by `people.user_id`. Out-of-scope records are answered 404, as if absent.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, false, select

from services.common.auth import Principal
from services.rounds.enums import MemberRole
from services.rounds.models import Assignment, Group, GroupMember, Person

PLANNERS = ("office", "admin")
# Other services (through the gateway, role `service`) read the plan to check references.
READERS_OF_ALL = (*PLANNERS, "service")
LEADING_ROLES = (MemberRole.leader.value, MemberRole.deputy_leader.value)


def plans(principal: Principal) -> bool:
    return principal.has_role(*PLANNERS)


def sees_all(principal: Principal) -> bool:
    """Reads without scope: the office, and our own services checking references."""
    return principal.has_role(*READERS_OF_ALL)


def _subject(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


def group_ids(principal: Principal, *, leading: bool) -> Select[uuid.UUID]:
    """Groups the caller leads (leading=True) or belongs to in any role. A subject that is not
    a user id (a machine client) belongs to no group: it must not match people without one."""
    subject = _subject(principal)
    stmt = (
        select(GroupMember.group_id)
        .join(Person, Person.id == GroupMember.person_id)
        .where(Person.user_id == subject if subject is not None else false())
    )
    if leading:
        stmt = stmt.where(GroupMember.role.in_(LEADING_ROLES))
    return stmt


def visible_round_ids(principal: Principal) -> Select[uuid.UUID]:
    return select(Group.round_id).where(Group.id.in_(group_ids(principal, leading=True)))


def visible_group_ids(principal: Principal) -> Select[uuid.UUID]:
    return group_ids(principal, leading=True)


def visible_target_ids(principal: Principal) -> Select[uuid.UUID]:
    return select(Assignment.target_id).where(
        Assignment.group_id.in_(group_ids(principal, leading=True))
    )


def visible_assignment_ids(principal: Principal) -> Select[uuid.UUID]:
    """Leaders see their groups' assignments; members see those of the groups they are in."""
    return select(Assignment.id).where(Assignment.group_id.in_(group_ids(principal, leading=False)))
