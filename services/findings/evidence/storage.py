"""Evidence files: a multipart upload streamed to a temporary file chunk by chunk (never held
whole in memory), hashed (SHA-256) and sized while it streams, its type told by its first bytes,
not its name. Over the size limit, of an unknown type or not well-formed multipart, the partial
file is removed and nothing is stored. Only then is the finished file handed to the backend,
which keeps it under a key (`<id[:2]>/<id>`):

- `LocalBackend` (`evidence_store=local`, the default): a directory, `<evidence_dir>/<key>`.
- `S3Backend` (`evidence_store=s3`, in `s3`): an S3-compatible bucket, `<s3_prefix><key>`.

Receiving, hashing, checking downloads and following the transaction are `EvidenceStore`'s, the
same for both; a backend only puts a finished file at a key, opens a key to read, and deletes
keys (`EvidenceBackend`). Uploads in progress are always local, `<evidence_dir>/tmp/<id>.part`.

Backends are plain blocking code, and `EvidenceStore` makes each call in a worker thread
(`anyio.to_thread`), as it already did for the disk. Chosen over an async S3 client
(aiobotocore): one code path for both backends; boto3's managed upload (parts sent in parallel,
each retried) comes for free; and no second HTTP stack pinned to exact botocore versions. The
cost, a thread per call in flight, is the one the disk already paid.

Files and rows commit separately, so the stored files follow the database's outcome:

- An upload is stored at its key before its row is added, and marked "remove unless
  committed": if the request's transaction rolls back (the handler fails, the commit fails, the
  idempotency middleware discards the response) the file is removed when the transaction ends.
  (Chosen over "keep a temp name and sweep": no sweeper to run, and the file is in place before
  the row naming it can commit.)
- A file whose row is deleted (one evidence item, or every item of a deleted draft finding) is
  marked "remove once committed": it is removed only after the transaction commits, so a failed
  or rolled-back delete still has its file.

Both hang off the SQLAlchemy session's end-of-transaction events, so they follow whoever commits
(the request boundary or the idempotency middleware). The removal runs in a worker thread that
the commit (or rollback) awaits, through the greenlet SQLAlchemy's asyncio layer runs the event
in: done when the commit returns, and the event loop never waits on the disk or on S3. A crash
between the commit and the removal leaves an orphan file (never a row without its file); so does
a crash in the middle of an upload (a `tmp/*.part`).

A download is read once, in chunks, hashed as it is sent (`read_checked`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Protocol, cast

import anyio
from fastapi import Depends, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

from services.common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from services.findings.enums import EvidenceType
from services.findings.evidence.s3 import S3Backend
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
    key: str


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


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class EvidenceBackend(Protocol):
    """Where finished files are kept. Blocking calls, each made in a worker thread by
    `EvidenceStore`, several at once."""

    def put(self, tmp: Path, key: str, sha256: str) -> None:
        """Keeps the finished upload `tmp` at `key` (whatever is left of `tmp` is removed
        afterwards). On failure nothing is kept at `key`."""

    def open(self, key: str) -> Readable:
        """The file at `key`, to read from its start; `FileNotFoundError` if there is none."""

    def delete(self, keys: Sequence[str]) -> None:
        """Removes the files at `keys`; one already gone is no error."""


class LocalBackend:
    """A local directory: `<root>/<id[:2]>/<id>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, tmp: Path, key: str, sha256: str) -> None:
        final = self.root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)

    def open(self, key: str) -> BinaryIO:
        return (self.root / key).open("rb")

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            try:
                (self.root / key).unlink(missing_ok=True)
            except OSError:  # the others still go
                log.exception("could not remove evidence file %s", key)


class EvidenceStore:
    """Evidence files kept by `backend`, received through `tmp_dir`."""

    def __init__(self, backend: EvidenceBackend, tmp_dir: Path, max_bytes: int) -> None:
        self.backend = backend
        self.tmp_dir = tmp_dir
        self.max_bytes = max_bytes

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
        """The upload streamed into `tmp/<id>.part`, then kept by the backend at
        `key_for(evidence_id)`. Nothing is kept when this raises."""
        ctype, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise UnsupportedMediaType("send the file as multipart/form-data, field `file`")
        declared = int(content_length) if content_length and content_length.isdigit() else 0
        if declared > self.max_bytes + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"evidence files are limited to {self.max_bytes} bytes")
        tmp_dir = self.tmp_dir
        await anyio.to_thread.run_sync(lambda: tmp_dir.mkdir(parents=True, exist_ok=True))
        tmp = tmp_dir / f"{evidence_id.hex}.part"
        key = self.key_for(evidence_id)
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
            await anyio.to_thread.run_sync(_keep, self.backend, tmp, key, digest.hexdigest())
        except BaseException:
            await anyio.to_thread.run_sync(_discard, out, tmp)
            raise
        return StoredUpload(state.filename, state.kind, state.size, digest.hexdigest(), key)

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
            f = await anyio.to_thread.run_sync(self.backend.open, key)
        except FileNotFoundError:
            raise EvidenceTampered(f"{key}: the file is missing") from None
        try:
            digest, total, held = hashlib.sha256(), 0, b""
            while chunk := await anyio.to_thread.run_sync(_read_chunk, f):
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
        finally:
            with anyio.CancelScope(shield=True):  # closed also when the client went away
                await anyio.to_thread.run_sync(f.close)

    def remove_unless_committed(self, session: AsyncSession, key: str) -> None:
        """The file is removed when the session's transaction ends without a commit."""
        _FileOutcomes.of(session).on_rollback[self.backend].append(key)

    def remove_once_committed(self, session: AsyncSession, keys: Iterable[str]) -> None:
        """The files are removed after the session's transaction commits, and only then."""
        _FileOutcomes.of(session).on_commit[self.backend].extend(keys)


class EvidenceTampered(Exception):
    """Stored bytes no longer what was recorded at upload."""


@dataclass
class _FileOutcomes:
    """Files to remove when the session's (root) transaction ends, by how it ended. Kept in the
    session's `info`, with its two listeners installed once per session."""

    on_commit: defaultdict[EvidenceBackend, list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    on_rollback: defaultdict[EvidenceBackend, list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
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
        self.on_commit, self.on_rollback = defaultdict(list), defaultdict(list)
        self.committed = False
        for backend, keys in doomed.items():
            if in_greenlet():  # an AsyncSession's: the commit awaits the thread, the loop not
                await_only(anyio.to_thread.run_sync(_remove, backend, keys))
            else:  # a session used synchronously has no loop to keep free
                _remove(backend, keys)


def _remove(backend: EvidenceBackend, keys: list[str]) -> None:
    try:
        backend.delete(keys)
    except Exception:  # never turn a committed change into an error
        log.exception("could not remove evidence files %s", keys)


def open_store(settings: FindingsSettings) -> EvidenceStore:
    backend: EvidenceBackend
    if settings.evidence_store == "s3":
        backend = S3Backend.from_settings(settings)
    else:
        backend = LocalBackend(settings.evidence_dir)
    return EvidenceStore(backend, settings.evidence_dir / "tmp", settings.evidence_max_bytes)


async def evidence_store(request: Request) -> EvidenceStore:
    """The app's store, made on first use and kept on `app.state`: an S3 client (its connection
    pool, its credentials) is made once per app, not per request. Made in a thread: boto3 reads
    its service description from disk."""
    state = request.app.state
    store: EvidenceStore | None = getattr(state, "evidence_store", None)
    if store is None:
        made = await anyio.to_thread.run_sync(open_store, state.settings)
        # a first request running alongside may have kept one meanwhile: that one stays
        store = getattr(state, "evidence_store", None) or made
        state.evidence_store = store
    return store


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


def _keep(backend: EvidenceBackend, tmp: Path, key: str, sha256: str) -> None:
    backend.put(tmp, key, sha256)
    tmp.unlink(missing_ok=True)  # moved into place, or uploaded


def _read_chunk(f: Readable) -> bytes:
    """`CHUNK` bytes, fewer only at the end. A network stream may return less than asked, and
    a file that fits in one chunk must be read (and checked) whole before any of it is sent."""
    parts: list[bytes] = []
    wanted = CHUNK
    while wanted and (part := f.read(wanted)):
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def _discard(out: BinaryIO, tmp: Path) -> None:
    out.close()
    tmp.unlink(missing_ok=True)
