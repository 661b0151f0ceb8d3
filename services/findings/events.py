"""The findings service's integration events: what it emits (a finding confirmed, handed over)
and what it consumes, each applied once (the inbox keeps the event ids):

- `lead.registered`, `rectification.assigned`: the findings a lead or rectification item was
  made from move from confirmed to handed over (已移交), with a history line naming the record
  and an event of their own. One already handed over (or moved on) is left as it is.
- `target.renamed`: the target name in the findings' snapshot follows the registry (their
  version and `updated_at` move, so delta sync brings the new name to the phones).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.events.catalogue import (
    Envelope,
    FindingConfirmed,
    FindingHandedOver,
    LeadRegistered,
    RectificationAssigned,
    TargetRenamed,
)
from services.common.events.inbox import Handler
from services.common.events.outbox import Outbox
from services.findings.enums import FindingStatus
from services.findings.models import Finding, FindingTransition, outbox

events = Outbox(outbox)
S = FindingStatus
BY_REFERRALS = "referrals"


async def confirmed(session: AsyncSession, finding: Finding) -> None:
    await events.emit(
        session,
        "finding.confirmed",
        finding.id,
        FindingConfirmed(
            finding_id=finding.id,
            round_id=finding.round_id,
            group_id=finding.group_id,
            target_id=finding.target_id,
            category_id=finding.category_id,
            severity=finding.severity,
            money_involved=finding.money_involved,
            recurrent=finding.recurrence_of is not None,
        ),
    )


async def handed_over(
    session: AsyncSession, moved: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID]], reason: str
) -> None:
    """`moved`: (finding, round, target) of each finding just handed over."""
    await events.emit_many(
        session,
        "finding.handed_over",
        [
            (f, FindingHandedOver(finding_id=f, round_id=r, target_id=t, reason=reason))
            for f, r, t in moved
        ],
    )


async def hand_over(session: AsyncSession, finding_ids: Sequence[uuid.UUID], reason: str) -> None:
    rows = (
        await session.execute(
            update(Finding)
            .where(Finding.id.in_(finding_ids), Finding.status == S.confirmed.value)
            .values(status=S.handed_over.value, updated_at=func.now(), version=Finding.version + 1)
            .returning(Finding.id, Finding.round_id, Finding.target_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not rows:
        return
    await session.execute(
        insert(FindingTransition),
        [
            {"finding_id": f, "from_status": S.confirmed.value, "to_status": S.handed_over.value,
             "reason": reason, "by": BY_REFERRALS}
            for f, _, _ in rows
        ],
    )  # fmt: skip
    await handed_over(session, [(f, r, t) for f, r, t in rows], reason)


async def on_lead_registered(session: AsyncSession, event: Envelope) -> None:
    lead = LeadRegistered.model_validate(event.payload)
    await hand_over(session, lead.finding_ids, f"移交问题线索（{lead.lead_id}）")


async def on_rectification_assigned(session: AsyncSession, event: Envelope) -> None:
    item = RectificationAssigned.model_validate(event.payload)
    await hand_over(session, item.finding_ids, f"列入整改事项（{item.item_id}）")


async def on_target_renamed(session: AsyncSession, event: Envelope) -> None:
    target = TargetRenamed.model_validate(event.payload)
    await session.execute(
        update(Finding)
        .where(Finding.target_id == target.target_id, Finding.target_name != target.name)
        .values(target_name=target.name, updated_at=func.now(), version=Finding.version + 1)
        .execution_options(synchronize_session=False)
    )


HANDLERS: dict[str, Handler] = {
    "lead.registered": on_lead_registered,
    "rectification.assigned": on_rectification_assigned,
    "target.renamed": on_target_renamed,
}
