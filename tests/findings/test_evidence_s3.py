"""Evidence in an S3-compatible bucket: the same API as on disk, with moto's standalone S3
server (over HTTP, as MinIO would be) standing in for the store. Each test keeps its objects
under a prefix of its own."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from ops.pg import free_port
from services.findings.app import create_app
from services.findings.evidence.s3 import S3Backend
from services.findings.settings import FindingsSettings
from tests.findings.conftest import (
    MAX_EVIDENCE,
    PDF,
    PNG,
    World,
    commits_fail,
    failed,
    stored_files,
)

BUCKET = "inspection-evidence"
REGION = "us-east-1"
KEY_ID, SECRET = "test-key", "test-secret-key"


@dataclass
class Bucket:
    """The bucket as an operator (or an intruder) sees it, under one test's prefix."""

    client: Any
    endpoint: str
    prefix: str

    def objects(self) -> list[str]:
        found = self.client.list_objects_v2(Bucket=BUCKET, Prefix=self.prefix)
        return sorted(o["Key"] for o in found.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()  # type: ignore[no-any-return]

    def metadata(self, key: str) -> dict[str, str]:
        return self.client.head_object(Bucket=BUCKET, Key=key)["Metadata"]  # type: ignore[no-any-return]

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=data)

    def remove(self, key: str) -> None:
        self.client.delete_object(Bucket=BUCKET, Key=key)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


def client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> Bucket:
    return Bucket(client(s3_endpoint), s3_endpoint, f"evidence/{uuid.uuid4().hex}/")


@pytest.fixture
def findings_settings(findings_settings: FindingsSettings, bucket: Bucket) -> FindingsSettings:
    """The usual test settings, with evidence in the bucket."""
    return FindingsSettings(
        **{
            **findings_settings.model_dump(),
            "evidence_store": "s3",
            "s3_endpoint_url": bucket.endpoint,
            "s3_bucket": BUCKET,
            "s3_region": REGION,
            "s3_access_key_id": KEY_ID,
            "s3_secret_access_key": SECRET,
            "s3_prefix": bucket.prefix,
        }
    )


def object_key(bucket: Bucket, evidence_id: str) -> str:
    hexid = uuid.UUID(evidence_id).hex
    return f"{bucket.prefix}{hexid[:2]}/{hexid}"


async def test_an_upload_is_one_object_hashed_and_downloads_checked(
    world: World, bucket: Bucket
) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    # larger than one read (1 MiB): the download streams it in several chunks
    body = b"%PDF-1.4\n" + bytes(range(256)) * ((MAX_EVIDENCE - 4096) // 256)
    resp = await world.http.post(url, files={"file": ("报告.pdf", body)}, headers=member)
    assert resp.status_code == 201, resp.text
    ev = resp.json()
    assert ev["sha256"] == hashlib.sha256(body).hexdigest()

    assert bucket.objects() == [object_key(bucket, ev["id"])]
    [key] = bucket.objects()
    assert hashlib.sha256(bucket.read(key)).hexdigest() == ev["sha256"]
    assert bucket.metadata(key) == {"sha256": ev["sha256"]}
    assert stored_files(world.evidence_dir) == []  # the upload's temporary file is gone

    got = await world.http.get(f"{url}/{ev['id']}", headers=member)
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["x-content-sha256"] == ev["sha256"]
    assert got.headers["content-type"] == "application/pdf"

    small = await world.http.post(url, files={"file": ("a.png", PNG)}, headers=member)
    got = await world.http.get(f"{url}/{small.json()['id']}", headers=member)
    assert (got.status_code, got.content) == (200, PNG)
    assert len(bucket.objects()) == 2


async def test_an_object_altered_in_the_bucket_is_withheld(world: World, bucket: Bucket) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    ev = (await world.http.post(url, files={"file": ("a.pdf", PDF)}, headers=member)).json()
    [key] = bucket.objects()
    bucket.write(key, PDF.replace(b"0", b"1", 1))  # same size, other bytes
    resp = await world.http.get(f"{url}/{ev['id']}", headers=member)
    assert resp.status_code == 500
    assert resp.json()["type"] == "/problems/evidence-corrupted"
    assert b"%PDF" not in resp.content
    # an object gone from the bucket is withheld the same way
    bucket.remove(key)
    resp = await world.http.get(f"{url}/{ev['id']}", headers=member)
    assert resp.status_code == 500
    assert resp.json()["type"] == "/problems/evidence-corrupted"


async def test_over_the_limit_stores_no_object_and_no_row(world: World, bucket: Bucket) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    member = world.as_(world.member_a)
    big = b"%PDF-1.4\n" + b"x" * MAX_EVIDENCE
    resp = await world.http.post(url, files={"file": ("big.pdf", big)}, headers=member)
    assert resp.status_code == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: stopped while streaming
        yield b'--b0\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n'
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]
        yield b"\r\n--b0--\r\n"

    streamed = await world.http.post(
        url,
        content=chunked(),
        headers={**member, "Content-Type": "multipart/form-data; boundary=b0"},
    )
    assert streamed.status_code == 413
    assert bucket.objects() == []
    assert stored_files(world.evidence_dir) == []
    assert (await world.http.get(url, headers=member)).json() == []


