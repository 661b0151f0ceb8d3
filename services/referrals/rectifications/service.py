"""Business rules of rectification items (整改事项): progress, completion request, sign-off
(销号) or send-back, reopening at a follow-up (回头看), and the escalation ladder. Flushes,
never commits.

open / sent_back / reopened → completion_requested (the owner, or the office for them) →
signed_off (the office) or sent_back (the office, with a reason); signed_off → reopened (the
office, with a reason and possibly a new deadline).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.concurrency import check_if_match
from services.common.errors import Forbidden
from services.common.gateway_client import GatewayClient
from services.referrals import access, clients, events, snapshots
from services.referrals.dates import today
from services.referrals.enums import RectificationStatus
from services.referrals.errors import field_error
from services.referrals.models import (
    Notice,
    ProgressReport,
    RectificationItem,
    RectificationTransition,
)
from services.referrals.rectifications.errors import (
    IllegalRectificationTransition,
    RectificationClosed,
    RectificationNotFound,
    RectificationStepInvalid,
)
from services.referrals.rectifications.repository import NoticeRepository, RectificationRepository
from services.referrals.rectifications.schemas import (
    ProgressCreate,
    RectificationCreate,
    RectificationRead,
    RectificationTransitionCreate,
    RectificationUpdate,
)
from services.referrals.schemas import FindingSummary
from services.referrals.settings import EscalationRung

R = RectificationStatus
NEXT: dict[str, list[RectificationStatus]] = {
    R.open.value: [R.completion_requested],
    R.sent_back.value: [R.completion_requested],
    R.reopened.value: [R.completion_requested],
    R.completion_requested.value: [R.signed_off, R.sent_back],
    R.signed_off.value: [R.reopened],
}
OFFICE_STEPS = (R.signed_off, R.sent_back, R.reopened)
NEEDS_REASON = (R.sent_back, R.reopened)


def next_states(status: str) -> list[RectificationStatus]:
    return NEXT[status]


def _not_past(day: date, field: str) -> None:
    if day < today():
        raise field_error(RectificationStepInvalid, field, "is before today", "past_date")


def is_owner(item: RectificationItem, principal: Principal) -> bool:
    uid = access.user_id(principal)
    return uid is not None and uid == item.owner_user_id


class RectificationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = RectificationRepository(session)

    async def get(self, item_id: uuid.UUID, principal: Principal) -> RectificationItem:
        item = await self.repo.get_visible(item_id, principal)
        if item is None:
            raise RectificationNotFound(f"rectification item {item_id} not found")
        return item

    async def present(self, items: Sequence[RectificationItem]) -> list[RectificationRead]:
        found = await snapshots.of(self.session, (f for i in items for f in i.finding_ids))
        out = []
        for i in items:
            fields: dict[str, Any] = {
                k: getattr(i, k) for k in RectificationRead.model_fields if hasattr(i, k)
            }
            fields["findings"] = [
                FindingSummary.model_validate(found[f]) for f in i.finding_ids if f in found
            ]
            fields["next_states"] = next_states(i.status)
            out.append(RectificationRead.model_validate(fields))
        return out

    async def create(
        self, data: RectificationCreate, by: Principal, gateway: GatewayClient
    ) -> RectificationItem:
        _not_past(data.deadline, "deadline")
        ids = list(dict.fromkeys(data.finding_ids))
        refs = await clients.findings(gateway, ids)
        clients.handable(refs)
        round_id = data.round_id
        if round_id is not None:
            await clients.check_round(gateway, round_id)
        else:
            round_id = snapshots.common_round(refs)
        await snapshots.save(self.session, refs)
        fields = data.model_dump(exclude={"finding_ids", "round_id", "owner_type"})
        item = await self.repo.add(
            RectificationItem(
                **fields,
                owner_type=data.owner_type.value,
                finding_ids=ids,
                round_id=round_id,
                status=R.open.value,
                created_by=by.subject,
            )
        )
        await self.session.refresh(item)
        await events.rectification_assigned(self.session, item)
        return item

    async def _for_change(
        self, item_id: uuid.UUID, principal: Principal, if_match: str | None, *, required: bool
    ) -> RectificationItem:
        item = await self.repo.get_visible(item_id, principal, for_update=True)
        if item is None:
            raise RectificationNotFound(f"rectification item {item_id} not found")
        check_if_match(if_match, item.version, required=required)
        return item

    async def update(
        self, item_id: uuid.UUID, data: RectificationUpdate, if_match: str | None, by: Principal
    ) -> RectificationItem:
        item = await self._for_change(item_id, by, if_match, required=True)
        if item.status == R.signed_off.value:
            raise RectificationClosed(f"item {item_id} is signed off")
        sent = data.model_dump(exclude_unset=True)
        if sent.get("deadline") is not None:
            _not_past(sent["deadline"], "deadline")
        for field, value in sent.items():
            if value is None and field in (
                "title",
                "duties",
                "owner_type",
                "owner_name",
                "deadline",
            ):
                continue
            setattr(item, field, value.value if field == "owner_type" else value)
        await self.session.flush()
        await self.session.refresh(item)
        return item

    async def report(
        self, item_id: uuid.UUID, data: ProgressCreate, by: Principal
    ) -> ProgressReport:
        item = await self._for_change(item_id, by, None, required=False)
        if not (access.is_office(by) or is_owner(item, by)):
            raise Forbidden("only the item's owner or the office reports progress")
        if item.status == R.signed_off.value:
            raise RectificationClosed(f"item {item_id} is signed off")
        report = ProgressReport(item_id=item.id, note=data.note, by=by.subject)
        await self.repo.add_row(report)
        # a report is part of the item's story: its version (ETag) and updated_at move
        item.updated_at = report.at
        await self.session.flush()
        return report

    async def transition(
        self,
        item_id: uuid.UUID,
        data: RectificationTransitionCreate,
        if_match: str | None,
        by: Principal,
    ) -> RectificationTransition:
        item = await self._for_change(item_id, by, if_match, required=False)
        allowed = next_states(item.status)
        if data.to not in allowed:
            names = ", ".join(f"{s.value} ({s.label})" for s in allowed)
            raise IllegalRectificationTransition(
                f"an item in {item.status} can move to {names}, not to {data.to.value}",
                current=item.status,
                allowed=[s.value for s in allowed],
            )
        if data.to in OFFICE_STEPS and not access.is_office(by):
            raise Forbidden(f"moving an item to {data.to.value} is the office's step")
        if data.to not in OFFICE_STEPS and not (access.is_office(by) or is_owner(item, by)):
            raise Forbidden("only the item's owner or the office asks for sign-off")
        if data.to in NEEDS_REASON and not data.note:
            raise field_error(RectificationStepInvalid, "note", "give the reason", "required")
        if data.deadline is not None:
            if data.to != R.reopened:
                raise field_error(
                    RectificationStepInvalid, "deadline", "only a reopening sets a new deadline",
                    "not_allowed",
                )  # fmt: skip
            _not_past(data.deadline, "deadline")
            item.deadline = data.deadline
        left = item.status
        item.status = data.to.value
        item.signed_off_on = today() if data.to == R.signed_off else None
        await self.session.flush()
        if data.to == R.signed_off:
            await events.rectification_signed_off(self.session, item)
        transition = RectificationTransition(
            item_id=item.id, from_state=left, to_state=data.to.value, note=data.note, by=by.subject
        )
        await self.repo.add_row(transition)
        return transition


class EscalationService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = NoticeRepository(session)

    async def run(
        self, on: date | None, ladder: Sequence[EscalationRung], *, today: date
    ) -> tuple[date, Sequence[Notice]]:
        """The notices due on `on` (default `today`). Not for a future day: its rungs would be
        spent before they are due. A past day catches up a missed run."""
        day = on or today
        if day > today:
            raise field_error(
                RectificationStepInvalid, "on",
                f"is later than today ({today.isoformat()}, Asia/Shanghai)", "future_date",
            )  # fmt: skip
        notices = await self.repo.escalate(day, ladder)
        await events.rectification_escalated(self.repo.session, notices)
        return day, notices
