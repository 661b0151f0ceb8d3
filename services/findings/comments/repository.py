"""Queries of comments on findings; every read goes through the finding's visibility first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select

from services.common.pagination import PageParams
from services.common.repository import Repository
from services.common.tombstones import deleted_since, record_deletion
from services.findings.access import Scope
from services.findings.models import Consultation, Finding, FindingComment, tombstones

DELETED = "comment/"  # tombstone entity: "comment/<finding id hex>", deletions per finding


def tombstone_entity(finding_id: uuid.UUID) -> str:
    return DELETED + finding_id.hex


class CommentRepository(Repository[FindingComment]):
    model = FindingComment

    async def finding_to_comment_on(self, finding_id: uuid.UUID, scope: Scope) -> Finding | None:
        """The finding if visible, FOR KEY SHARE: a deletion of the draft under way is waited
        for (the finding is then absent, a 404, not a foreign-key failure), while changes to the
        finding itself are not blocked."""
        found: Finding | None = (
            await self.session.scalars(
                select(Finding)
                .where(Finding.id == finding_id, scope.visible())
                .with_for_update(read=True, key_share=True)
            )
        ).one_or_none()
        return found

    async def is_consulted(self, finding_id: uuid.UUID, expert_id: str) -> bool:
        return bool(
            await self.session.scalar(
                select(
                    exists().where(
                        Consultation.finding_id == finding_id, Consultation.expert_id == expert_id
                    )
                )
            )
        )

    async def of_finding(
        self, finding_id: uuid.UUID, params: PageParams, updated_since: datetime | None
    ) -> Sequence[FindingComment]:
        stmt = select(FindingComment).where(FindingComment.finding_id == finding_id)
        if updated_since is not None:
            # >=: a write committed in the same instant as the last one seen is not skipped
            stmt = stmt.where(FindingComment.updated_at >= updated_since)
        return await self.page(stmt, params)

    async def one(self, finding_id: uuid.UUID, comment_id: uuid.UUID) -> FindingComment | None:
        return (
            await self.session.scalars(
                select(FindingComment).where(
                    FindingComment.id == comment_id, FindingComment.finding_id == finding_id
                )
            )
        ).one_or_none()

    async def record_deletion(self, comment: FindingComment) -> None:
        await record_deletion(
            self.session, tombstones, tombstone_entity(comment.finding_id), [comment.id]
        )

    async def deleted_since(self, finding_id: uuid.UUID, since: datetime) -> list[uuid.UUID]:
        return await deleted_since(self.session, tombstones, tombstone_entity(finding_id), since)
