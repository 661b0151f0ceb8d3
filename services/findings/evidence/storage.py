"""Evidence files: a multipart upload streamed to disk chunk by chunk (never held whole in
memory), hashed (SHA-256) and sized while it streams, its type told by its first bytes, not its
name. Over the size limit or of an unknown type, the partial file is removed and nothing stays."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header

from services.common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from services.findings.enums import EvidenceType

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
                parser.write(chunk)
                await self._drain(state, digest, out)
            parser.finalize()
            await self._drain(state, digest, out, final=True)
            if not state.done:
                raise BadRequest(f"no file in the multipart field `{field_name}`")
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

    async def verify(self, key: str, expected: str) -> bool:
        return await anyio.to_thread.run_sync(_hash_file, self.path_of(key)) == expected

    async def remove(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.path_of(key).unlink(missing_ok=True))


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


def _hash_file(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()
