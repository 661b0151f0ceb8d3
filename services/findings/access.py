"""Who sees what in the findings service, as SQL the queries include (never filtered afterwards).

The office (and administrators) see every finding, and so do the other services (role
`service`, reading the references they are given). A signed-in user sees the findings of the
groups they belong to (from rounds' memberships) and those they are consulted on as an expert.
Anyone else sees nothing. Out-of-scope findings are answered 404, as if absent. Resident ID
numbers are shown in full only to the office and to the leader or deputy leader of the
finding's group.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, false, or_, select, true

from services.common.auth import CurrentPrincipal, Principal
from services.common.gateway_client import Gateway
from services.findings.clients import MembershipCache, RoundsClient
from services.findings.models import Consultation, Finding

OFFICE = ("office", "admin")
READERS_OF_ALL = (*OFFICE, "service")
LEADING_ROLES = ("leader", "deputy_leader")


@dataclass(frozen=True, slots=True)
class Scope:
    principal: Principal
    groups: frozenset[uuid.UUID]
    leading: frozenset[uuid.UUID]

    @property
    def subject(self) -> str:
        return self.principal.subject

    @property
    def office(self) -> bool:
        return self.principal.has_role(*OFFICE)

    @property
    def sees_all(self) -> bool:
        return self.principal.has_role(*READERS_OF_ALL)

    def visible(self) -> ColumnElement[bool]:
        """The WHERE clause of every read of findings (and of what hangs off them)."""
        if self.sees_all:
            return true()
        consulted = select(Consultation.finding_id).where(Consultation.expert_id == self.subject)
        mine = Finding.group_id.in_(self.groups) if self.groups else false()
        return or_(mine, Finding.id.in_(consulted))

    def leads(self, group_id: uuid.UUID) -> bool:
        """Confirms findings of the group, manages its consultations and sees ID numbers."""
        return self.office or group_id in self.leading

    def works_in(self, group_id: uuid.UUID) -> bool:
        """Records findings on the group's assignments."""
        return self.office or group_id in self.groups


def _user_id(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


async def current_scope(request: Request, principal: CurrentPrincipal, gateway: Gateway) -> Scope:
    user_id = _user_id(principal)
    if principal.has_role(*READERS_OF_ALL) or user_id is None:
        # The office needs no group to see everything; a machine client belongs to no group.
        return Scope(principal, frozenset(), frozenset())
    cache: MembershipCache = request.app.state.memberships
    memberships = await cache.get(user_id, RoundsClient(gateway))
    return Scope(
        principal,
        frozenset(m.group_id for m in memberships),
        frozenset(m.group_id for m in memberships if m.role in LEADING_ROLES),
    )


CurrentScope = Annotated[Scope, Depends(current_scope)]
