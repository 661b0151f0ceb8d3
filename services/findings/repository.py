"""Every query of the findings service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from services.common.pagination import PageParams
from services.common.repository import Repository
from services.findings.models import Finding


class FindingRepository(Repository[Finding]):
    model = Finding

    async def list(
        self,
        params: PageParams,
        *,
        target_id: uuid.UUID | None = None,
        status: str | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Finding]:
        stmt = select(Finding)
        if target_id is not None:
            stmt = stmt.where(Finding.target_id == target_id)
        if status is not None:
            stmt = stmt.where(Finding.status == status)
        if updated_since is not None:
            stmt = stmt.where(Finding.updated_at > updated_since)
        return await self.page(stmt, params)
