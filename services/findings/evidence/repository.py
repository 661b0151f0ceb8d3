"""Queries of evidence files; reads go through the finding's visibility."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from services.common.repository import Repository
from services.findings.models import Evidence


class EvidenceRepository(Repository[Evidence]):
    model = Evidence

    async def of_finding(self, finding_id: uuid.UUID) -> Sequence[Evidence]:
        return (
            await self.session.scalars(
                select(Evidence)
                .where(Evidence.finding_id == finding_id)
                .order_by(Evidence.created_at, Evidence.id)
            )
        ).all()

    async def storage_keys(self, finding_id: uuid.UUID) -> list[str]:
        return list(
            await self.session.scalars(
                select(Evidence.storage_key).where(Evidence.finding_id == finding_id)
            )
        )

    async def one(self, finding_id: uuid.UUID, evidence_id: uuid.UUID) -> Evidence | None:
        return (
            await self.session.scalars(
                select(Evidence).where(
                    Evidence.id == evidence_id, Evidence.finding_id == finding_id
                )
            )
        ).one_or_none()
