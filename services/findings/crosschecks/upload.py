"""Receiving a dataset file: the multipart body streamed to a temporary file chunk by chunk
(never held whole in memory), hashed (SHA-256) and sized as it streams, with the evidence
upload's multipart parsing (`evidence.storage`). The file stays in the evidence store's
`tmp/` until its import job has an outcome; if the request that received it does not commit
(so no job will ever read it) it is removed when the transaction ends."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from services.findings.evidence.storage import (
    MULTIPART_OVERHEAD,
    EvidenceStore,
    LocalBackend,
    _callbacks,
    _parse,
    _State,
)

FIELD = "file"


@dataclass(frozen=True)
class ReceivedFile:
    path: Path
    filename: str
    size: int
    sha256: str


class DatasetInbox:
    """Where dataset uploads wait for their import: `<tmp_dir>/dataset-<job id>.csv|xlsx`."""

    def __init__(self, tmp_dir: Path, max_bytes: int) -> None:
        self.tmp_dir = tmp_dir
        self.max_bytes = max_bytes
        # the evidence store's "remove unless committed", for files of this directory
        self._outcomes = EvidenceStore(LocalBackend(tmp_dir), tmp_dir, max_bytes)

    async def receive(
        self,
        content_type: str,
        content_length: str | None,
        stream: AsyncIterator[bytes],
        job_id: uuid.UUID,
    ) -> ReceivedFile:
        ctype, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise UnsupportedMediaType("send the file as multipart/form-data, field `file`")
        limit = self.max_bytes
        declared = int(content_length) if content_length and content_length.isdigit() else 0
        if declared > limit + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"dataset files are limited to {limit} bytes")
        tmp_dir = self.tmp_dir
        await anyio.to_thread.run_sync(lambda: tmp_dir.mkdir(parents=True, exist_ok=True))
        path = tmp_dir / f"dataset-{job_id.hex}.part"
        digest = hashlib.sha256()
        state = _State()
        parser = MultipartParser(boundary, cast(Any, _callbacks(state, FIELD)))
        out: BinaryIO = await anyio.to_thread.run_sync(lambda: path.open("wb"))
        size = 0
        try:
            async for chunk in stream:
                _parse(parser.write, chunk, FIELD)
                size = await self._drain(state, digest, out, size)
            _parse(parser.finalize, None, FIELD)
            size = await self._drain(state, digest, out, size)
            if not state.done:
                message = f"no file in the multipart field `{FIELD}`"
                raise BadRequest(message, errors=[{"field": FIELD, "message": message,
                                                   "code": "missing"}])  # fmt: skip
            await anyio.to_thread.run_sync(out.close)
            final = path.with_suffix(
                ".xlsx" if state.filename.lower().endswith(".xlsx") else ".csv"
            )
            await anyio.to_thread.run_sync(os.replace, path, final)
        except BaseException:
            await anyio.to_thread.run_sync(_discard, out, path)
            raise
        return ReceivedFile(final, state.filename, size, digest.hexdigest())

    async def _drain(self, state: _State, digest: Any, out: BinaryIO, size: int) -> int:
        data, state.pending = b"".join(state.pending), []
        if not data:
            return size
        size += len(data)
        if size > self.max_bytes:
            raise PayloadTooLarge(f"dataset files are limited to {self.max_bytes} bytes")
        digest.update(data)
        await anyio.to_thread.run_sync(out.write, data)
        return size

    def remove_unless_committed(self, session: AsyncSession, path: Path) -> None:
        self._outcomes.remove_unless_committed(session, path.name)

    async def discard(self, path: Path) -> None:
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


def _discard(out: BinaryIO, path: Path) -> None:
    out.close()
    path.unlink(missing_ok=True)
