"""Every query of the target registry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, literal, select, tuple_
from sqlalchemy.orm import aliased

from services.common.auth import Principal
from services.common.pagination import PageParams
from services.common.repository import Repository
from services.rounds import access
from services.rounds.models import Target

TargetKey = tuple[str, uuid.UUID | None, str]


class TargetRepository(Repository[Target]):
    model = Target

    def scoped(self, principal: Principal) -> Select[Any]:
        stmt = select(Target)
        if not access.sees_all(principal):
            stmt = stmt.where(Target.id.in_(access.visible_target_ids(principal)))
        return stmt

    async def get_visible(self, target_id: uuid.UUID, principal: Principal) -> Target | None:
        stmt = self.scoped(principal).where(Target.id == target_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def exists(self, target_id: uuid.UUID) -> bool:
        found = await self.session.scalar(select(Target.id).where(Target.id == target_id))
        return found is not None

    async def is_descendant(self, candidate: uuid.UUID, ancestor: uuid.UUID) -> bool:
        """Whether `candidate` lies under `ancestor` (recursive over parent links)."""
        tree = select(Target.id).where(Target.parent_id == ancestor).cte(recursive=True)
        child = aliased(Target)
        tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id))
        found = await self.session.scalar(select(literal(True)).where(tree.c.id == candidate))
        return bool(found)

    async def search(
        self,
        params: PageParams,
        principal: Principal,
        *,
        kind: str | None = None,
        jurisdiction: str | None = None,
        parent_id: uuid.UUID | None = None,
        risk_class: str | None = None,
        name_contains: str | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Target]:
        stmt = self.scoped(principal)
        if kind is not None:
            stmt = stmt.where(Target.kind == kind)
        if jurisdiction is not None:
            stmt = stmt.where(Target.jurisdiction == jurisdiction)
        if parent_id is not None:
            stmt = stmt.where(Target.parent_id == parent_id)
        if risk_class is not None:
            stmt = stmt.where(Target.risk_class == risk_class)
        if name_contains:
            stmt = stmt.where(func.strpos(Target.name, name_contains) > 0)
        if updated_since is not None:
            stmt = stmt.where(Target.updated_at > updated_since)
        return await self.page(stmt, params)

    async def ids_by_name(
        self, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], list[uuid.UUID]]:
        """Existing targets by (jurisdiction, name): an import names parents this way."""
        if not keys:
            return {}
        rows = await self.session.execute(
            select(Target.jurisdiction, Target.name, Target.id).where(
                tuple_(Target.jurisdiction, Target.name).in_(list(keys))
            )
        )
        found: dict[tuple[str, str], list[uuid.UUID]] = {}
        for jurisdiction, name, target_id in rows:
            found.setdefault((jurisdiction, name), []).append(target_id)
        return found

    async def taken(self, keys: set[TargetKey]) -> set[TargetKey]:
        """Which (jurisdiction, parent_id, name) triples already exist."""
        if not keys:
            return set()
        rows = await self.session.execute(
            select(Target.jurisdiction, Target.parent_id, Target.name).where(
                Target.name.in_({n for _, _, n in keys})
            )
        )
        return {(j, p, n) for j, p, n in rows} & keys

    async def insert_many(self, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
        """One INSERT … RETURNING per generation of the tree (parents before children)."""
        if not rows:
            return []
        result = await self.session.execute(
            insert(Target).returning(Target.id, sort_by_parameter_order=True), rows
        )
        return list(result.scalars())
