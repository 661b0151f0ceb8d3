"""The statistics as one SQL statement: four one-row aggregates (leads, their subjects,
rectification items, suggestions and rules) joined side by side, every figure a FILTERed
count or sum. Each figure is counted from the rows themselves, never derived from another
figure, so the reconciliation checks compare independent counts.

Rounds: a lead or rectification item made from findings of several rounds has no round of its
own (`round_id` null); it counts in every round one of its findings belongs to (each finding's
round is kept in its snapshot). Asked for several rounds at once, each record still counts once,
so the figures of rounds asked separately may add up to more than the figures asked together."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, false, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.referrals import access
from services.referrals.enums import (
    Adoption,
    GovernmentSanction,
    Handling,
    LeadRecipient,
    LeadStatus,
    OrganisationalHandling,
    PartySanction,
    RectificationStatus,
)
from services.referrals.models import (
    MONEY,
    EstablishedRule,
    FindingSnapshot,
    Lead,
    LeadSubject,
    RectificationItem,
    Suggestion,
)

S = LeadStatus
# Received by the recipient body, or later.
RECEIVED = (S.received.value, S.handling.value, S.case_filed.value, S.concluded.value)


Rounds = Sequence[uuid.UUID] | None  # None: every record; empty: none (a scope with no rounds)


def _in_rounds(column: Any, round_ids: Rounds) -> ColumnElement[bool]:
    if round_ids is None:
        return true()
    return column.in_(round_ids) if round_ids else false()


def _made_in_rounds(model: Any, round_ids: Rounds) -> ColumnElement[bool]:
    """A lead or item of the rounds: its own round, or, having none (findings of several
    rounds), a finding of one of them."""
    if round_ids is None:
        return true()
    if not round_ids:
        return false()
    # A semi-join on the snapshots' primary key, not `finding_ids && ARRAY(every finding of
    # the rounds)`: with many findings the GIN plan of the latter took tens of seconds for one
    # round at 100,000 leads (bench/referrals_stats.py), this one a few hundred milliseconds.
    of_rounds = (
        select(FindingSnapshot.finding_id)
        .where(
            FindingSnapshot.finding_id == func.any(model.finding_ids),
            FindingSnapshot.round_id.in_(round_ids),
        )
        .exists()
    )
    return or_(model.round_id.in_(round_ids), and_(model.round_id.is_(None), of_rounds))


def _count(*where: ColumnElement[bool] | InstrumentedAttribute[bool]) -> Any:
    """COUNT(*) FILTER (WHERE all of `where`), as an int (not a bigint)."""
    counted = func.count().filter(and_(*where)) if where else func.count()
    return cast(counted, Integer)


def _leads(round_ids: Rounds) -> Any:
    sent = Lead.status.in_(access.SENT)
    case = Lead.case_number.is_not(None)
    return (
        select(
            _count(sent).label("handed_over"),
            _count(Lead.status.in_(RECEIVED)).label("received"),
            _count(Lead.status == S.received.value).label("awaiting_handling"),
            _count(Lead.handling.is_not(None)).label("handled"),
            *(_count(Lead.handling == h.value).label(f"handling_{h.value}") for h in Handling),
            _count(case).label("cases_filed"),
            _count(
                case,
                or_(
                    Lead.handling.is_(None),
                    Lead.handling != Handling.preliminary_verification.value,
                ),
            ).label("cases_unverified"),
            _count(Lead.status == S.concluded.value).label("concluded"),
            _count(Lead.overdue).label("overdue"),
            *(
                _count(sent, Lead.recipient == r.value).label(f"sent_{r.value}")
                for r in LeadRecipient
            ),
            *(
                _count(Lead.status.in_(RECEIVED), Lead.recipient == r.value).label(
                    f"received_{r.value}"
                )
                for r in LeadRecipient
            ),
            *(
                _count(Lead.handling.is_not(None), Lead.recipient == r.value).label(
                    f"handled_{r.value}"
                )
                for r in LeadRecipient
            ),
            *(
                _count(case, Lead.recipient == r.value).label(f"case_{r.value}")
                for r in LeadRecipient
            ),
            *(
                func.coalesce(func.sum(Lead.money_recovered).filter(Lead.recipient == r.value), 0)
                .cast(MONEY)
                .label(f"money_{r.value}")
                for r in LeadRecipient
            ),
            func.coalesce(func.sum(Lead.money_recovered), 0).cast(MONEY).label("money_recovered"),
        )
        .where(_made_in_rounds(Lead, round_ids))
        .subquery("leads")
    )


def _subjects(round_ids: Rounds) -> Any:
    s = LeadSubject
    party = s.party_sanction.is_not(None)
    government = s.government_sanction.is_not(None)
    sanctioned = or_(party, government)
    case = Lead.case_number.is_not(None)
    no_outcome = and_(
        s.party_sanction.is_(None),
        s.government_sanction.is_(None),
        s.organisational_handling.is_(None),
        s.judicial_transfer.is_(False),
        s.not_substantiated.is_(False),
    )
    return (
        select(
            _count(Lead.status.in_(access.SENT)).label("subjects"),
            _count(case).label("subjects_of_filed_cases"),
            _count(sanctioned).label("sanctioned"),
            _count(sanctioned, ~case).label("sanctioned_without_case"),
            *(
                _count(sanctioned, Lead.recipient == r.value).label(f"sanctioned_{r.value}")
                for r in LeadRecipient
            ),
            _count(party).label("party_sanctioned"),
            _count(government).label("government_sanctioned"),
            *(_count(s.party_sanction == k.value).label(f"party_{k.value}") for k in PartySanction),
            *(
                _count(s.government_sanction == k.value).label(f"government_{k.value}")
                for k in GovernmentSanction
            ),
            _count(s.organisational_handling.is_not(None)).label("organisational"),
            *(
                _count(s.organisational_handling == k.value).label(f"organisational_{k.value}")
                for k in OrganisationalHandling
            ),
            _count(s.judicial_transfer).label("judicial_transfers"),
            _count(s.not_substantiated).label("not_substantiated"),
            _count(Lead.status == S.concluded.value, no_outcome).label("concluded_no_outcome"),
        )
        .select_from(s)
        .join(Lead, Lead.id == s.lead_id)
        .where(_made_in_rounds(Lead, round_ids))
        .subquery("subjects")
    )


def _items(round_ids: Rounds) -> Any:
    i = RectificationItem
    signed_off = i.status == RectificationStatus.signed_off.value
    return (
        select(
            _count().label("items"),
            _count(signed_off).label("signed_off"),
            _count(~signed_off).label("items_open"),
            _count(i.overdue).label("items_overdue"),
            _count(signed_off, i.signed_off_on.is_(None)).label("signed_off_undated"),
            *(_count(i.status == k.value).label(f"item_{k.value}") for k in RectificationStatus),
        )
        .where(_made_in_rounds(i, round_ids))
        .subquery("items")
    )


def _results(round_ids: Rounds) -> Any:
    suggestions = (
        select(
            _count().label("suggestions"),
            *(
                _count(Suggestion.adoption == a.value).label(f"adoption_{a.value}")
                for a in Adoption
            ),
        )
        .select_from(Suggestion)
        .where(_in_rounds(Suggestion.round_id, round_ids))
        .subquery("suggestions")
    )
    rules = (
        select(_count().label("rules"))
        .select_from(EstablishedRule)  # else, for every record, COUNT(*) of no table: 1
        .where(_in_rounds(EstablishedRule.round_id, round_ids))
        .subquery("rules")
    )
    return suggestions, rules


async def figures(session: AsyncSession, round_ids: Rounds) -> dict[str, Any]:
    """Every figure, by label, in one round trip."""
    leads, subjects, items = _leads(round_ids), _subjects(round_ids), _items(round_ids)
    suggestions, rules = _results(round_ids)
    stmt = select(leads, subjects, items, suggestions, rules).select_from(
        leads.join(subjects, true())
        .join(items, true())
        .join(suggestions, true())
        .join(rules, true())
    )
    # prepared per pooled connection, and its text changes with the number of rounds: after
    # five runs PostgreSQL may switch to a generic plan that ignores which rounds are asked
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    row = (await session.execute(stmt)).mappings().one()
    return dict(row)
