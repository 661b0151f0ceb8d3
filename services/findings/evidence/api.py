"""Evidence files of a finding (证据): upload streamed to storage, list, download checked
against the SHA-256 recorded at upload, delete while the finding is a draft."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import FileResponse

from services.common.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
    problem_responses,
)
from services.findings.api import Service
from services.findings.enums import FindingStatus
from services.findings.errors import (
    EvidenceCorrupted,
    EvidenceNotFound,
    FindingNotEditable,
    FindingNotFound,
)
from services.findings.evidence.repository import EvidenceRepository
from services.findings.evidence.storage import EvidenceStore
from services.findings.models import Evidence
from services.findings.schemas import EvidenceRead
from services.findings.service import FindingService
from services.findings.settings import FindingsSettings

evidence = APIRouter(prefix="/api/v1/findings/{finding_id}/evidence", tags=["evidence"])
ACCEPTS_UPLOADS = (FindingStatus.draft.value, FindingStatus.confirmed.value)


def evidence_store(request: Request) -> EvidenceStore:
    settings: FindingsSettings = request.app.state.settings
    return EvidenceStore(settings.evidence_dir, settings.evidence_max_bytes)


Store = Annotated[EvidenceStore, Depends(evidence_store)]


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
    row = Evidence(
        id=evidence_id,
        finding_id=finding.id,
        filename=upload.filename,
        content_type=upload.content_type.value,
        size=upload.size,
        sha256=upload.sha256,
        storage_key=EvidenceStore.key_for(evidence_id),
        uploaded_by=service.scope.subject,
    )
    try:
        await EvidenceRepository(service.session).add(row)
    except BaseException:
        await store.remove(row.storage_key)
        raise
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
    description="The bytes are hashed before they are sent; a file that no longer matches its "
    "recorded SHA-256 is withheld (500 evidence-corrupted) rather than served as evidence.",
    response_class=FileResponse,
    responses={
        200: {"content": {t: {} for t in ("application/octet-stream",)}},
        **problem_responses(FindingNotFound, EvidenceNotFound, EvidenceCorrupted),
    },
)
async def download_evidence(
    finding_id: uuid.UUID, evidence_id: uuid.UUID, service: Service, store: Store
) -> FileResponse:
    row = await _one(service, finding_id, evidence_id)
    if not await store.verify(row.storage_key, row.sha256):
        raise EvidenceCorrupted(f"evidence {evidence_id} does not match its recorded SHA-256")
    return FileResponse(
        store.path_of(row.storage_key),
        media_type=row.content_type,
        filename=row.filename,
        headers={"X-Content-SHA256": row.sha256},
    )


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
    await store.remove(row.storage_key)


routers = [evidence]
