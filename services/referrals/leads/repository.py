"""Every query of leads. Visibility is part of each query (see referrals/access.py)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select, tuple_, update

from services.common.auth import Principal
from services.common.pagination import PageParams, decode_cursor
from services.common.repository import Repository
from services.referrals import access
from services.referrals.access import Caller
from services.referrals.models import Lead, LeadSubject, LeadTransition, Receiver


class LeadRepository(Repository[Lead]):
    model = Lead

    def scoped(self, caller: Caller) -> Select[Any]:
        return select(Lead).where(access.lead_scope(caller))

    async def get_visible(
        self, lead_id: uuid.UUID, caller: Caller, *, for_update: bool = False
    ) -> Lead | None:
        """`for_update` locks the row until the end of the transaction: every change to a
        lead (and its subjects) is serialised on it."""
        stmt = self.scoped(caller).where(Lead.id == lead_id)
        if for_update:
            stmt = stmt.with_for_update(of=Lead).execution_options(populate_existing=True)
        return (await self.session.scalars(stmt)).one_or_none()

    async def search(
        self,
        params: PageParams,
        caller: Caller,
        *,
        finding_id: uuid.UUID | None = None,
        status: str | None = None,
        recipient: str | None = None,
        round_id: uuid.UUID | None = None,
        overdue: bool | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Lead]:
        stmt = self.scoped(caller)
        if finding_id is not None:
            stmt = stmt.where(Lead.finding_ids.contains([finding_id]))
        if status is not None:
            stmt = stmt.where(Lead.status == status)
        if recipient is not None:
            stmt = stmt.where(Lead.recipient == recipient)
        if round_id is not None:
            stmt = stmt.where(Lead.round_id == round_id)
        if overdue is not None:
            stmt = stmt.where(Lead.overdue if overdue else ~Lead.overdue)
        if updated_since is not None:
            # inclusive: a row written in the same instant as the last sync is not skipped
            # (one on the boundary may come back twice)
            stmt = stmt.where(Lead.updated_at >= updated_since)
        return await self.page(stmt, params)

    async def receiver_body(self, principal: Principal) -> str | None:
        """The recipient body the caller handles leads for, if they are a receiver."""
        uid = access.user_id(principal)
        if uid is None or not principal.has_role("receiver"):
            return None
        body: str | None = await self.session.scalar(
            select(Receiver.recipient).where(Receiver.user_id == uid)
        )
        return body

    async def subjects_of(
        self, lead_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[LeadSubject]]:
        out: dict[uuid.UUID, list[LeadSubject]] = defaultdict(list)
        if lead_ids:
            rows = await self.session.scalars(
                select(LeadSubject)
                .where(LeadSubject.lead_id.in_(lead_ids))
                .order_by(LeadSubject.lead_id, LeadSubject.position_no)
            )
            for row in rows:
                out[row.lead_id].append(row)
        return out

    async def replace_subjects(
        self, lead_id: uuid.UUID, subjects: Sequence[dict[str, Any]]
    ) -> None:
        await self.session.execute(delete(LeadSubject).where(LeadSubject.lead_id == lead_id))
        if subjects:
            await self.session.execute(
                insert(LeadSubject),
                [{"lead_id": lead_id, "position_no": n, **s} for n, s in enumerate(subjects)],
            )

    async def set_outcomes(self, outcomes: Sequence[dict[str, Any]]) -> None:
        """One executemany UPDATE by primary key for all subjects."""
        if outcomes:
            await self.session.execute(update(LeadSubject), list(outcomes))

    async def add_transition(self, transition: LeadTransition) -> LeadTransition:
        self.session.add(transition)
        await self.session.flush()
        await self.session.refresh(transition)
        return transition

    async def transitions(self, lead_id: uuid.UUID, params: PageParams) -> Sequence[LeadTransition]:
        stmt = select(LeadTransition).where(LeadTransition.lead_id == lead_id)
        if params.cursor:
            at, tid = decode_cursor(params.cursor)
            stmt = stmt.where(tuple_(LeadTransition.at, LeadTransition.id) > tuple_(at, tid))
        stmt = stmt.order_by(LeadTransition.at, LeadTransition.id).limit(params.limit + 1)
        return (await self.session.scalars(stmt)).all()


class ReceiverRepository(Repository[Receiver]):
    model = Receiver

    async def search(self, params: PageParams, recipient: str | None = None) -> Sequence[Receiver]:
        stmt = select(Receiver)
        if recipient is not None:
            stmt = stmt.where(Receiver.recipient == recipient)
        return await self.page(stmt, params)

    async def locked(self, user_id: uuid.UUID) -> Receiver | None:
        stmt = (
            select(Receiver)
            .where(Receiver.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()
