"""Business rules of leads (问题线索): their state machine, subjects and per-subject outcomes,
the feedback deadline, and the receivers list. Flushes, never commits.

draft → approved (office head) → transferred (office, with the transfer letter) → received →
handling (one of the four handlings) → case_filed (only after preliminary verification) →
concluded (an outcome for every subject). Handling may also conclude without a case. An approval
may be withdrawn (approved → draft) until the lead is transferred; nothing else goes back: the
transitions are the official record. Party and government sanctions need a filed case (立案 comes
before 处分), so the persons sanctioned never exceed the subjects of filed cases.

Who moves a lead: the office (every step), or a receiver of the lead's recipient body (the
receiver's steps, once the lead is transferred; the discipline platform counts as a receiver of
the discipline commission). Anyone else who sees the lead (a group leader) gets 403.
Dates (Asia/Shanghai): a lead is transferred between the day it was registered and today; its
feedback deadline is never before the transfer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.concurrency import check_if_match
from services.common.errors import Forbidden
from services.common.gateway_client import GatewayClient
from services.common.tombstones import record_deletion
from services.referrals import access, clients, events, snapshots
from services.referrals.access import Caller
from services.referrals.dates import SHANGHAI, add_months, today
from services.referrals.enums import Handling, LeadStatus
from services.referrals.errors import field_error
from services.referrals.leads.errors import (
    CaseNeedsVerification,
    IllegalLeadTransition,
    LeadIncomplete,
    LeadNotEditable,
    LeadNotFound,
    LeadStepInvalid,
    LetterNumberTaken,
    ReceiverNotFound,
)
from services.referrals.leads.repository import LeadRepository, ReceiverRepository
from services.referrals.leads.schemas import (
    LeadCreate,
    LeadRead,
    LeadTransitionCreate,
    LeadUpdate,
    ReceiverIn,
    SubjectIn,
    SubjectRead,
)
from services.referrals.models import Lead, LeadTransition, Receiver, tombstones
from services.referrals.schemas import FindingSummary

LEAD = "lead"
S = LeadStatus
NEXT: dict[str, list[LeadStatus]] = {
    S.draft.value: [S.approved],
    S.approved.value: [S.transferred, S.draft],
    S.transferred.value: [S.received],
    S.received.value: [S.handling],
    S.handling.value: [S.case_filed, S.concluded],
    S.case_filed.value: [S.concluded],
    S.concluded.value: [],
}
# Steps of the office; the others are the receiver's (the office may record them on its behalf,
# e.g. from a feedback letter on paper).
OFFICE_STEPS = (S.approved, S.draft, S.transferred)


def next_states(status: str) -> list[LeadStatus]:
    return NEXT[status]


def registered_on(lead: Lead) -> date:
    """The office's calendar day the lead was registered."""
    return lead.created_at.astimezone(SHANGHAI).date()


def _subject_row(s: SubjectIn) -> dict[str, Any]:
    return {
        "name": s.name,
        "position": s.position,
        "rank": s.rank.value,
        "party_member": s.party_member,
    }


