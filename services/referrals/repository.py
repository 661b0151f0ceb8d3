"""Every query of the referrals service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from services.common.pagination import PageParams
from services.common.repository import Repository
from services.referrals.models import Lead


class LeadRepository(Repository[Lead]):
    model = Lead

    async def list(
        self,
        params: PageParams,
        *,
        finding_id: uuid.UUID | None = None,
        status: str | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Lead]:
        stmt = select(Lead)
        if finding_id is not None:
            stmt = stmt.where(Lead.finding_ids.contains([finding_id]))
        if status is not None:
            stmt = stmt.where(Lead.status == status)
        if updated_since is not None:
            stmt = stmt.where(Lead.updated_at > updated_since)
        return await self.page(stmt, params)
