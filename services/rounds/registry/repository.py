"""Every query of the rounds service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from services.common.pagination import PageParams
from services.common.repository import Repository
from services.rounds.models import Target


class TargetRepository(Repository[Target]):
    model = Target

    async def exists(self, target_id: uuid.UUID) -> bool:
        found = await self.session.scalar(select(Target.id).where(Target.id == target_id))
        return found is not None

    async def list(
        self,
        params: PageParams,
        *,
        kind: str | None = None,
        jurisdiction: str | None = None,
        parent_id: uuid.UUID | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Target]:
        stmt = select(Target)
        if kind is not None:
            stmt = stmt.where(Target.kind == kind)
        if jurisdiction is not None:
            stmt = stmt.where(Target.jurisdiction == jurisdiction)
        if parent_id is not None:
            stmt = stmt.where(Target.parent_id == parent_id)
        if updated_since is not None:
            stmt = stmt.where(Target.updated_at > updated_since)
        return await self.page(stmt, params)
