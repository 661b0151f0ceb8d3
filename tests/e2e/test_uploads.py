"""Evidence files through the gateway: an upload route gets the gateway's upload limit (not its
1 MiB JSON limit) and is streamed through; the service's own limit is the exact one, and
nothing is kept of an upload refused by either."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import uuid
from datetime import date
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from ops.stack import Database
from tests.e2e.conftest import (
    EVIDENCE_MAX_BYTES,
    GATEWAY_MAX_UPLOAD_BYTES,
    System,
    place_a_finding,
)

pytestmark = pytest.mark.e2e


def _png(size: int) -> bytes:
    head = b"\x89PNG\r\n\x1a\n"
    return head + b"\x5a" * (size - len(head))


def _evidence_rows(database: Database, finding_id: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM findings.evidence WHERE finding_id = $1",
                    uuid.UUID(finding_id),
                )
            )
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def finding_url(system: System) -> str:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    placed = place_a_finding(office, f"新店镇第{uuid.uuid4().hex[:6]}村")
    resp = office.post(
        "/api/v1/findings",
        json={
            "assignment_id": placed.assignment_id,
            "category_id": placed.category_id,
            "title": "村务公开流于形式",
            "facts": "账目三年未公开。",
            "source": "documents",
            "discovered_on": date(2018, 5, 8).isoformat(),
        },
    )
    assert resp.status_code == 201, resp.text
    return f"/api/v1/findings/{resp.json()['id']}/evidence"


def test_a_file_over_the_json_limit_passes_through_whole(system: System, finding_url: str) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60)
    data = _png(3 * 1024 * 1024)  # over the gateway's 1 MiB body limit, under the upload one
    resp = office.post(finding_url, files={"file": ("现场照片.png", data, "image/png")})
    assert resp.status_code == 201, resp.text
    assert resp.json()["size"] == len(data)
    assert resp.json()["sha256"] == hashlib.sha256(data).hexdigest()
    back = office.get(f"{finding_url}/{resp.json()['id']}")
    assert back.status_code == 200
    assert hashlib.sha256(back.content).hexdigest() == resp.json()["sha256"]


def test_over_the_services_limit_is_413_and_nothing_is_kept(
    system: System, database: Database, finding_url: str
) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60)
    before = _evidence_rows(database, finding_url.split("/")[4])
    data = _png(EVIDENCE_MAX_BYTES + 1)  # within the gateway's limit: the service refuses it
    resp = office.post(finding_url, files={"file": ("大.png", data, "image/png")})
    assert resp.status_code == 413, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert _evidence_rows(database, finding_url.split("/")[4]) == before


def test_over_the_gateways_upload_limit_is_413_at_the_gateway(
    system: System, finding_url: str
) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60)
    data = _png(GATEWAY_MAX_UPLOAD_BYTES + 1)
    resp = office.post(finding_url, files={"file": ("更大.png", data, "image/png")})
    assert resp.status_code == 413, resp.text
    assert str(GATEWAY_MAX_UPLOAD_BYTES) in resp.json()["detail"]


def test_the_upload_limit_is_only_for_upload_routes(system: System) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60)
    big = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = office.post(
        "/api/v1/findings", content=big, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413


def test_a_chunked_upload_is_411(system: System, finding_url: str) -> None:
    """The gateway streams uploads through with their length: it will not buffer an unknown one."""
    url = urlsplit(system.gateway)
    body = b"--b\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\n"
    body += _png(1024) + b"\r\n--b--\r\n"
    request = (
        f"POST {finding_url} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: {system.auth['Authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    request += f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 411"), reply[:200]
    assert b"application/problem+json" in reply
