"""The referrals service's integration events (see services/common/events/catalogue.py), each
written in the transaction of the change it reports. Lead subjects' names go only into
`lead.transferred`, marked confidential there: the hub strips them for every subscriber not
cleared for them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.events.catalogue import (
    LeadCaseFiled,
    LeadConcluded,
    LeadHandlingChosen,
    LeadRegistered,
    LeadTransferred,
    Outcome,
    RectificationAssigned,
    RectificationEscalated,
    RectificationSignedOff,
    Subject,
)
from services.common.events.outbox import Outbox
from services.referrals.enums import LeadStatus
from services.referrals.models import Lead, LeadSubject, Notice, RectificationItem, outbox

events = Outbox(outbox)
S = LeadStatus


async def lead_registered(session: AsyncSession, lead: Lead) -> None:
    await events.emit(
        session,
        "lead.registered",
        lead.id,
        LeadRegistered(
            lead_id=lead.id,
            finding_ids=list(lead.finding_ids),
            round_id=lead.round_id,
            recipient=lead.recipient,
        ),
    )


async def lead_moved(session: AsyncSession, lead: Lead, subjects: Sequence[LeadSubject]) -> None:
    """The event of the state the lead has just entered, if it is one the catalogue has."""
    if lead.status == S.transferred.value:
        assert lead.transferred_on is not None
        await events.emit(
            session,
            "lead.transferred",
            lead.id,
            LeadTransferred(
                lead_id=lead.id,
                finding_ids=list(lead.finding_ids),
                round_id=lead.round_id,
                recipient=lead.recipient,
                title=lead.title,
                transfer_letter_no=lead.transfer_letter_no,
                transferred_on=lead.transferred_on,
                feedback_due=lead.feedback_due,
                subject_count=len(subjects),
                subjects=[
                    Subject(subject_id=s.id, name=s.name, position=s.position or None,
                            rank=s.rank, party_member=s.party_member)
                    for s in subjects
                ],
            ),
        )  # fmt: skip
    elif lead.status == S.handling.value:
        assert lead.handling is not None
        await events.emit(
            session,
            "lead.handling_chosen",
            lead.id,
            LeadHandlingChosen(lead_id=lead.id, handling=lead.handling),
        )
    elif lead.status == S.case_filed.value:
        assert lead.case_number is not None
        assert lead.case_filed_on is not None
        await events.emit(
            session,
            "lead.case_filed",
            lead.id,
            LeadCaseFiled(
                lead_id=lead.id, case_number=lead.case_number, case_filed_on=lead.case_filed_on
            ),
        )
    elif lead.status == S.concluded.value:
        assert lead.concluded_on is not None
        await events.emit(
            session,
            "lead.concluded",
            lead.id,
            LeadConcluded(
                lead_id=lead.id,
                concluded_on=lead.concluded_on,
                money_recovered=lead.money_recovered,
                outcomes=[
                    Outcome(subject_id=s.id, party_sanction=s.party_sanction,
                            government_sanction=s.government_sanction,
                            organisational_handling=s.organisational_handling,
                            judicial_transfer=s.judicial_transfer,
                            not_substantiated=s.not_substantiated)
                    for s in subjects
                ],
            ),
        )  # fmt: skip


async def rectification_assigned(session: AsyncSession, item: RectificationItem) -> None:
    await events.emit(
        session,
        "rectification.assigned",
        item.id,
        RectificationAssigned(
            item_id=item.id,
            finding_ids=list(item.finding_ids),
            round_id=item.round_id,
            title=item.title,
            owner_type=item.owner_type,
            owner_name=item.owner_name,
            deadline=item.deadline,
        ),
    )


async def rectification_signed_off(session: AsyncSession, item: RectificationItem) -> None:
    assert item.signed_off_on is not None
    await events.emit(
        session,
        "rectification.signed_off",
        item.id,
        RectificationSignedOff(
            item_id=item.id, signed_off_on=item.signed_off_on, finding_ids=list(item.finding_ids)
        ),
    )


async def rectification_escalated(session: AsyncSession, notices: Sequence[Notice]) -> None:
    await events.emit_many(
        session,
        "rectification.escalated",
        [
            (
                n.item_id,
                RectificationEscalated(
                    item_id=n.item_id,
                    notice_id=n.id,
                    rung=n.recipient,
                    recipient=n.recipient_name or "",
                    deadline=n.deadline,
                    reason=n.reason,
                ),
            )
            for n in notices
        ],
    )
