"""Routes of comments on findings (评论/意见). Who may do what, and why comments stay open in
every status of the finding: see `service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from services.common.concurrency import IfMatch, set_etag
from services.common.errors import PreconditionFailed, PreconditionRequired, problem_responses
from services.common.fields import UpdatedSince
from services.common.pagination import Paging
from services.findings.api import Service
from services.findings.comments.errors import CommentNotFound, NotACommenter, NotCommentAuthor
from services.findings.comments.service import CommentService
from services.findings.errors import FindingNotFound
from services.findings.models import FindingComment
from services.findings.schemas import CommentCreate, CommentPage, CommentRead, CommentUpdate

comments = APIRouter(prefix="/api/v1/findings/{finding_id}/comments", tags=["comments"])
CHANGE = (
    FindingNotFound,
    CommentNotFound,
    NotCommentAuthor,
    PreconditionFailed,
    PreconditionRequired,
)


def comment_service(findings: Service) -> CommentService:
    return CommentService(findings)


Comments = Annotated[CommentService, Depends(comment_service)]


def _shaped(comment: FindingComment, response: Response) -> CommentRead:
    set_etag(response, comment.version)
    return CommentRead.model_validate(comment)


@comments.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="发表评论 Comment on a finding",
    description="The office, the members and leaders of the finding's group, and the experts "
    "consulted on it may comment (another who can see the finding: 403), in any status of the "
    "finding, closed included. `body`: 1–5000 characters once trimmed. Send `Idempotency-Key`: "
    "a retry returns the first response.",
    responses=problem_responses(FindingNotFound, NotACommenter),
)
async def create_comment(
    finding_id: uuid.UUID, body: CommentCreate, service: Comments, response: Response
) -> CommentRead:
    comment = await service.create(finding_id, body)
    response.headers["Location"] = f"/api/v1/findings/{finding_id}/comments/{comment.id}"
    return _shaped(comment, response)


@comments.get(
    "",
    summary="评论列表 The finding's comments, oldest first",
    description="Whoever may see the finding reads its comments. Keyset pages (`cursor`). With "
    "`updated_since` (delta sync): comments written or changed at or after that instant (one "
    "may come again) and, on the first page, the ids of comments deleted since then.",
    responses=problem_responses(FindingNotFound),
)
async def list_comments(
    finding_id: uuid.UUID,
    service: Comments,
    paging: Paging,
    updated_since: UpdatedSince = None,
) -> CommentPage:
    return await service.page(finding_id, paging, updated_since)


@comments.get(
    "/{comment_id}",
    summary="查看评论 Read a comment",
    responses=problem_responses(FindingNotFound, CommentNotFound),
)
async def get_comment(
    finding_id: uuid.UUID, comment_id: uuid.UUID, service: Comments, response: Response
) -> CommentRead:
    return _shaped(await service.get(finding_id, comment_id), response)


@comments.patch(
    "/{comment_id}",
    summary="修改评论 Change your comment",
    description="Only the author. Requires `If-Match` with the ETag you read (428 without, 412 "
    "if stale).",
    responses=problem_responses(*CHANGE),
)
async def update_comment(
    finding_id: uuid.UUID,
    comment_id: uuid.UUID,
    body: CommentUpdate,
    service: Comments,
    response: Response,
    if_match: IfMatch = None,
) -> CommentRead:
    return _shaped(await service.update(finding_id, comment_id, body, if_match), response)


@comments.delete(
    "/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除评论 Delete a comment",
    description="The author or the office. Requires `If-Match` with the ETag you read (428 "
    "without, 412 if stale). Listed in `deleted` of a delta sync (`updated_since`).",
    responses=problem_responses(*CHANGE),
)
async def delete_comment(
    finding_id: uuid.UUID, comment_id: uuid.UUID, service: Comments, if_match: IfMatch = None
) -> None:
    await service.delete(finding_id, comment_id, if_match)


routers = [comments]
