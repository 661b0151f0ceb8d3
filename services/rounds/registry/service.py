"""Business rules of the target registry. Flushes, never commits."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.concurrency import check_if_match
from services.common.events.catalogue import TargetRenamed
from services.common.tombstones import record_deletion
from services.rounds.events import events
from services.rounds.models import Target, tombstones
from services.rounds.registry.errors import (
    ParentTargetInvalid,
    TargetAlreadyExists,
    TargetInUse,
    TargetNotFound,
)
from services.rounds.registry.repository import TargetRepository
from services.rounds.registry.schemas import TargetCreate, TargetUpdate

ENTITY = "target"


def _parent_error(detail: str) -> ParentTargetInvalid:
    return ParentTargetInvalid(
        detail, errors=[{"field": "parent_id", "message": detail, "code": "parent_invalid"}]
    )


class TargetService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = TargetRepository(session)

    async def create(self, data: TargetCreate, by: Principal) -> Target:
        if data.parent_id is not None and not await self.repo.exists(data.parent_id):
            raise _parent_error(f"parent_id {data.parent_id} does not exist")
        target = Target(
            name=data.name,
            kind=data.kind.value,
            jurisdiction=data.jurisdiction,
            parent_id=data.parent_id,
            risk_class=data.risk_class.value,
            created_by=by.subject,
        )
        try:
            async with self.session.begin_nested():
                return await self.repo.add(target)
        except IntegrityError as exc:
            raise TargetAlreadyExists(f"{data.name} already exists under this parent") from exc

    async def get(self, target_id: uuid.UUID, principal: Principal) -> Target:
        target = await self.repo.get_visible(target_id, principal)
        if target is None:
            raise TargetNotFound(f"target {target_id} not found")
        return target

    async def update(
        self, target_id: uuid.UUID, data: TargetUpdate, if_match: str | None, by: Principal
    ) -> Target:
        target = await self.get(target_id, by)
        check_if_match(if_match, target.version)
        changes = data.model_dump(exclude_unset=True)
        if changes.get("parent_id") is not None:
            parent = changes["parent_id"]
            if parent == target.id or await self.repo.is_descendant(parent, target.id):
                raise _parent_error("a target cannot be placed under itself or its own sub-unit")
            if not await self.repo.exists(parent):
                raise _parent_error(f"parent_id {parent} does not exist")
        previous_name = target.name
        for field, value in changes.items():
            if field in ("name", "jurisdiction") and value is None:
                continue
            setattr(target, field, value.value if hasattr(value, "value") else value)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise TargetAlreadyExists("another target has this name under the same parent") from exc
        await self.session.refresh(target)
        if target.name != previous_name:
            await events.emit(
                self.session,
                "target.renamed",
                target.id,
                TargetRenamed(target_id=target.id, name=target.name, previous_name=previous_name),
            )
        return target

    async def delete(self, target_id: uuid.UUID, if_match: str | None, by: Principal) -> None:
        target = await self.get(target_id, by)
        check_if_match(if_match, target.version)
        try:
            async with self.session.begin_nested():
                await self.session.delete(target)
                await self.session.flush()
        except IntegrityError as exc:
            raise TargetInUse(f"target {target_id} is still referenced") from exc
        await record_deletion(self.session, tombstones, ENTITY, [target_id])
