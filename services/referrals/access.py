"""Who sees what in the referrals service, as SQL the queries include (never filtered afterwards).

Leads are the most confidential records of the system:
- the office (and administrators) see every lead and its subjects;
- a receiver sees the leads transferred to their recipient body, with subjects. The gateway's
  tokens name no recipient body, so the office keeps `receivers` (user id → body);
- a group leader sees the leads made from findings of the groups in their token's group scope,
  without the subjects' names and positions;
- anyone else sees no lead (404 on single reads, nothing in lists).
Rectification items: the office sees all; a user named on an item (owner, leader in charge, unit
head) sees that item. Out-of-scope records are answered 404, as if absent.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true

from services.common.auth import Principal
from services.referrals.enums import LeadStatus
from services.referrals.models import FindingSnapshot, Lead, Receiver, RectificationItem

OFFICE = ("office", "admin")
# Statistics are also read by the higher-level office and by the gateway's reports.
STATS_READERS = (*OFFICE, "superior", "service")
RESULT_READERS = (*OFFICE, "superior", "service")
# A receiver sees a lead from the moment it is transferred to their body.
SENT: tuple[str, ...] = tuple(
    s.value for s in LeadStatus if s not in (LeadStatus.draft, LeadStatus.approved)
)


def is_office(principal: Principal) -> bool:
    return principal.has_role(*OFFICE)


def user_id(principal: Principal) -> uuid.UUID | None:
    """The caller as a gateway user id; a machine client (`client:…`) is none."""
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


def _group_ids(principal: Principal) -> list[uuid.UUID]:
    out = []
    for g in principal.groups:
        try:
            out.append(uuid.UUID(g))
        except ValueError:
            continue
    return out


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


def lead_scope(principal: Principal) -> ColumnElement[bool]:
    if is_office(principal):
        return true()
    clauses = [as_receiver(principal)]
    groups = _group_ids(principal)
    if principal.has_role("group_leader") and groups:
        clauses.append(
            exists().where(
                FindingSnapshot.finding_id == Lead.finding_ids.any_(),
                FindingSnapshot.group_id.in_(groups),
            )
        )
    return or_(*clauses)


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
