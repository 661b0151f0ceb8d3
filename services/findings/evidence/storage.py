"""Evidence files: a multipart upload streamed to disk chunk by chunk (never held whole in
memory), hashed (SHA-256) and sized while it streams, its type told by its first bytes, not its
name. Over the size limit, of an unknown type or not well-formed multipart, the partial file is
removed and nothing stays.

Files and rows commit separately, so the disk follows the database's outcome:

- An upload is written under `tmp/<id>.part`, then moved into place before its row is added,
  and marked "remove unless committed": if the request's transaction rolls back (the handler
  fails, the commit fails, the idempotency middleware discards the response) the file is
  removed when the transaction ends. (Chosen over "keep a temp name and sweep": no sweeper to
  run, and the file is in place before the row naming it can commit.)
- A file whose row is deleted (one evidence item, or every item of a deleted draft finding) is
  marked "remove once committed": it is removed only after the transaction commits, so a failed
  or rolled-back delete still has its file.

Both hang off the SQLAlchemy session's end-of-transaction events, so they follow whoever commits
(the request boundary or the idempotency middleware). A crash between the commit and the removal
leaves an orphan file (never a row without its file); so does a crash in the middle of an upload
(a `tmp/*.part`).

A download is read once, in chunks, hashed as it is sent (`read_checked`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO, cast

import anyio
from fastapi import Depends, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from services.common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from services.findings.enums import EvidenceType
from services.findings.settings import FindingsSettings

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
CHUNK = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


def sniff(head: bytes) -> EvidenceType | None:
    """The type of a file by its magic bytes."""
    if head.startswith(b"\xff\xd8\xff"):
        return EvidenceType.jpeg
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return EvidenceType.png
    if head.startswith(b"%PDF-"):
        return EvidenceType.pdf
    if head.startswith(b"#!AMR"):
        return EvidenceType.amr
    if head[4:8] == b"ftyp":
        return EvidenceType.m4a if head[8:11] == b"M4A" else EvidenceType.mp4
    if head.startswith(b"PK\x03\x04"):
        # OOXML: a zip whose parts name the application; a plain zip is not accepted
        if b"word/" in head:
            return EvidenceType.docx
        if b"xl/" in head:
            return EvidenceType.xlsx
    return None


@dataclass
class StoredUpload:
    filename: str
    content_type: EvidenceType
    size: int
    sha256: str
    path: Path


@dataclass
class _State:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""
    in_file: bool = False
    done: bool = False
    filename: str = ""
    head: bytes = b""
    kind: EvidenceType | None = None
    size: int = 0
    pending: list[bytes] = field(default_factory=list)


class EvidenceStore:
    """A local directory: `<dir>/<id[:2]>/<id>`, with `tmp/` for uploads in progress."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path_of(self, key: str) -> Path:
        return self.root / key

    @staticmethod
    def key_for(evidence_id: uuid.UUID) -> str:
        return f"{evidence_id.hex[:2]}/{evidence_id.hex}"

    async def receive(
        self,
        content_type: str,
        content_length: str | None,
        stream: AsyncIterator[bytes],
        evidence_id: uuid.UUID,
        field_name: str = "file",
    ) -> StoredUpload:
        ctype, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise UnsupportedMediaType("send the file as multipart/form-data, field `file`")
        declared = int(content_length) if content_length and content_length.isdigit() else 0
        if declared > self.max_bytes + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"evidence files are limited to {self.max_bytes} bytes")
        tmp_dir = self.root / "tmp"
        await anyio.to_thread.run_sync(lambda: tmp_dir.mkdir(parents=True, exist_ok=True))
        tmp = tmp_dir / f"{evidence_id.hex}.part"
        digest = hashlib.sha256()
        state = _State()
        parser = MultipartParser(boundary, cast(Any, _callbacks(state, field_name)))
        out: BinaryIO = await anyio.to_thread.run_sync(lambda: tmp.open("wb"))
        try:
            received = 0
            async for chunk in stream:
                received += len(chunk)
                if received > self.max_bytes + MULTIPART_OVERHEAD:
                    raise PayloadTooLarge(f"evidence files are limited to {self.max_bytes} bytes")
                _parse(parser.write, chunk, field_name)
                await self._drain(state, digest, out)
            _parse(parser.finalize, None, field_name)
            await self._drain(state, digest, out, final=True)
            if not state.done:
                message = f"no file in the multipart field `{field_name}`"
                raise BadRequest(message, errors=[_file_error(field_name, message, "missing")])
            if state.kind is None:  # an empty file
                raise UnsupportedMediaType(_unsupported())
            await anyio.to_thread.run_sync(out.close)
            final = self.path_of(self.key_for(evidence_id))
            await anyio.to_thread.run_sync(_move, tmp, final)
        except BaseException:
            await anyio.to_thread.run_sync(_discard, out, tmp)
            raise
        return StoredUpload(state.filename, state.kind, state.size, digest.hexdigest(), final)

    async def _drain(
        self, state: _State, digest: hashlib._Hash, out: BinaryIO, *, final: bool = False
    ) -> None:
        data, state.pending = b"".join(state.pending), []
        if not data and not (final and state.done):
            return
        state.size += len(data)
        if state.size > self.max_bytes:
            raise PayloadTooLarge(f"evidence files are limited to {self.max_bytes} bytes")
        if state.kind is None:
            state.head += data
            if len(state.head) < SNIFF_BYTES and not (final or state.done):
                return
            state.kind = sniff(state.head)
            if state.kind is None:
                raise UnsupportedMediaType(_unsupported())
            data, state.head = state.head, b""
        await self._write(out, data, digest)

    @staticmethod
    async def _write(out: BinaryIO, data: bytes, digest: hashlib._Hash) -> None:
        if data:
            digest.update(data)
            await anyio.to_thread.run_sync(out.write, data)

    async def read_checked(self, key: str, sha256: str, size: int) -> AsyncIterator[bytes]:
        """The file in chunks, read once and hashed as it goes. The last chunk read is held back
        until the whole file has hashed; if it does not match (or the file is gone or not of the
        recorded size) `EvidenceTampered` is raised instead. So the complete file is never given
        out unchecked: a file read in one chunk fails before its first byte is handed over; a
        larger one is cut short."""
        try:
            f = await anyio.open_file(self.path_of(key), "rb")
        except FileNotFoundError:
            raise EvidenceTampered(f"{key}: the file is missing") from None
        async with f:
            digest, total, held = hashlib.sha256(), 0, b""
            while chunk := await f.read(CHUNK):
                total += len(chunk)
                if total > size:
                    raise EvidenceTampered(f"{key}: longer than the {size} bytes recorded")
                digest.update(chunk)
                if held:
                    yield held
                held = chunk
            if total != size or digest.hexdigest() != sha256:
                raise EvidenceTampered(f"{key}: does not match its recorded SHA-256")
            if held:
                yield held

    def remove_unless_committed(self, session: AsyncSession, key: str) -> None:
        """The file is removed when the session's transaction ends without a commit."""
        _FileOutcomes.of(session).on_rollback.append(self.path_of(key))

    def remove_once_committed(self, session: AsyncSession, keys: Iterable[str]) -> None:
        """The files are removed after the session's transaction commits, and only then."""
        _FileOutcomes.of(session).on_commit.extend(self.path_of(k) for k in keys)


