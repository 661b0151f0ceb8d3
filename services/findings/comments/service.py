"""Comments on findings (评论/意见): the group's discussion of a finding and the opinions of the
experts consulted on it. Flushes, never commits.

Who reads: whoever may see the finding (another group's finding is 404, as if absent).
Who writes: the office, the members and leaders of the finding's group, and the experts
consulted on that finding; anyone else who can see it (a machine client) gets 403. A comment is
changed only by its author and deleted by its author or the office; `If-Match` is required on
both, like every change in this service (offline clients must not overwrite each other).

Comments are accepted in every status of the finding, closed (已办结) included. They are the
working discussion beside the record, not the record: writing one does not change the finding
(its version and ETag stay). Experts are mostly consulted after a finding is confirmed, a
handed-over finding is still discussed while the receiver handles it, and a closed one can be
reopened by the office (回头看): the reasons for reopening belong next to it, so closing the
finding must not silence the people working on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func

from services.common.concurrency import check_if_match
from services.common.pagination import PageParams, make_page, sync_watermark
from services.findings.comments.errors import CommentNotFound, NotACommenter, NotCommentAuthor
from services.findings.comments.repository import CommentRepository
from services.findings.errors import FindingNotFound
from services.findings.models import Finding, FindingComment
from services.findings.schemas import CommentCreate, CommentPage, CommentRead, CommentUpdate
from services.findings.service import FindingService, column_length

AUTHOR_NAME_MAX = column_length(FindingComment.__table__, "author_name")


class CommentService:
    def __init__(self, findings: FindingService) -> None:
        self.findings = findings
        self.scope = findings.scope
        self.session = findings.session
        self.repo = CommentRepository(findings.session)

    async def _may_comment(self, finding: Finding) -> bool:
        return self.scope.works_in(finding.group_id) or await self.repo.is_consulted(
            finding.id, self.scope.subject
        )

    async def create(self, finding_id: uuid.UUID, data: CommentCreate) -> FindingComment:
        finding = await self.repo.finding_to_comment_on(finding_id, self.scope)
        if finding is None:
            raise FindingNotFound(f"finding {finding_id} not found")
        if not await self._may_comment(finding):
            raise NotACommenter(
                "only the finding's group, the office and the experts consulted on it comment"
            )
        name = self.scope.principal.username
        return await self.repo.add(
            FindingComment(
                finding_id=finding.id,
                author=self.scope.subject,
                author_name=name[:AUTHOR_NAME_MAX] if name else None,  # a display copy
                body=data.body,
            )
        )

    async def page(
        self, finding_id: uuid.UUID, params: PageParams, updated_since: datetime | None
    ) -> CommentPage:
        """Oldest first. With `updated_since`: the comments written or changed since then and,
        on the first page, the ids of those deleted since then."""
        finding = await self.findings.get(finding_id)
        mark = await sync_watermark(self.session) if params.cursor is None else None
        rows = await self.repo.of_finding(finding.id, params, updated_since)
        page = make_page(rows, params, CommentRead)
        page.sync_from = mark
        if updated_since is not None and params.cursor is None:
            page.deleted = await self.repo.deleted_since(finding.id, updated_since)
        return page

    async def get(self, finding_id: uuid.UUID, comment_id: uuid.UUID) -> FindingComment:
        finding = await self.findings.get(finding_id)
        comment = await self.repo.one(finding.id, comment_id)
        if comment is None:
            raise CommentNotFound(f"comment {comment_id} not found")
        return comment

    async def update(
        self,
        finding_id: uuid.UUID,
        comment_id: uuid.UUID,
        data: CommentUpdate,
        if_match: str | None,
    ) -> FindingComment:
        comment = await self.get(finding_id, comment_id)
        # who may, before whether the version matches: a precondition is not evaluated for a
        # request that would be refused anyway (RFC 9110 §13.2.1)
        if comment.author != self.scope.subject:
            raise NotCommentAuthor("only the author changes a comment")
        check_if_match(if_match, comment.version, required=True)
        comment.body = data.body
        comment.updated_at = func.now()  # bumps the version too, even if the text is the same
        await self.session.flush()
        await self.session.refresh(comment)
        return comment

    async def delete(
        self, finding_id: uuid.UUID, comment_id: uuid.UUID, if_match: str | None
    ) -> None:
        comment = await self.get(finding_id, comment_id)
        if comment.author != self.scope.subject and not self.scope.office:
            raise NotCommentAuthor("only the author or the office deletes a comment")
        check_if_match(if_match, comment.version, required=True)
        await self.session.delete(comment)
        await self.session.flush()
        await self.repo.record_deletion(comment)
