"""The platform's callbacks accepted, by webhook id (table `platform_callbacks`)."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.hub.models import PlatformCallback


class CallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, webhook_id: str, kind: str, lead_id: uuid.UUID) -> bool:
        """Records the callback as accepted (200); False if its id was taken already. The row
        stays locked until the transaction ends, so the same id sent twice at once waits here
        for the first: refused if the first was accepted, taken if it was rolled back."""
        stmt = (
            insert(PlatformCallback)
            .values(webhook_id=webhook_id, kind=kind, lead_id=lead_id, status=200)
            .on_conflict_do_nothing()
            .returning(PlatformCallback.webhook_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None
