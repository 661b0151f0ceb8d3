"""Who may use data cross-checks.

Datasets hold whole populations' ID numbers and payments, so they are for the office (roles
office and admin), which receives the data from other departments, and for the leaders and
deputy leaders of the groups of a round, for that round: a dataset version or a run belongs to
a round (a dataset may also belong to none: the office's own, which only the office can see
and use). Such a leader uploads datasets to the round, runs rules over the round's datasets,
reads the hits and decides them; a confirmed hit becomes a finding on an assignment of the
leader's own group (the findings service's rules). Group members, experts and everyone else
are refused (403); a leader asking for another round's dataset, run, hit or job gets 404, as
if it were absent. User-defined rules are written by the office only (anyone who may run
rules reads them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, false, or_, true

from services.common.auth import CurrentPrincipal, Principal
from services.common.gateway_client import Gateway
from services.findings.access import LEADING_ROLES, OFFICE
from services.findings.clients import MembershipCache, RoundsClient
from services.findings.crosschecks.errors import NotCrosscheckUser
from services.findings.crosschecks.models import CrosscheckJob, CrosscheckRun, DatasetVersion


@dataclass(frozen=True, slots=True)
class CrosscheckScope:
    principal: Principal
    led_rounds: frozenset[uuid.UUID]

    @property
    def subject(self) -> str:
        return self.principal.subject

    @property
    def office(self) -> bool:
        return self.principal.has_role(*OFFICE)

    @property
    def anyone(self) -> bool:
        """May use cross-checks at all."""
        return self.office or bool(self.led_rounds)

    def require(self) -> None:
        if not self.anyone:
            raise NotCrosscheckUser("only the office or a leader of a round's group")

    def leads_round(self, round_id: uuid.UUID | None) -> bool:
        return self.office or (round_id is not None and round_id in self.led_rounds)

    def _rounds(self, column: Any) -> ColumnElement[bool]:
        if self.office:
            return true()
        return column.in_(self.led_rounds) if self.led_rounds else false()

    def datasets(self) -> ColumnElement[bool]:
        return self._rounds(DatasetVersion.round_id)

    def runs(self) -> ColumnElement[bool]:
        return self._rounds(CrosscheckRun.round_id)

    def jobs(self) -> ColumnElement[bool]:
        if self.office:
            return true()
        return or_(CrosscheckJob.created_by == self.subject, self._rounds(CrosscheckJob.round_id))


async def crosscheck_scope(
    request: Request, principal: CurrentPrincipal, gateway: Gateway
) -> CrosscheckScope:
    if principal.has_role(*OFFICE):
        return CrosscheckScope(principal, frozenset())
    try:
        user_id = uuid.UUID(principal.subject)
    except ValueError:  # a machine client leads no group
        return CrosscheckScope(principal, frozenset())
    cache: MembershipCache = request.app.state.memberships
    memberships = await cache.get(user_id, RoundsClient(gateway))
    return CrosscheckScope(
        principal, frozenset(m.round_id for m in memberships if m.role in LEADING_ROLES)
    )


CurrentCrosscheckScope = Annotated[CrosscheckScope, Depends(crosscheck_scope)]
