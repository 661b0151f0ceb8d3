"""Who sees what in the referrals service, as SQL the queries include (never filtered afterwards).

Leads are the most confidential records of the system:
- the office (and administrators) see every lead and its subjects;
- a receiver sees the leads transferred to their recipient body, with subjects. The gateway's
  tokens name no recipient body, so the office keeps `receivers` (user id → body);
- the discipline inspection network platform (纪检监察网络平台, role `platform`: its signed
  callbacks, forwarded by the gateway) reports for the discipline commission: it sees and
  handles the leads transferred to `discipline_commission`, exactly as a receiver of that body;
- a group leader (leader or deputy leader of an inspection group, from the rounds service's
  memberships, read through the gateway: the tokens carry no groups) sees the leads made from
  findings of the groups they lead, in the follow-up read model only: where the lead stands
  (status, recipient, dates, overdue, its findings), never whom it is about nor what came of it
  (title, summary, subjects, outcomes, transition notes are withheld). They take no step;
- anyone else sees no lead (404 on single reads, nothing in lists).
The steps of a lead: approval, withdrawal and transfer are the office's; reception, handling,
case filing and conclusion are the receiver's (a `receiver` of the lead's recipient body, or the
platform for the discipline commission) or the office's, recording a feedback received on paper.
Anyone else who sees the lead gets 403.
Rectification items: the office sees all; a user named on an item (owner, leader in charge, unit
head) sees that item. Out-of-scope records are answered 404, as if absent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from services.common.auth import CurrentPrincipal, Principal
from services.common.gateway_client import Gateway
from services.referrals.clients import MembershipCache
from services.referrals.enums import LeadRecipient, LeadStatus
from services.referrals.models import FindingSnapshot, Lead, Receiver, RectificationItem

OFFICE = ("office", "admin")
# Statistics are also read by the higher-level office and by the gateway's reports.
STATS_READERS = (*OFFICE, "superior", "service")
RESULT_READERS = (*OFFICE, "superior", "service")
# A receiver sees a lead from the moment it is transferred to their body.
SENT: tuple[str, ...] = tuple(
    s.value for s in LeadStatus if s not in (LeadStatus.draft, LeadStatus.approved)
)
# The discipline platform's callbacks: it reports for the discipline commission only.
PLATFORM = "platform"
PLATFORM_BODY = LeadRecipient.discipline_commission.value
# The memberships (rounds service) that make a user a leader of a group's findings.
LEADING_ROLES = ("leader", "deputy_leader")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls, with the inspection groups they lead (empty for the office, machine clients
    and anyone leading no group)."""

    principal: Principal
    leading: frozenset[uuid.UUID] = frozenset()

    @property
    def subject(self) -> str:
        return self.principal.subject


def is_office(principal: Principal) -> bool:
    return principal.has_role(*OFFICE)


def user_id(principal: Principal) -> uuid.UUID | None:
    """The caller as a gateway user id; a machine client (`client:…`) is none."""
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


async def current_caller(request: Request, principal: CurrentPrincipal, gateway: Gateway) -> Caller:
    uid = user_id(principal)
    if is_office(principal) or uid is None:
        # The office needs no group to see everything; a machine client belongs to no group.
        return Caller(principal)
    cache: MembershipCache = request.app.state.memberships
    found = await cache.get(uid, gateway)
    return Caller(principal, frozenset(m.group_id for m in found if m.role in LEADING_ROLES))


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def findings_where(*where: ColumnElement[bool]) -> Any:
    """`ARRAY(SELECT finding_id FROM finding_snapshots WHERE …)`: the right side of a
    `finding_ids && …` that the GIN index on `finding_ids` answers."""
    ids = select(FindingSnapshot.finding_id).where(*where).scalar_subquery()
    return func.array(ids, type_=ARRAY(UUID(as_uuid=True)))


def receiver_body(principal: Principal) -> Any:
    """The recipient body of the caller as a receiver (a scalar subquery; NULL if none)."""
    uid = user_id(principal)
    return (
        select(Receiver.recipient)
        .where(Receiver.user_id == uid if uid is not None else false())
        .scalar_subquery()
    )


def as_receiver(principal: Principal) -> ColumnElement[bool]:
    """The leads the caller handles as a receiver."""
    if not principal.has_role("receiver") or user_id(principal) is None:
        return false()
    return Lead.status.in_(SENT) & (Lead.recipient == receiver_body(principal))


def platform_body(principal: Principal) -> str | None:
    """The recipient body the caller reports for as the discipline platform, if it is it."""
    return PLATFORM_BODY if principal.has_role(PLATFORM) else None


def as_platform(principal: Principal) -> ColumnElement[bool]:
    """The leads the discipline platform handles: those sent to the discipline commission."""
    if platform_body(principal) is None:
        return false()
    return Lead.status.in_(SENT) & (Lead.recipient == PLATFORM_BODY)


def led_by(caller: Caller) -> ColumnElement[bool]:
    """The leads made from findings of the groups the caller leads (each finding's group is
    kept in its snapshot)."""
    if not caller.leading:
        return false()
    return Lead.finding_ids.overlap(findings_where(FindingSnapshot.group_id.in_(caller.leading)))


def lead_scope(caller: Caller) -> ColumnElement[bool]:
    if is_office(caller.principal):
        return true()
    return or_(as_receiver(caller.principal), as_platform(caller.principal), led_by(caller))


def item_scope(principal: Principal) -> ColumnElement[bool]:
    if is_office(principal):
        return true()
    uid = user_id(principal)
    if uid is None:
        return false()
    return or_(
        RectificationItem.owner_user_id == uid,
        RectificationItem.leader_user_id == uid,
        RectificationItem.unit_head_user_id == uid,
    )
