"""Every query of suggestions and rules established."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select

from services.common.pagination import PageParams
from services.common.repository import Repository
from services.referrals.models import EstablishedRule, Suggestion

Row = TypeVar("Row", Suggestion, EstablishedRule)


class ResultRepository(Repository[Row]):
    async def locked(self, row_id: uuid.UUID) -> Row | None:
        """Locks the row until the end of the transaction (every change is serialised on it)."""
        stmt = (
            select(self.model)
            .where(self.model.id == row_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row: Row | None = (await self.session.scalars(stmt)).one_or_none()
        return row

    def filtered(
        self,
        *,
        round_id: uuid.UUID | None,
        target_id: uuid.UUID | None,
        finding_id: uuid.UUID | None,
        updated_since: datetime | None,
    ) -> Select[Any]:
        m = self.model
        stmt = select(m)
        if round_id is not None:
            stmt = stmt.where(m.round_id == round_id)
        if target_id is not None:
            stmt = stmt.where(m.target_id == target_id)
        if finding_id is not None:
            stmt = stmt.where(m.finding_ids.contains([finding_id]))
        if updated_since is not None:
            # inclusive: a row written in the same instant as the last sync is not skipped
            # (one on the boundary may come back twice)
            stmt = stmt.where(m.updated_at >= updated_since)
        return stmt


class SuggestionRepository(ResultRepository[Suggestion]):
    model = Suggestion

    async def search(
        self,
        params: PageParams,
        *,
        round_id: uuid.UUID | None = None,
        target_id: uuid.UUID | None = None,
        finding_id: uuid.UUID | None = None,
        adoption: str | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Suggestion]:
        stmt = self.filtered(
            round_id=round_id,
            target_id=target_id,
            finding_id=finding_id,
            updated_since=updated_since,
        )
        if adoption is not None:
            stmt = stmt.where(Suggestion.adoption == adoption)
        return await self.page(stmt, params)

    async def rounds_of(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """The round of each existing suggestion among `ids`, locked against deletion (FOR
        SHARE) until the end of the transaction, so a rule never cites a deleted one."""
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Suggestion.id, Suggestion.round_id)
            .where(Suggestion.id.in_(ids))
            .with_for_update(read=True)
        )
        return dict(rows.all())

    async def citing_rules(self, suggestion_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(EstablishedRule.id)
            .where(EstablishedRule.suggestion_ids.contains([suggestion_id]))
            .order_by(EstablishedRule.created_at, EstablishedRule.id)
        )
        return list(rows)


class RuleRepository(ResultRepository[EstablishedRule]):
    model = EstablishedRule

    async def search(
        self,
        params: PageParams,
        *,
        round_id: uuid.UUID | None = None,
        target_id: uuid.UUID | None = None,
        finding_id: uuid.UUID | None = None,
        suggestion_id: uuid.UUID | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[EstablishedRule]:
        stmt = self.filtered(
            round_id=round_id,
            target_id=target_id,
            finding_id=finding_id,
            updated_since=updated_since,
        )
        if suggestion_id is not None:
            stmt = stmt.where(EstablishedRule.suggestion_ids.contains([suggestion_id]))
        return await self.page(stmt, params)
