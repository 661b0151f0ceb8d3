"""Business rules of the referrals service. Flushes, never commits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.referrals.enums import LeadStatus
from services.referrals.errors import LeadNotFound
from services.referrals.models import Lead
from services.referrals.repository import LeadRepository
from services.referrals.schemas import LeadCreate


class LeadService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = LeadRepository(session)

    async def create(self, data: LeadCreate, by: Principal) -> Lead:
        lead = Lead(
            title=data.title,
            summary=data.summary,
            # the order the caller gave, without repeats
            finding_ids=list(dict.fromkeys(data.finding_ids)),
            recipient=data.recipient.value,
            status=LeadStatus.draft.value,
            created_by=by.subject,
        )
        return await self.repo.add(lead)

    async def get(self, lead_id: uuid.UUID) -> Lead:
        lead = await self.repo.get(lead_id)
        if lead is None:
            raise LeadNotFound(f"lead {lead_id} not found")
        return lead
