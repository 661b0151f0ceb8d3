"""Every query of the findings service. Reads take the caller's `Scope` and put it in the SQL."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams
from services.common.repository import Repository
from services.findings.access import Scope
from services.findings.enums import FindingStatus
from services.findings.models import (
    Consultation,
    Finding,
    FindingPerson,
    FindingTransition,
    idempotency_keys,
    tombstones,
)

DELETED = "finding/"  # tombstone entity: "finding/<group id hex>", so deletions are scoped too


def tombstone_entity(group_id: uuid.UUID) -> str:
    return DELETED + group_id.hex


class FindingRepository(Repository[Finding]):
    model = Finding

    def visible(self, scope: Scope) -> Select[Any]:
        return select(Finding).where(scope.visible())

    async def get_visible(self, finding_id: uuid.UUID, scope: Scope) -> Finding | None:
        found: Finding | None = (
            await self.session.scalars(self.visible(scope).where(Finding.id == finding_id))
        ).one_or_none()
        return found

    async def lock(self, finding_id: uuid.UUID) -> None:
        """FOR UPDATE: waits for, and then blocks, inserts of rows referencing the finding."""
        await self.session.execute(
            select(Finding.id).where(Finding.id == finding_id).with_for_update()
        )

    async def visible_ids(self, ids: Collection[uuid.UUID], scope: Scope) -> set[uuid.UUID]:
        """Those of `ids` the caller may see (the scope in the SQL, like every read)."""
        if not ids:
            return set()
        found = await self.session.scalars(
            select(Finding.id).where(Finding.id.in_(set(ids)), scope.visible())
        )
        return set(found)

    async def search(
        self,
        params: PageParams,
        scope: Scope,
        *,
        filters: dict[str, Any],
        updated_since: datetime | None = None,
    ) -> Sequence[Finding]:
        stmt = self.visible(scope)
        for column, value in filters.items():
            if value is not None:
                stmt = stmt.where(getattr(Finding, column) == value)
        if updated_since is not None:
            # >=: a write committed in the same instant as the last one seen is not skipped
            stmt = stmt.where(Finding.updated_at >= updated_since)
        return await self.page(stmt, params)

    async def deleted_since(self, scope: Scope, since: datetime) -> list[uuid.UUID]:
        t = tombstones.c
        stmt = select(t.entity_id).where(t.deleted_at >= since)
        if scope.sees_all:
            stmt = stmt.where(t.entity.startswith(DELETED))
        else:
            stmt = stmt.where(t.entity.in_([tombstone_entity(g) for g in scope.groups]))
        return list(await self.session.scalars(stmt.order_by(t.deleted_at).limit(10_000)))

    async def record_deletion(self, finding: Finding) -> None:
        await self.session.execute(
            tombstones.insert().values(
                entity=tombstone_entity(finding.group_id), entity_id=finding.id
            )
        )

    async def persons_of(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[FindingPerson]]:
        out: dict[uuid.UUID, list[FindingPerson]] = defaultdict(list)
        if ids:
            rows = await self.session.scalars(
                select(FindingPerson)
                .where(FindingPerson.finding_id.in_(ids))
                .order_by(FindingPerson.finding_id, FindingPerson.ordinal)
            )
            for row in rows:
                out[row.finding_id].append(row)
        return out

    async def insert_many(self, rows: list[dict[str, Any]]) -> list[Finding]:
        """One INSERT for all rows (ids chosen by the caller), returning them in order."""
        if not rows:
            return []
        found = await self.session.scalars(insert(Finding).returning(Finding), rows)
        by_id = {f.id: f for f in found}
        return [by_id[r["id"]] for r in rows]

    async def insert_persons(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(FindingPerson), rows)

    async def replace_persons(self, finding_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        await self.session.execute(
            delete(FindingPerson).where(FindingPerson.finding_id == finding_id)
        )
        await self.insert_persons(rows)

    async def record_transitions(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(FindingTransition), rows)

    async def transitions(self, finding_id: uuid.UUID) -> Sequence[FindingTransition]:
        return (
            await self.session.scalars(
                select(FindingTransition)
                .where(FindingTransition.finding_id == finding_id)
                .order_by(FindingTransition.id)
            )
        ).all()

    async def earlier_occurrence(self, finding: Finding) -> uuid.UUID | None:
        """屡查屡犯: the latest finding of the same category code at the same target, either from
        another (earlier) round or already closed, discovered no later than this one. Found
        across groups (it is a fact about the target); reads show its id only to who may see
        it (`visible_ids`)."""
        return await self.session.scalar(
            select(Finding.id)
            .where(
                Finding.target_id == finding.target_id,
                Finding.category_code == finding.category_code,
                Finding.id != finding.id,
                Finding.status != FindingStatus.draft.value,
                Finding.discovered_on <= finding.discovered_on,
                or_(
                    Finding.round_id != finding.round_id,
                    Finding.status == FindingStatus.closed.value,
                ),
            )
            .order_by(Finding.discovered_on.desc(), Finding.created_at.desc())
            .limit(1)
        )

    async def add_consultation(
        self, *, finding_id: uuid.UUID, expert_id: str, added_by: str
    ) -> Consultation:
        """Adds the expert, or returns the consultation already there: one statement that
        cannot fail on a concurrent add of the same expert (ON CONFLICT DO NOTHING waits for
        the other transaction, and the read after it sees its committed row)."""
        added: Consultation | None = await self.session.scalar(
            pg_insert(Consultation)
            .values(finding_id=finding_id, expert_id=expert_id, added_by=added_by)
            .on_conflict_do_nothing(index_elements=["finding_id", "expert_id"])
            .returning(Consultation),
            execution_options={"populate_existing": True},
        )
        if added is not None:
            return added
        existing: Consultation = (
            await self.session.scalars(
                select(Consultation)
                .where(Consultation.finding_id == finding_id, Consultation.expert_id == expert_id)
                .execution_options(populate_existing=True)
            )
        ).one()
        return existing

    async def consultations(self, finding_id: uuid.UUID) -> Sequence[Consultation]:
        return (
            await self.session.scalars(
                select(Consultation)
                .where(Consultation.finding_id == finding_id)
                .order_by(Consultation.created_at)
            )
        ).all()

    async def remove_consultation(self, finding_id: uuid.UUID, expert_id: str) -> bool:
        result = await self.session.execute(
            delete(Consultation)
            .where(Consultation.finding_id == finding_id, Consultation.expert_id == expert_id)
            .returning(Consultation.expert_id)
        )
        return result.first() is not None


class ItemKeyRepository:
    """Per-item keys of the batch endpoint, kept in the service's idempotency table (same
    retention as Idempotency-Key) under a prefix that no header key can collide with."""

    PATH = "/api/v1/findings/batch#item"
    PREFIX = "batch-item "  # a space: never valid in an Idempotency-Key header

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, subject: str) -> None:
        """One batch of a caller at a time: a retried batch waits for the first, then replays."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{subject} batch", 0)))
        )

    async def find(self, subject: str, keys: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """key -> (fingerprint, stored body)"""
        if not keys:
            return {}
        t = idempotency_keys.c
        rows = await self.session.execute(
            select(t.key, t.fingerprint, t.body).where(
                t.subject == subject, t.key.in_([self.PREFIX + k for k in keys])
            )
        )
        return {r.key.removeprefix(self.PREFIX): (r.fingerprint, bytes(r.body)) for r in rows}

    async def store(self, subject: str, rows: list[tuple[str, str, bytes]]) -> None:
        """(key, fingerprint, body) of created items, in one INSERT."""
        if rows:
            await self.session.execute(
                idempotency_keys.insert(),
                [
                    {
                        "subject": subject,
                        "key": self.PREFIX + key,
                        "method": "POST",
                        "path": self.PATH,
                        "fingerprint": fingerprint,
                        "status_code": 201,
                        "headers": [],
                        "body": body,
                    }
                    for key, fingerprint, body in rows
                ],
            )
