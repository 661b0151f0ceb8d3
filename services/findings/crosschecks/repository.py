"""Every query of data cross-checks. Reads take the caller's scope and put it in the SQL."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset
from services.findings.crosschecks.access import CrosscheckScope
from services.findings.crosschecks.models import (
    CrosscheckHit,
    CrosscheckJob,
    CrosscheckRule,
    CrosscheckRun,
    CrosscheckRunRule,
    DatasetRow,
    DatasetVersion,
)


class CrosscheckRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # jobs -------------------------------------------------------------------------------------

    async def job(self, job_id: uuid.UUID, scope: CrosscheckScope) -> CrosscheckJob | None:
        found: CrosscheckJob | None = await self.session.scalar(
            select(CrosscheckJob).where(CrosscheckJob.id == job_id, scope.jobs())
        )
        return found

    async def jobs(self, scope: CrosscheckScope, params: PageParams) -> Sequence[CrosscheckJob]:
        stmt = keyset(
            select(CrosscheckJob).where(scope.jobs()),
            params,
            CrosscheckJob.created_at,
            CrosscheckJob.id,
        )
        return (await self.session.scalars(stmt)).all()

    async def add(self, row: Any) -> None:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)

    # datasets ---------------------------------------------------------------------------------

    async def version(self, version_id: uuid.UUID, scope: CrosscheckScope) -> DatasetVersion | None:
        found: DatasetVersion | None = await self.session.scalar(
            select(DatasetVersion).where(DatasetVersion.id == version_id, scope.datasets())
        )
        return found

    async def versions_by_id(
        self, ids: Collection[uuid.UUID], scope: CrosscheckScope
    ) -> dict[uuid.UUID, DatasetVersion]:
        if not ids:
            return {}
        rows = await self.session.scalars(
            select(DatasetVersion).where(DatasetVersion.id.in_(set(ids)), scope.datasets())
        )
        return {v.id: v for v in rows}

    async def versions(
        self, scope: CrosscheckScope, params: PageParams, filters: dict[str, Any]
    ) -> Sequence[DatasetVersion]:
        stmt: Select[Any] = select(DatasetVersion).where(scope.datasets())
        for column, value in filters.items():
            if value is not None:
                stmt = stmt.where(getattr(DatasetVersion, column) == value)
        query = keyset(stmt, params, DatasetVersion.created_at, DatasetVersion.id)
        return (await self.session.scalars(query)).all()

    async def rows(self, version_id: uuid.UUID, after: int, limit: int) -> Sequence[DatasetRow]:
        return (
            await self.session.scalars(
                select(DatasetRow)
                .where(DatasetRow.version_id == version_id, DatasetRow.line > after)
                .order_by(DatasetRow.line)
                .limit(limit)
            )
        ).all()

    async def rows_by_ref(
        self, refs: Collection[tuple[uuid.UUID, int]]
    ) -> dict[tuple[uuid.UUID, int], DatasetRow]:
        if not refs:
            return {}
        found = await self.session.scalars(
            select(DatasetRow).where(
                tuple_(DatasetRow.version_id, DatasetRow.line).in_(list(set(refs)))
            )
        )
        return {(r.version_id, r.line): r for r in found}

    async def versions_of(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, DatasetVersion]:
        if not ids:
            return {}
        found = await self.session.scalars(
            select(DatasetVersion).where(DatasetVersion.id.in_(set(ids)))
        )
        return {v.id: v for v in found}

    # rules -----------------------------------------------------------------------------------

    async def user_rules(self) -> Sequence[CrosscheckRule]:
        return (
            await self.session.scalars(select(CrosscheckRule).order_by(CrosscheckRule.code))
        ).all()

    async def user_rule(self, code: str) -> CrosscheckRule | None:
        return await self.session.get(CrosscheckRule, code)

    # runs and hits -----------------------------------------------------------------------------

    async def run(self, run_id: uuid.UUID, scope: CrosscheckScope) -> CrosscheckRun | None:
        found: CrosscheckRun | None = await self.session.scalar(
            select(CrosscheckRun).where(CrosscheckRun.id == run_id, scope.runs())
        )
        return found

    async def runs(
        self, scope: CrosscheckScope, params: PageParams, round_id: uuid.UUID | None
    ) -> Sequence[CrosscheckRun]:
        stmt = select(CrosscheckRun).where(scope.runs())
        if round_id is not None:
            stmt = stmt.where(CrosscheckRun.round_id == round_id)
        query = keyset(stmt, params, CrosscheckRun.created_at, CrosscheckRun.id)
        return (await self.session.scalars(query)).all()

    async def run_rules(
        self, run_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, list[CrosscheckRunRule]]:
        out: dict[uuid.UUID, list[CrosscheckRunRule]] = {i: [] for i in run_ids}
        if run_ids:
            found = await self.session.scalars(
                select(CrosscheckRunRule)
                .where(CrosscheckRunRule.run_id.in_(set(run_ids)))
                .order_by(CrosscheckRunRule.run_id, CrosscheckRunRule.ordinal)
            )
            for r in found:
                out[r.run_id].append(r)
        return out

    async def jobs_by_id(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, CrosscheckJob]:
        if not ids:
            return {}
        found = await self.session.scalars(
            select(CrosscheckJob).where(CrosscheckJob.id.in_(set(ids)))
        )
        return {j.id: j for j in found}

    async def hits(
        self,
        run_id: uuid.UUID,
        params: PageParams,
        status: str | None,
        rule_code: str | None,
    ) -> Sequence[CrosscheckHit]:
        stmt = select(CrosscheckHit).where(CrosscheckHit.run_id == run_id)
        if status is not None:
            stmt = stmt.where(CrosscheckHit.status == status)
        if rule_code is not None:
            stmt = stmt.where(CrosscheckHit.rule_code == rule_code)
        query = keyset(stmt, params, CrosscheckHit.created_at, CrosscheckHit.id)
        return (await self.session.scalars(query)).all()

    async def hit(
        self, hit_id: uuid.UUID, scope: CrosscheckScope, *, lock: bool = False
    ) -> tuple[CrosscheckHit, CrosscheckRun] | None:
        stmt = (
            select(CrosscheckHit, CrosscheckRun)
            .join(CrosscheckRun, CrosscheckRun.id == CrosscheckHit.run_id)
            .where(CrosscheckHit.id == hit_id, scope.runs())
        )
        if lock:
            stmt = stmt.with_for_update(of=CrosscheckHit)
        found = (await self.session.execute(stmt)).first()
        return None if found is None else (found[0], found[1])

    async def run_rules_by_id(
        self, ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, CrosscheckRunRule]:
        if not ids:
            return {}
        found = await self.session.scalars(
            select(CrosscheckRunRule).where(CrosscheckRunRule.id.in_(set(ids)))
        )
        return {r.id: r for r in found}
