"""Business rules of the rounds service. Flushes, never commits."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.rounds.models import Target
from services.rounds.registry.errors import ParentTargetInvalid, TargetAlreadyExists, TargetNotFound
from services.rounds.registry.repository import TargetRepository
from services.rounds.registry.schemas import TargetCreate


class TargetService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = TargetRepository(session)

    async def create(self, data: TargetCreate, by: Principal) -> Target:
        if data.parent_id is not None and not await self.repo.exists(data.parent_id):
            raise ParentTargetInvalid(
                f"parent_id {data.parent_id} does not exist",
                errors=[{"field": "parent_id", "message": "no such target", "code": "not_found"}],
            )
        target = Target(
            name=data.name,
            kind=data.kind.value,
            jurisdiction=data.jurisdiction,
            parent_id=data.parent_id,
            created_by=by.subject,
        )
        try:
            async with self.session.begin_nested():
                return await self.repo.add(target)
        except IntegrityError as exc:
            raise TargetAlreadyExists(f"{data.name} already exists under this parent") from exc

    async def get(self, target_id: uuid.UUID) -> Target:
        target = await self.repo.get(target_id)
        if target is None:
            raise TargetNotFound(f"target {target_id} not found")
        return target
