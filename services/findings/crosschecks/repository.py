"""Every query of data cross-checks. Reads take the caller's scope and put it in the SQL."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

import orjson
from sqlalchemy import Select, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset
from services.findings.crosschecks.access import CrosscheckScope
from services.findings.crosschecks.enums import HitStatus, JobState
from services.findings.crosschecks.models import (
    CrosscheckHit,
    CrosscheckJob,
    CrosscheckRule,
    CrosscheckRun,
    CrosscheckRunRule,
    DatasetRow,
    DatasetVersion,
    partition_of,
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

    async def version(
        self, version_id: uuid.UUID, scope: CrosscheckScope, *, lock: bool = False
    ) -> DatasetVersion | None:
        stmt = select(DatasetVersion).where(DatasetVersion.id == version_id, scope.datasets())
        if lock:  # against a run being created on it meanwhile (`versions_by_id`)
            stmt = stmt.with_for_update()
        found: DatasetVersion | None = await self.session.scalar(stmt)
        return found

    async def versions_by_id(
        self, ids: Collection[uuid.UUID], scope: CrosscheckScope, *, share: bool = False
    ) -> dict[uuid.UUID, DatasetVersion]:
        """`share`: locked until the transaction ends, so that none is deleted meanwhile."""
        if not ids:
            return {}
        stmt = select(DatasetVersion).where(DatasetVersion.id.in_(set(ids)), scope.datasets())
        if share:
            stmt = stmt.with_for_update(read=True)
        rows = await self.session.scalars(stmt)
        return {v.id: v for v in rows}

    async def unfinished_runs_using(self, version_id: uuid.UUID) -> list[uuid.UUID]:
        """Runs over the version whose job is queued or running."""
        found = await self.session.scalars(
            select(CrosscheckRun.id)
            .join(CrosscheckJob, CrosscheckJob.id == CrosscheckRun.job_id)
            .where(
                CrosscheckRun.dataset_version_ids.contains([str(version_id)]),
                CrosscheckJob.state.in_([JobState.queued.value, JobState.running.value]),
            )
            .order_by(CrosscheckRun.created_at)
        )
        return list(found)

    async def keep_matched_rows(self, version: DatasetVersion) -> int:
        """Into each decided hit (confirmed or dismissed) that names rows of the version, a
        copy of those rows and of the version's name and number: the hit reads the same once
        the rows are gone. Returns how many hits."""
        result = await self.session.execute(
            text(KEEP_MATCHED_ROWS),
            {
                "vid": version.id,
                "vid_text": str(version.id),
                "ref": _refs_to(version.id),
                "open": HitStatus.open.value,
                "dataset": version.dataset,
                "number": version.version,
                "kind": version.kind,
            },
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def remove_open_hits(self, version_id: uuid.UUID) -> int:
        """The open hits that name rows of the version, and their count in their run and
        rule. Returns how many."""
        result = await self.session.execute(
            text(REMOVE_OPEN_HITS),
            {"ref": _refs_to(version_id), "open": HitStatus.open.value},
        )
        return int(result.scalar_one())

    async def remove_version(self, version: DatasetVersion) -> int:
        """The version and its rows (its partition of `dataset_rows`, dropped: this waits for
        the statements reading `dataset_rows` to end, and holds the ones that start meanwhile
        until the transaction ends). Returns how many rows."""
        rows = await self.session.scalar(
            select(func.count()).select_from(DatasetRow).where(DatasetRow.version_id == version.id)
        )
        # the name is made of the version id's hex digits, nothing a caller wrote
        await self.session.execute(
            text(f"DROP TABLE IF EXISTS findings.{partition_of(version.id)}")
        )
        await self.session.delete(version)
        await self.session.flush()
        return int(rows or 0)

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
                # the versions by themselves too: PostgreSQL prunes the partitions of the others
                DatasetRow.version_id.in_({v for v, _ in refs}),
                tuple_(DatasetRow.version_id, DatasetRow.line).in_(list(set(refs))),
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


def _refs_to(version_id: uuid.UUID) -> str:
    """A hit's `rows` naming some row of the version (for `@>`)."""
    return orjson.dumps([{"version_id": str(version_id)}]).decode()


# A decided hit's rows of the version being deleted, each with its content, in the rule's order.
KEEP_MATCHED_ROWS = """
UPDATE findings.crosscheck_hits h
SET rows = (
    SELECT jsonb_agg(
        CASE WHEN d.line IS NULL THEN r.ref
             ELSE r.ref || jsonb_build_object(
                 'dataset', CAST(:dataset AS text), 'version', CAST(:number AS integer),
                 'kind', CAST(:kind AS text),
                 'row', jsonb_build_object(
                     'id_number', d.id_number, 'name', d.name, 'related_id', d.related_id,
                     'org', d.org, 'account', d.account, 'amount', d.amount::text,
                     'date1', d.date1, 'date2', d.date2, 'programme', d.programme,
                     'relation', d.relation, 'extra', d.extra))
        END ORDER BY r.n)
    FROM jsonb_array_elements(h.rows) WITH ORDINALITY AS r(ref, n)
    LEFT JOIN findings.dataset_rows d
        ON d.version_id = CAST(:vid AS uuid)
        AND r.ref ->> 'version_id' = CAST(:vid_text AS text)
        AND d.line = CAST(r.ref ->> 'line' AS integer)
)
WHERE h.status <> :open AND h.rows @> CAST(:ref AS jsonb)
"""

# The open hits naming the version's rows, gone, and the counts of their runs and rules less them.
REMOVE_OPEN_HITS = """
WITH gone AS (
    DELETE FROM findings.crosscheck_hits h
    WHERE h.status = :open AND h.rows @> CAST(:ref AS jsonb)
    RETURNING h.run_id, h.run_rule_id
), per_rule AS (
    UPDATE findings.crosscheck_run_rules rr SET hit_count = rr.hit_count - g.n
    FROM (SELECT run_rule_id, count(*) AS n FROM gone GROUP BY run_rule_id) g
    WHERE rr.id = g.run_rule_id
), per_run AS (
    UPDATE findings.crosscheck_runs r SET hit_count = r.hit_count - g.n
    FROM (SELECT run_id, count(*) AS n FROM gone GROUP BY run_id) g
    WHERE r.id = g.run_id
)
SELECT count(*) FROM gone
"""
