"""Business rules of the findings service. Flushes, never commits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.findings.enums import FindingStatus
from services.findings.errors import FindingNotFound
from services.findings.models import Finding
from services.findings.repository import FindingRepository
from services.findings.schemas import FindingCreate


class FindingService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = FindingRepository(session)

    async def create(self, data: FindingCreate, by: Principal) -> Finding:
        finding = Finding(
            **data.model_dump(exclude={"source"}),
            source=data.source.value,
            status=FindingStatus.draft.value,
            created_by=by.subject,
        )
        return await self.repo.add(finding)

    async def get(self, finding_id: uuid.UUID) -> Finding:
        finding = await self.repo.get(finding_id)
        if finding is None:
            raise FindingNotFound(f"finding {finding_id} not found")
        return finding