async def test_an_upload_whose_commit_fails_leaves_no_object(
    world: World, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = world.as_(world.member_a)
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/evidence"
    with commits_fail(monkeypatch):
        await failed(world.http.post(url, files={"file": ("a.pdf", PDF)}, headers=member))
        keyed = {**member, "Idempotency-Key": f"up-{finding['id']}"}
        await failed(world.http.post(url, files={"file": ("b.pdf", PDF)}, headers=keyed))
    assert bucket.objects() == []
    assert stored_files(world.evidence_dir) == []
    assert (await world.http.get(url, headers=member)).json() == []


async def test_deleting_evidence_of_a_draft_removes_objects_once_that_commits(
    world: World, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = world.as_(world.member_a)
    draft, kept = await world.create(), await world.create()
    uploaded = {}
    for f, name in ((draft, "a.pdf"), (draft, "b.png"), (kept, "c.pdf")):
        resp = await world.http.post(
            f"/api/v1/findings/{f['id']}/evidence",
            files={"file": (name, PDF if name.endswith("pdf") else PNG)},
            headers=member,
        )
        assert resp.status_code == 201, resp.text
        uploaded[name] = resp.json()["id"]
    everything = bucket.objects()
    assert len(everything) == 3
    one = f"/api/v1/findings/{draft['id']}/evidence/{uploaded['a.pdf']}"
    whole = f"/api/v1/findings/{draft['id']}"

    with commits_fail(monkeypatch):
        await failed(world.http.delete(one, headers=member))
        await failed(world.http.delete(whole, headers={**member, "If-Match": '"v1"'}))
    assert bucket.objects() == everything  # the rows are still there, so are their objects
    got = await world.http.get(one, headers=member)
    assert (got.status_code, got.content) == (200, PDF)

    assert (await world.http.delete(one, headers=member)).status_code == 204
    assert bucket.objects() == sorted(object_key(bucket, uploaded[n]) for n in ("b.png", "c.pdf"))
    gone = await world.http.delete(whole, headers={**member, "If-Match": '"v1"'})
    assert gone.status_code == 204
    assert bucket.objects() == [object_key(bucket, uploaded["c.pdf"])]


def test_a_large_file_is_uploaded_in_parts(bucket: Bucket, tmp_path: Path) -> None:
    backend = S3Backend(bucket.client, BUCKET, bucket.prefix, multipart_threshold=5 * 1024 * 1024)
    body = b"%PDF-1.4\n" + b"z" * (7 * 1024 * 1024)
    tmp = tmp_path / "upload.part"
    tmp.write_bytes(body)
    sha = hashlib.sha256(body).hexdigest()
    backend.put(tmp, "ab/abcd", sha)
    head = bucket.client.head_object(Bucket=BUCKET, Key=bucket.prefix + "ab/abcd")
    assert head["ETag"].strip('"').endswith("-2")  # a multipart upload's ETag: two parts
    assert head["Metadata"] == {"sha256": sha}
    f = backend.open("ab/abcd")
    try:
        assert f.read() == body
    finally:
        f.close()
    backend.delete(["ab/abcd", "cd/never-stored"])
    assert bucket.objects() == []
    with pytest.raises(FileNotFoundError):
        backend.open("ab/abcd")


def test_s3_without_a_bucket_is_refused_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDINGS_DATABASE_URL", "postgresql+asyncpg://findings_svc@db/inspection")
    monkeypatch.setenv("FINDINGS_EVIDENCE_STORE", "s3")
    with pytest.raises(ValidationError, match="s3_bucket"):
        create_app()
    monkeypatch.setenv("FINDINGS_S3_BUCKET", BUCKET)
    monkeypatch.setenv("FINDINGS_S3_ACCESS_KEY_ID", KEY_ID)  # a key without its secret
    with pytest.raises(ValidationError, match="s3_secret_access_key"):
        FindingsSettings()
    monkeypatch.setenv("FINDINGS_S3_SECRET_ACCESS_KEY", SECRET)
    assert FindingsSettings().evidence_store == "s3"
