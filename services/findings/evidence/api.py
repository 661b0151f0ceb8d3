"""Evidence files of a finding (证据): upload streamed to storage, list, download checked
against the SHA-256 recorded at upload, delete while the finding is a draft. How files follow
the transaction (removed only once a delete commits, an upload removed if it does not commit):
see `storage`.

A download is read from the store (disk or bucket) once, in chunks, hashed while it is sent,
with the last chunk held back until the hash is known (chosen over verifying into a temporary
copy: no second write of a file of up to hundreds of MB, and no gap between checking and
sending). A file that fits in one chunk (1 MiB) and fails the check is answered 500
evidence-corrupted before anything is sent; a larger one that fails is cut off (logged, the
connection closed, the body short of its Content-Length), so a client never receives a complete
tampered file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import StreamingResponse

from services.common.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
    problem_responses,
)
from services.findings.api import Service
from services.findings.enums import EvidenceType, FindingStatus
from services.findings.errors import (
    EvidenceCorrupted,
    EvidenceNotFound,
    FindingNotEditable,
    FindingNotFound,
)
from services.findings.evidence.repository import EvidenceRepository
from services.findings.evidence.storage import EvidenceTampered, Store
from services.findings.models import Evidence
from services.findings.schemas import EvidenceRead
from services.findings.service import FindingService

evidence = APIRouter(prefix="/api/v1/findings/{finding_id}/evidence", tags=["evidence"])
ACCEPTS_UPLOADS = (FindingStatus.draft.value, FindingStatus.confirmed.value)
log = logging.getLogger(__name__)


@evidence.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="上传证据 Upload an evidence file",
    description="multipart/form-data with one file in the field `file`. The type is told by "
    "the content (JPEG, PNG, PDF, MP4, M4A, AMR, DOCX, XLSX), not the name: another is 415. "
    "Over the size limit is 413 and nothing is kept. The SHA-256 is computed while storing. "
    "Only the finding's group (or the office), while it is a draft or confirmed.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
    responses=problem_responses(
        FindingNotFound, FindingNotEditable, Forbidden, BadRequest, PayloadTooLarge,
        UnsupportedMediaType,
    ),
)  # fmt: skip
async def upload_evidence(
    finding_id: uuid.UUID, request: Request, service: Service, store: Store, response: Response
) -> EvidenceRead:
    finding = await service.get(finding_id)
    if not service.scope.works_in(finding.group_id):
        raise Forbidden("only the finding's group or the office may add evidence")
    if finding.status not in ACCEPTS_UPLOADS:
        raise FindingNotEditable(f"evidence cannot be added to a {finding.status} finding")
    evidence_id = uuid.uuid4()
    upload = await store.receive(
        request.headers.get("content-type", ""),
        request.headers.get("content-length"),
        request.stream(),
        evidence_id,
    )
    store.remove_unless_committed(service.session, upload.key)
    row = Evidence(
        id=evidence_id,
        finding_id=finding.id,
        filename=upload.filename,
        content_type=upload.content_type.value,
        size=upload.size,
        sha256=upload.sha256,
        storage_key=upload.key,
        uploaded_by=service.scope.subject,
    )
    await EvidenceRepository(service.session).add(row)
    response.headers["Location"] = f"/api/v1/findings/{finding_id}/evidence/{evidence_id}"
    return EvidenceRead.model_validate(row)


@evidence.get(
    "",
    summary="证据列表 The finding's evidence files",
    responses=problem_responses(FindingNotFound),
)
async def list_evidence(finding_id: uuid.UUID, service: Service) -> list[EvidenceRead]:
    finding = await service.get(finding_id)
    rows = await EvidenceRepository(service.session).of_finding(finding.id)
    return [EvidenceRead.model_validate(r) for r in rows]


async def _one(service: FindingService, finding_id: uuid.UUID, evidence_id: uuid.UUID) -> Evidence:
    finding = await service.get(finding_id)
    row = await EvidenceRepository(service.session).one(finding.id, evidence_id)
    if row is None:
        raise EvidenceNotFound(f"evidence {evidence_id} not found")
    return row


@evidence.get(
    "/{evidence_id}",
    summary="下载证据 Download an evidence file",
    description="The bytes are hashed as they are sent, against the SHA-256 recorded at upload "
    "(also sent, as `X-Content-SHA256`). A file that no longer matches is withheld: 500 "
    "evidence-corrupted when it is found before anything is sent (files up to 1 MiB), else the "
    "response is cut off short of its Content-Length, never completed.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, with the type recognised from its content at upload",
            "content": {
                t.value: {"schema": {"type": "string", "format": "binary"}} for t in EvidenceType
            },
        },
        **problem_responses(FindingNotFound, EvidenceNotFound, EvidenceCorrupted),
    },
)
async def download_evidence(
    finding_id: uuid.UUID, evidence_id: uuid.UUID, service: Service, store: Store
) -> StreamingResponse:
    row = await _one(service, finding_id, evidence_id)
    chunks = store.read_checked(row.storage_key, row.sha256, row.size)
    try:
        first = await anext(chunks)
    except EvidenceTampered as exc:
        log.error("evidence %s withheld: %s", evidence_id, exc)
        raise EvidenceCorrupted(
            f"evidence {evidence_id} does not match its recorded SHA-256"
        ) from None
    return StreamingResponse(
        _checked(evidence_id, first, chunks),
        media_type=row.content_type,
        headers={
            "Content-Length": str(row.size),
            "Content-Disposition": _attachment(row.filename),
            "X-Content-SHA256": row.sha256,
        },
    )


async def _checked(
    evidence_id: uuid.UUID, first: bytes, rest: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    yield first
    try:
        async for chunk in rest:
            yield chunk
    except EvidenceTampered as exc:
        # The status line is sent: all that is left is not to finish the body. Raising here
        # makes the server drop the connection short of Content-Length.
        log.error("evidence %s cut off while being sent: %s", evidence_id, exc)
        raise


def _attachment(filename: str) -> str:
    """Content-Disposition as Starlette's FileResponse writes it (RFC 6266 / 5987)."""
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


@evidence.delete(
    "/{evidence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除证据 Delete an evidence file (draft findings only)",
    responses=problem_responses(FindingNotFound, EvidenceNotFound, FindingNotEditable, Forbidden),
)
async def delete_evidence(
    finding_id: uuid.UUID, evidence_id: uuid.UUID, service: Service, store: Store
) -> None:
    finding = await service.get(finding_id)
    if not service.scope.works_in(finding.group_id):
        raise Forbidden("only the finding's group or the office may remove evidence")
    if finding.status != FindingStatus.draft.value:
        raise FindingNotEditable("evidence of a confirmed finding is part of the record")
    row = await _one(service, finding_id, evidence_id)
    await service.session.delete(row)
    await service.session.flush()
    store.remove_once_committed(service.session, [row.storage_key])


routers = [evidence]
