"""The part of every repository that is the same for every table with `id` and `created_at`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset

ModelT = TypeVar("ModelT")


class Repository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, row_id: uuid.UUID) -> ModelT | None:
        row: ModelT | None = await self.session.get(self.model, row_id)
        return row

    async def add(self, row: ModelT) -> ModelT:
        """Inserts and reads back server defaults (id, timestamps)."""
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def page(self, stmt: Select[Any], params: PageParams) -> Sequence[ModelT]:
        query = keyset(stmt, params, self.model.created_at, self.model.id)
        return (await self.session.scalars(query)).all()
