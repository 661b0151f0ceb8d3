"""Evidence: streamed to disk, hashed, typed by content, limited in size, checked on download."""

from __future__ import annotations

import hashlib
import logging

import pytest

from services.findings.evidence.storage import EvidenceTampered
from tests.findings.conftest import (
    MAX_EVIDENCE,
    PDF,
    PNG,
    World,
    commits_fail,
    failed,
    stored_files,
)


async def test_upload_list_download_delete(world: World) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    # named .jpg but a PNG inside: the content decides
    resp = await world.http.post(
        url, files={"file": ("现场照片.jpg", PNG, "image/jpeg")}, headers=member
    )
    assert resp.status_code == 201, resp.text
    ev = resp.json()
    assert ev["content_type"] == "image/png"
    assert ev["size"] == len(PNG)
    assert ev["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert ev["filename"] == "现场照片.jpg"
    listed = (await world.http.get(url, headers=world.as_(world.leader_a))).json()
    assert [e["id"] for e in listed] == [ev["id"]]
    got = await world.http.get(f"{url}/{ev['id']}", headers=member)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    # another group cannot download it or guess it
    assert (
        await world.http.get(f"{url}/{ev['id']}", headers=world.as_(world.member_b))
    ).status_code == 404
    gone = await world.http.delete(f"{url}/{ev['id']}", headers=member)
    assert gone.status_code == 204
    assert stored_files(world.evidence_dir) == []


async def test_a_pdf_large_enough_to_stream_in_chunks(world: World) -> None:
    finding = await world.create()
    body = b"%PDF-1.4\n" + b"x" * (MAX_EVIDENCE - 100)
    resp = await world.http.post(
        f"/api/v1/findings/{finding['id']}/evidence",
        files={"file": ("报告", body, "application/octet-stream")},
        headers=world.as_(world.member_a),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert resp.json()["content_type"] == "application/pdf"


async def test_a_retried_upload_with_an_idempotency_key_stores_one_file(world: World) -> None:
    """The body (spooled to disk past 1 MiB by the idempotency middleware) is stored once."""
    finding = await world.create()
    body = b"%PDF-1.4\n" + bytes(range(256)) * ((MAX_EVIDENCE - 512) // 256)
    headers = {**world.as_(world.member_a), "Idempotency-Key": f"ev-{finding['id']}"}
    url = f"/api/v1/findings/{finding['id']}/evidence"
    # an offline queue re-sends the request it stored: the same bytes, the same boundary
    boundary = "retry-boundary-1"
    content = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    first = await world.http.post(url, content=content, headers=headers)
    again = await world.http.post(url, content=content, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["sha256"] == hashlib.sha256(body).hexdigest()
    listed = (await world.http.get(url, headers=world.as_(world.member_a))).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert len(items) == 1


async def test_over_the_limit_is_413_and_stores_nothing(world: World) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    big = b"%PDF-1.4\n" + b"x" * MAX_EVIDENCE
    resp = await world.http.post(
        url, files={"file": ("big.pdf", big, "application/pdf")}, headers=member
    )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"

    # without a Content-Length (chunked): stopped while streaming, the partial file removed
    def chunks():  # type: ignore[no-untyped-def]
        boundary = b"b0undary"
        yield (
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n\r\n'
        )
        yield b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000
        for _ in range(MAX_EVIDENCE // 65536 + 2):
            yield b"y" * 65536
        yield b"\r\n--" + boundary + b"--\r\n"

    async def agen():  # type: ignore[no-untyped-def]
        for c in chunks():
            yield c

    streamed = await world.http.post(
        url,
        content=agen(),
        headers={**member, "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert streamed.status_code == 413
    assert stored_files(world.evidence_dir) == []
    assert (await world.http.get(url, headers=member)).json() == []


async def test_type_by_content_not_by_name(world: World) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    for name, data in (
        ("照片.jpg", b"MZ\x90\x00 not a photo"),
        ("empty.png", b""),
        ("a.zip", b"PK\x03\x04" + b"\x00" * 100),
    ):
        resp = await world.http.post(
            url, files={"file": (name, data, "image/jpeg")}, headers=world.as_(world.member_a)
        )
        assert resp.status_code == 415, (name, resp.text)
    missing = await world.http.post(
        url, data={"note": "x"}, files={"other": ("a", PNG)}, headers=world.as_(world.member_a)
    )
    assert missing.status_code == 400
    assert stored_files(world.evidence_dir) == []


async def test_a_tampered_file_is_withheld(world: World) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    ev = (await world.http.post(url, files={"file": ("a.pdf", PDF)}, headers=member)).json()
    [path] = stored_files(world.evidence_dir)
    path.write_bytes(PDF.replace(b"0", b"1", 1))
    resp = await world.http.get(f"{url}/{ev['id']}", headers=member)
    assert resp.status_code == 500
    assert resp.json()["type"] == "/problems/evidence-corrupted"
    assert b"%PDF" not in resp.content
    # a file gone from the disk is withheld the same way
    path.unlink()
    resp = await world.http.get(f"{url}/{ev['id']}", headers=member)
    assert resp.status_code == 500
    assert resp.json()["type"] == "/problems/evidence-corrupted"


async def test_a_large_file_is_streamed_once_and_cut_off_if_tampered(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Larger than one read: streamed while hashed, the last chunk held back until the hash is
    known; a mismatch aborts the response instead of completing it."""
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    body = b"%PDF-1.4\n" + bytes(range(256)) * ((MAX_EVIDENCE - 4096) // 256)
    ev = (await world.http.post(url, files={"file": ("big.pdf", body)}, headers=member)).json()
    got = await world.http.get(f"{url}/{ev['id']}", headers=member)
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["content-length"] == str(len(body))
    assert got.headers["x-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert 'filename="big.pdf"' in got.headers["content-disposition"]

    [path] = stored_files(world.evidence_dir)
    tampered = body[:-1] + b"!"
    path.write_bytes(tampered)
    caplog.set_level(logging.ERROR)
    received: list[bytes] = []

    async def download() -> None:
        async with world.http.stream("GET", f"{url}/{ev['id']}", headers=member) as resp:
            assert resp.status_code == 200  # sent before the end of the file is read
            async for chunk in resp.aiter_raw():
                received.append(chunk)

    # In-process the app's error reaches the client; a server drops the connection instead.
    with pytest.raises(EvidenceTampered):
        await download()
    assert len(b"".join(received)) < len(body)
    assert any(
        ev["id"] in r.getMessage() and "cut off" in r.getMessage() for r in caplog.records
    ), caplog.text


async def test_malformed_multipart_is_400_on_the_file_and_stores_nothing(world: World) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    for content in (
        b"garbage without any boundary",
        b"--b0\r\nContent Disposition: form-data\r\n\r\n%PDF-1.4\r\n--b0--\r\n",
        b"--b0X\r\n",
        b'--b0\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1.4'
        + b"x" * 5000
        + b"\r\n--b0Z",
    ):
        resp = await world.http.post(
            url,
            content=content,
            headers={**member, "Content-Type": "multipart/form-data; boundary=b0"},
        )
        assert resp.status_code == 400, (content[:40], resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in resp.json()["errors"]] == ["file"]
    assert stored_files(world.evidence_dir) == []
    assert (await world.http.get(url, headers=member)).json() == []


async def test_deleting_a_draft_removes_its_files(world: World) -> None:
    member = world.as_(world.member_a)
    draft, kept = await world.create(), await world.create()
    for f, name in ((draft, "a.pdf"), (draft, "b.png"), (kept, "c.pdf")):
        resp = await world.http.post(
            f"/api/v1/findings/{f['id']}/evidence",
            files={"file": (name, PDF if name.endswith("pdf") else PNG)},
            headers=member,
        )
        assert resp.status_code == 201, resp.text
    [kept_ev] = (
        await world.http.get(f"/api/v1/findings/{kept['id']}/evidence", headers=member)
    ).json()
    assert len(stored_files(world.evidence_dir)) == 3
    gone = await world.http.delete(
        f"/api/v1/findings/{draft['id']}", headers={**member, "If-Match": '"v1"'}
    )
    assert gone.status_code == 204
    [left] = stored_files(world.evidence_dir)
    assert left.name == kept_ev["id"].replace("-", "")
    assert left.read_bytes() == PDF


async def test_files_are_removed_only_once_the_removal_commits(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = world.as_(world.member_a)
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}"
    ev = (
        await world.http.post(url + "/evidence", files={"file": ("a.pdf", PDF)}, headers=member)
    ).json()
    [path] = stored_files(world.evidence_dir)

    with commits_fail(monkeypatch):
        await failed(world.http.delete(f"{url}/evidence/{ev['id']}", headers=member))
    assert path.read_bytes() == PDF  # the row is still there, so is its file
    got = await world.http.get(f"{url}/evidence/{ev['id']}", headers=member)
    assert (got.status_code, got.content) == (200, PDF)

    with commits_fail(monkeypatch):
        await failed(world.http.delete(url, headers={**member, "If-Match": '"v1"'}))
    assert path.read_bytes() == PDF
    assert (await world.http.get(url, headers=member)).status_code == 200

    gone = await world.http.delete(f"{url}/evidence/{ev['id']}", headers=member)
    assert gone.status_code == 204
    assert stored_files(world.evidence_dir) == []


async def test_an_upload_whose_commit_fails_leaves_no_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = world.as_(world.member_a)
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    with commits_fail(monkeypatch):
        await failed(world.http.post(url, files={"file": ("a.pdf", PDF)}, headers=member))
        keyed = {**member, "Idempotency-Key": f"up-{finding['id']}"}
        await failed(world.http.post(url, files={"file": ("b.pdf", PDF)}, headers=keyed))
    assert stored_files(world.evidence_dir) == []
    assert (await world.http.get(url, headers=member)).json() == []


async def test_evidence_of_a_confirmed_finding_stays(world: World) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    ev = (await world.http.post(url, files={"file": ("a.pdf", PDF)}, headers=member)).json()
    await world.http.post(
        f"/api/v1/findings/{finding['id']}/transitions",
        json={"to": "confirmed"},
        headers=world.as_(world.leader_a),
    )
    assert (await world.http.delete(f"{url}/{ev['id']}", headers=member)).status_code == 409
    # later evidence may still be added to a confirmed finding
    assert (
        await world.http.post(url, files={"file": ("b.pdf", PDF)}, headers=member)
    ).status_code == 201