class EvidenceTampered(Exception):
    """Stored bytes no longer what was recorded at upload."""


@dataclass
class _FileOutcomes:
    """Files to remove when the session's (root) transaction ends, by how it ended. Kept in the
    session's `info`, with its two listeners installed once per session."""

    on_commit: list[Path] = field(default_factory=list)
    on_rollback: list[Path] = field(default_factory=list)
    committed: bool = False

    KEY = "findings.evidence.file_outcomes"

    @classmethod
    def of(cls, session: AsyncSession) -> _FileOutcomes:
        sync = session.sync_session
        found = sync.info.get(cls.KEY)
        if found is None:
            found = sync.info[cls.KEY] = cls()
            event.listen(sync, "after_commit", found._after_commit)
            event.listen(sync, "after_transaction_end", found._after_transaction_end)
        return cast(_FileOutcomes, found)

    def _after_commit(self, session: Session) -> None:
        if not session.in_nested_transaction():  # a savepoint released is no commit
            self.committed = True

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is not None:
            return
        doomed = self.on_commit if self.committed else self.on_rollback
        self.on_commit, self.on_rollback, self.committed = [], [], False
        for path in doomed:
            try:
                path.unlink(missing_ok=True)
            except OSError:  # never turn a committed change into an error
                log.exception("could not remove evidence file %s", path)


def evidence_store(request: Request) -> EvidenceStore:
    settings: FindingsSettings = request.app.state.settings
    return EvidenceStore(settings.evidence_dir, settings.evidence_max_bytes)


Store = Annotated[EvidenceStore, Depends(evidence_store)]


def _file_error(field_name: str, message: str, code: str) -> dict[str, str]:
    return {"field": field_name, "message": message, "code": code}


def _parse(step: Callable[..., Any], chunk: bytes | None, field_name: str) -> None:
    """A step of the multipart parser; a body that is not well-formed multipart is the client's
    error (400 naming the field), not ours."""
    try:
        if chunk is None:
            step()
        else:
            step(chunk)
    except FormParserError as exc:
        log.info("malformed multipart upload: %s", exc)
        message = "the body is not well-formed multipart/form-data"
        raise BadRequest(
            message, errors=[_file_error(field_name, message, "malformed_multipart")]
        ) from None


def _unsupported() -> str:
    kinds = ", ".join(t.label for t in EvidenceType)
    return f"the file's content is not an accepted evidence type ({kinds})"


def _callbacks(state: _State, field_name: str) -> dict[str, Callable[..., None]]:
    def on_part_begin() -> None:
        state.headers, state.header_field, state.header_value = {}, b"", b""

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def on_header_end() -> None:
        state.headers[state.header_field.lower()] = state.header_value
        state.header_field, state.header_value = b"", b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(state.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        state.in_file = not state.done and name == field_name and filename is not None
        if state.in_file and filename is not None:
            state.filename = os.path.basename(filename.decode("utf-8", "replace"))[:255] or "file"

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state.in_file:
            state.pending.append(data[start:end])

    def on_part_end() -> None:
        if state.in_file:
            state.in_file, state.done = False, True

    return {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }


def _move(tmp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)


def _discard(out: BinaryIO, tmp: Path) -> None:
    out.close()
    tmp.unlink(missing_ok=True)