class LeadService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = LeadRepository(session)

    # ---- reading ----

    async def get(self, lead_id: uuid.UUID, caller: Caller) -> Lead:
        lead = await self.repo.get_visible(lead_id, caller)
        if lead is None:
            raise LeadNotFound(f"lead {lead_id} not found")
        return lead

    async def handles(self, lead: Lead, caller: Caller) -> bool:
        """The caller may see the whole lead and take its receiver's steps: the office, or a
        receiver of the lead's recipient body (the platform, for the discipline commission)
        once it is transferred."""
        if access.is_office(caller.principal):
            return True
        return lead.recipient in await self._bodies(caller) and lead.status in access.SENT

    async def _bodies(self, caller: Caller) -> set[str]:
        """The recipient bodies the caller handles leads for: as a receiver, as the platform."""
        found = (
            await self.repo.receiver_body(caller.principal),
            access.platform_body(caller.principal),
        )
        return {body for body in found if body is not None}

    async def present(self, leads: Sequence[Lead], caller: Caller) -> list[LeadRead]:
        """Leads as the caller may see them: three queries whatever the number of leads. Who
        does not handle a lead (a group leader following their findings) gets the follow-up
        read model: where it stands, not whom it is about nor what came of it."""
        office = access.is_office(caller.principal)
        bodies: set[str] = set() if office else await self._bodies(caller)
        full = {
            lead.id
            for lead in leads
            if office or (lead.recipient in bodies and lead.status in access.SENT)
        }
        subjects = await self.repo.subjects_of([lead.id for lead in leads])
        found = await snapshots.of(self.session, (f for lead in leads for f in lead.finding_ids))
        out = []
        for lead in leads:
            shown = lead.id in full
            mine = subjects.get(lead.id, [])
            out.append(
                LeadRead(
                    id=lead.id,
                    view="full" if shown else "follow_up",
                    title=lead.title if shown else None,
                    summary=lead.summary if shown else None,
                    finding_ids=lead.finding_ids,
                    findings=[
                        FindingSummary.model_validate(found[f])
                        for f in lead.finding_ids
                        if f in found
                    ],
                    round_id=lead.round_id,
                    recipient=lead.recipient,
                    status=lead.status,
                    next_states=next_states(lead.status),
                    approved_by=lead.approved_by if shown else None,
                    transfer_letter_no=lead.transfer_letter_no if shown else None,
                    transferred_on=lead.transferred_on,
                    feedback_due=lead.feedback_due,
                    overdue=lead.overdue,
                    handling=lead.handling if shown else None,
                    case_number=lead.case_number if shown else None,
                    case_filed_on=lead.case_filed_on,
                    concluded_on=lead.concluded_on,
                    money_recovered=lead.money_recovered if shown else None,
                    subject_count=len(mine),
                    subjects=[SubjectRead.model_validate(s) for s in mine] if shown else None,
                    subject_names_hidden=not shown,
                    created_by=lead.created_by if shown else None,
                    version=lead.version,
                    created_at=lead.created_at,
                    updated_at=lead.updated_at,
                )
            )
        return out

    # ---- writing ----

    async def create(self, data: LeadCreate, by: Principal, gateway: GatewayClient) -> Lead:
        ids = list(dict.fromkeys(data.finding_ids))  # the order the caller gave, without repeats
        refs = await clients.findings(gateway, ids)
        clients.handable(refs)
        round_id = data.round_id
        if round_id is not None:
            await clients.check_round(gateway, round_id)
        else:
            round_id = snapshots.common_round(refs)
        await snapshots.save(self.session, refs)
        lead = await self.repo.add(
            Lead(
                title=data.title,
                summary=data.summary,
                finding_ids=ids,
                round_id=round_id,
                recipient=data.recipient.value,
                status=S.draft.value,
                created_by=by.subject,
            )
        )
        await self.repo.replace_subjects(lead.id, [_subject_row(s) for s in data.subjects])
        await events.lead_registered(self.session, lead)
        return lead

    async def _for_change(
        self, lead_id: uuid.UUID, caller: Caller, if_match: str | None, *, required: bool
    ) -> Lead:
        lead = await self.repo.get_visible(lead_id, caller, for_update=True)
        if lead is None:
            raise LeadNotFound(f"lead {lead_id} not found")
        check_if_match(if_match, lead.version, required=required)
        return lead

    async def _touch(self, lead: Lead) -> Lead:
        """Subjects are part of the lead: a change to them moves the lead's version (ETag)."""
        lead.updated_at = func.now()
        await self.session.flush()
        await self.session.refresh(lead)
        return lead

    async def update(
        self, lead_id: uuid.UUID, data: LeadUpdate, if_match: str | None, by: Caller
    ) -> Lead:
        lead = await self._for_change(lead_id, by, if_match, required=True)
        sent = data.model_dump(exclude_unset=True)
        status = lead.status

        def refuse(field: str, when: str) -> LeadNotEditable:
            return field_error(
                LeadNotEditable, field, f"{field} can only be changed {when}", "not_editable"
            )

        for field in ("title", "summary"):
            if field in sent and status not in (S.draft.value, S.approved.value):
                raise refuse(field, "before the lead is transferred")
        for field in ("recipient", "subjects"):
            if field in sent and status != S.draft.value:
                raise refuse(field, "while the lead is a draft")
        if "feedback_due" in sent and (
            status in (S.draft.value, S.approved.value, S.concluded.value)
        ):
            raise refuse("feedback_due", "after transfer and before conclusion")
        due = sent.get("feedback_due")
        if due is not None and lead.transferred_on is not None and due < lead.transferred_on:
            raise field_error(
                LeadStepInvalid, "feedback_due",
                f"is before the transfer ({lead.transferred_on.isoformat()})", "out_of_range",
            )  # fmt: skip
        for field in ("title", "summary", "feedback_due"):
            if sent.get(field) is not None:
                setattr(lead, field, sent[field])
        if data.recipient is not None:
            lead.recipient = data.recipient.value
        if data.subjects is not None:
            await self.repo.replace_subjects(lead.id, [_subject_row(s) for s in data.subjects])
        return await self._touch(lead)

    async def delete(self, lead_id: uuid.UUID, if_match: str | None, by: Caller) -> None:
        lead = await self._for_change(lead_id, by, if_match, required=True)
        if lead.status != S.draft.value:
            raise LeadNotEditable(f"lead {lead_id} is {lead.status}; only a draft can be deleted")
        await self.session.delete(lead)
        await self.session.flush()
        await record_deletion(self.session, tombstones, LEAD, [lead_id])

    async def transition(
        self,
        lead_id: uuid.UUID,
        data: LeadTransitionCreate,
        if_match: str | None,
        by: Caller,
        feedback_months: int,
    ) -> LeadTransition:
        lead = await self._for_change(lead_id, by, if_match, required=False)
        office = access.is_office(by.principal)
        if not await self.handles(lead, by):
            # sees the lead (a group leader following their findings) but handles it not
            raise Forbidden(
                "only the office or a receiver of the lead's recipient body moves a lead"
            )
        allowed = next_states(lead.status)
        if data.to not in allowed:
            names = ", ".join(f"{s.value} ({s.label})" for s in allowed) or "nothing"
            raise IllegalLeadTransition(
                f"a lead in {lead.status} can move to {names}, not to {data.to.value}",
                current=lead.status,
                allowed=[s.value for s in allowed],
            )
        if data.to in OFFICE_STEPS and not office:
            raise Forbidden(f"moving a lead to {data.to.value} is the office's step")
        left = lead.status
        step = getattr(self, f"_to_{data.to.value}")
        await step(lead, data, by.principal, feedback_months)
        lead.status = data.to.value
        await self.session.flush()
        await self.session.refresh(lead)
        await events.lead_moved(
            self.session, lead, (await self.repo.subjects_of([lead.id])).get(lead.id, [])
        )
        return await self.repo.add_transition(
            LeadTransition(
                lead_id=lead.id,
                from_state=left,
                to_state=data.to.value,
                note=data.note,
                by=by.subject,
            )
        )

    # Each step checks and records what its state needs.

    async def _to_approved(
        self, lead: Lead, data: LeadTransitionCreate, by: Principal, _: int
    ) -> None:
        if not (await self.repo.subjects_of([lead.id])).get(lead.id):
            raise field_error(
                LeadIncomplete, "subjects", "a lead needs at least one subject", "required"
            )
        lead.approved_by = by.subject

    async def _to_draft(
        self, lead: Lead, data: LeadTransitionCreate, by: Principal, _: int
    ) -> None:
        lead.approved_by = None

    async def _to_transferred(
        self, lead: Lead, data: LeadTransitionCreate, by: Principal, feedback_months: int
    ) -> None:
        if data.transfer_letter_no is None:
            raise field_error(
                LeadStepInvalid, "transfer_letter_no", "the transfer letter number is required",
                "required",
            )  # fmt: skip
        day = data.transferred_on or today()
        if day > today():
            raise field_error(LeadStepInvalid, "transferred_on", "is in the future", "future_date")
        if day < registered_on(lead):
            raise field_error(
                LeadStepInvalid, "transferred_on",
                f"is before the lead was registered ({registered_on(lead).isoformat()})",
                "out_of_range",
            )  # fmt: skip
        lead.transfer_letter_no = data.transfer_letter_no
        lead.transferred_on = day
        lead.feedback_due = add_months(day, feedback_months)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise LetterNumberTaken(
                f"letter {data.transfer_letter_no} was used for another lead"
            ) from exc

    async def _to_received(
        self, lead: Lead, data: LeadTransitionCreate, by: Principal, _: int
    ) -> None:
        return None

    async def _to_handling(
        self, lead: Lead, data: LeadTransitionCreate, by: Principal, _: int
    ) -> None:
        if data.handling is None:
            raise field_error(
                LeadStepInvalid, "handling", "choose one of the four handlings", "required"
            )
        lead.handling = data.handling.value

    async def _to_case_filed(
        self, lead: Lead, data: LeadTransitionCreate, by: Principal, _: int
    ) -> None:
        if lead.handling != Handling.preliminary_verification.value:
            raise CaseNeedsVerification(
                f"the lead is handled by {lead.handling}; a case follows preliminary verification",
                handling=lead.handling,
            )
        if data.case_number is None:
            raise field_error(
                LeadStepInvalid, "case_number", "the case number is required", "required"
            )
        day = data.case_filed_on or today()
        if day > today() or (lead.transferred_on and day < lead.transferred_on):
            raise field_error(
                LeadStepInvalid, "case_filed_on", "must be between the transfer and today",
                "out_of_range",
            )  # fmt: skip
        lead.case_number = data.case_number
        lead.case_filed_on = day

    async def _to_concluded(
        self, lead: Lead, data: LeadTransitionCreate, by: Principal, _: int
    ) -> None:
        subjects = {s.id: s for s in (await self.repo.subjects_of([lead.id])).get(lead.id, [])}
        outcomes = data.outcomes or []
        seen: set[uuid.UUID] = set()
        rows = []
        for n, o in enumerate(outcomes):
            subject = subjects.get(o.subject_id)
            where = f"outcomes.{n}"
            if subject is None or o.subject_id in seen:
                raise field_error(
                    LeadStepInvalid, f"{where}.subject_id",
                    "not a subject of this lead, or given twice", "unknown_subject",
                )  # fmt: skip
            seen.add(o.subject_id)
            sanctioned = o.party_sanction is not None or o.government_sanction is not None
            if sanctioned and lead.status != S.case_filed.value:
                field = "party_sanction" if o.party_sanction else "government_sanction"
                raise field_error(
                    LeadStepInvalid, f"{where}.{field}",
                    "a sanction needs a filed case (立案) first", "no_case",
                )  # fmt: skip
            if o.party_sanction is not None and not subject.party_member:
                raise field_error(
                    LeadStepInvalid, f"{where}.party_sanction",
                    "a party sanction applies to party members only", "not_party_member",
                )  # fmt: skip
            rows.append(
                {
                    "id": o.subject_id,
                    "party_sanction": o.party_sanction.value if o.party_sanction else None,
                    "government_sanction": (
                        o.government_sanction.value if o.government_sanction else None
                    ),
                    "organisational_handling": (
                        o.organisational_handling.value if o.organisational_handling else None
                    ),
                    "judicial_transfer": o.judicial_transfer,
                    "not_substantiated": o.not_substantiated,
                    "outcome_note": o.note,
                }
            )
        missing = [s for s in subjects if s not in seen]
        if missing:
            raise field_error(
                LeadStepInvalid, "outcomes",
                f"every subject needs an outcome; missing {', '.join(map(str, missing))}",
                "missing_outcome",
            )  # fmt: skip
        await self.repo.set_outcomes(rows)
        if data.money_recovered is not None:
            lead.money_recovered = data.money_recovered
        lead.concluded_on = today()


class ReceiverService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ReceiverRepository(session)

    async def get(self, user_id: uuid.UUID) -> Receiver:
        found = await self.repo.locked(user_id)
        if found is None:
            raise ReceiverNotFound(f"user {user_id} is not a receiver")
        return found

    async def put(
        self, user_id: uuid.UUID, data: ReceiverIn, if_match: str | None, by: Principal
    ) -> tuple[Receiver, bool]:
        """Creates or replaces the receiver; True when created."""
        found = await self.repo.locked(user_id)
        if found is None:
            try:
                async with self.session.begin_nested():
                    row = await self.repo.add(
                        Receiver(
                            user_id=user_id,
                            recipient=data.recipient.value,
                            name=data.name,
                            created_by=by.subject,
                        )
                    )
                return row, True
            except IntegrityError:  # created meanwhile: replace it like any other
                found = await self.get(user_id)
        check_if_match(if_match, found.version)
        found.recipient = data.recipient.value
        found.name = data.name
        await self.session.flush()
        await self.session.refresh(found)
        return found, False

    async def delete(self, user_id: uuid.UUID, if_match: str | None) -> None:
        found = await self.get(user_id)
        check_if_match(if_match, found.version, required=True)
        await self.session.delete(found)
        await self.session.flush()
