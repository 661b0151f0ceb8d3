"""Every query of rectification items, progress reports and notices. Visibility is part of
each query (see referrals/access.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    case,
    cast,
    column,
    func,
    literal,
    select,
    tuple_,
    values,
)
from sqlalchemy.dialects.postgresql import insert

from services.common.auth import Principal
from services.common.pagination import PageParams, decode_cursor
from services.common.repository import Repository
from services.referrals import access
from services.referrals.enums import NoticeRecipient, RectificationStatus
from services.referrals.models import (
    Notice,
    ProgressReport,
    RectificationItem,
    RectificationTransition,
)
from services.referrals.settings import EscalationRung

# An item waiting for the office's sign-off, or signed off, is not chased.
NOT_CHASED = (RectificationStatus.completion_requested.value, RectificationStatus.signed_off.value)
CHASED = tuple(s.value for s in RectificationStatus if s.value not in NOT_CHASED)


def _after(stmt: Select[Any], at_col: Any, id_col: Any, params: PageParams) -> Select[Any]:
    if params.cursor:
        at, rid = decode_cursor(params.cursor)
        stmt = stmt.where(tuple_(at_col, id_col) > tuple_(at, rid))
    return stmt.order_by(at_col, id_col).limit(params.limit + 1)


class RectificationRepository(Repository[RectificationItem]):
    model = RectificationItem

    def scoped(self, principal: Principal) -> Select[Any]:
        return select(RectificationItem).where(access.item_scope(principal))

    async def get_visible(
        self, item_id: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> RectificationItem | None:
        stmt = self.scoped(principal).where(RectificationItem.id == item_id)
        if for_update:
            stmt = stmt.with_for_update(of=RectificationItem).execution_options(
                populate_existing=True
            )
        return (await self.session.scalars(stmt)).one_or_none()

    async def search(
        self,
        params: PageParams,
        principal: Principal,
        *,
        finding_id: uuid.UUID | None = None,
        status: str | None = None,
        round_id: uuid.UUID | None = None,
        overdue: bool | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[RectificationItem]:
        stmt = self.scoped(principal)
        if finding_id is not None:
            stmt = stmt.where(RectificationItem.finding_ids.contains([finding_id]))
        if status is not None:
            stmt = stmt.where(RectificationItem.status == status)
        if round_id is not None:
            stmt = stmt.where(RectificationItem.round_id == round_id)
        if overdue is not None:
            stmt = stmt.where(RectificationItem.overdue if overdue else ~RectificationItem.overdue)
        if updated_since is not None:
            # inclusive: a row written in the same instant as the last sync is not skipped
            # (one on the boundary may come back twice)
            stmt = stmt.where(RectificationItem.updated_at >= updated_since)
        return await self.page(stmt, params)

    async def add_row(self, row: ProgressReport | RectificationTransition) -> None:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)

    async def progress(self, item_id: uuid.UUID, params: PageParams) -> Sequence[ProgressReport]:
        stmt = select(ProgressReport).where(ProgressReport.item_id == item_id)
        return (
            await self.session.scalars(_after(stmt, ProgressReport.at, ProgressReport.id, params))
        ).all()

    async def transitions(
        self, item_id: uuid.UUID, params: PageParams
    ) -> Sequence[RectificationTransition]:
        stmt = select(RectificationTransition).where(RectificationTransition.item_id == item_id)
        query = _after(stmt, RectificationTransition.at, RectificationTransition.id, params)
        return (await self.session.scalars(query)).all()


class NoticeRepository(Repository[Notice]):
    model = Notice

    async def search(
        self, params: PageParams, principal: Principal, item_id: uuid.UUID | None = None
    ) -> Sequence[Notice]:
        visible = select(RectificationItem.id).where(access.item_scope(principal))
        stmt = select(Notice).where(Notice.item_id.in_(visible))
        if item_id is not None:
            stmt = stmt.where(Notice.item_id == item_id)
        return await self.page(stmt, params)

    def escalation(self, on: date, ladder: Sequence[EscalationRung]) -> Select[Any]:
        """The notices due on `on`: each open item (handed over by then) and each rung it has
        reached. The deadline is compared with a date (`deadline <= on + days_before`, and at
        most the highest rung ahead) so that (status, deadline) is an index range."""
        rungs = values(column("days_before", Integer), column("notify", String), name="rungs").data(
            [(r.days_before, r.notify.value) for r in ladder]
        )
        item = RectificationItem
        day = cast(literal(on), Date)
        left = cast(item.deadline - day, Integer)
        by = {
            NoticeRecipient.owner.value: (item.owner_name, item.owner_user_id),
            NoticeRecipient.leader_in_charge.value: (item.leader_name, item.leader_user_id),
            NoticeRecipient.unit_head.value: (item.unit_head_name, item.unit_head_user_id),
        }
        label = case(
            *((rungs.c.notify == k, literal(NoticeRecipient.of(k).label)) for k in by),
        )
        reason = func.concat(
            "整改事项“", item.title, "”期限 ", cast(item.deadline, String),
            case(
                (left < 0, func.concat("，已逾期 ", -left, " 天")),
                else_=func.concat("，距期限 ", left, " 天"),
            ),
            "，提醒", label, "督办",
        )  # fmt: skip
        furthest = max(r.days_before for r in ladder)
        return select(
            item.id,
            rungs.c.notify,
            case(*((rungs.c.notify == k, name) for k, (name, _) in by.items())),
            case(*((rungs.c.notify == k, uid) for k, (_, uid) in by.items())),
            rungs.c.days_before,
            item.deadline,
            day,
            reason,
        ).where(
            item.status.in_(CHASED),
            item.deadline <= on + timedelta(days=furthest),
            item.deadline <= day + rungs.c.days_before,
            cast(func.timezone("Asia/Shanghai", item.created_at), Date) <= day,
        )

    async def escalate(self, on: date, ladder: Sequence[EscalationRung]) -> Sequence[Notice]:
        """One INSERT … SELECT for every item and rung reached on `on`; a notice already issued
        for the same item, rung and deadline is skipped (the unique key), so running this any
        number of times, on the same day or later, never issues a notice twice."""
        chosen = self.escalation(on, ladder)
        stmt = (
            insert(Notice)
            .from_select(
                [
                    "item_id",
                    "recipient",
                    "recipient_name",
                    "recipient_user_id",
                    "days_before",
                    "deadline",
                    "issued_on",
                    "reason",
                ],
                chosen,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    Notice.item_id,
                    Notice.days_before,
                    Notice.recipient,
                    Notice.deadline,
                ]
            )
            .returning(Notice)
        )
        rows = await self.session.scalars(stmt, execution_options={"populate_existing": True})
        return sorted(rows.all(), key=lambda n: (n.deadline, n.item_id, -n.days_before))
