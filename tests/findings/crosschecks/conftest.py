"""Cross-checks in-process: the findings app (with its job runner) on the real PostgreSQL,
rounds played by the fake of tests/findings. Files are made here, row by row."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Any

import pytest

from services.findings.idnumber import check_character
from tests.findings.conftest import World


def person_id(n: int, born: str = "19800101", region: str = "421281") -> str:
    """A valid resident ID number, distinct for each `n` (< 1000 per birth date)."""
    first = f"{region}{born}{n % 1000:03d}"
    return first + check_character(first)


def wrong_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


def csv_bytes(header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


async def wait_job(world: World, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        resp = await world.http.get(f"/api/v1/crosschecks/jobs/{job_id}", headers=headers)
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        if job["state"] in ("done", "failed"):
            return job
        assert asyncio.get_running_loop().time() < deadline, job
        await asyncio.sleep(0.05)


async def upload(
    world: World,
    data: bytes,
    *,
    kind: str,
    dataset: str | None = None,
    filename: str = "data.csv",
    headers: dict[str, str] | None = None,
    **params: Any,
) -> tuple[int, dict[str, Any]]:
    """(status of the POST, the finished job or the problem)."""
    headers = headers or world.office
    query = {"dataset": dataset or f"数据集{uuid.uuid4().hex[:6]}", "kind": kind, **params}
    resp = await world.http.post(
        "/api/v1/datasets", params=query, files={"file": (filename, data)}, headers=headers
    )
    if resp.status_code != 202:
        return resp.status_code, resp.json()
    return 202, await wait_job(world, resp.json()["id"], headers)


async def imported(world: World, data: bytes, *, kind: str, **params: Any) -> str:
    """The id of the new dataset version (the import must succeed)."""
    status, job = await upload(world, data, kind=kind, **params)
    assert status == 202, job
    assert job["state"] == "done", (job["error"], job["result"])
    return str(job["result"]["dataset_version_id"])


async def run(
    world: World, versions: list[str], rules: list[dict[str, Any]], round_id: str | None = None
) -> dict[str, Any]:
    resp = await world.http.post(
        "/api/v1/crosschecks/runs",
        json={
            "round_id": round_id or world.round_id,
            "dataset_version_ids": versions,
            "rules": rules,
        },
        headers=world.office,
    )
    assert resp.status_code == 202, resp.text
    job = await wait_job(world, resp.json()["job"]["id"], world.office)
    assert job["state"] == "done", (job["error"], job["result"])
    return resp.json()  # type: ignore[no-any-return]


async def hits(world: World, run_id: str, **params: Any) -> list[dict[str, Any]]:
    resp = await world.http.get(
        f"/api/v1/crosschecks/runs/{run_id}/hits",
        params={"limit": 200, **params},
        headers=world.office,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
def fast_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDINGS_CROSSCHECK_POLL_SECONDS", "0.05")
    monkeypatch.setenv("FINDINGS_CROSSCHECK_RENEW_SECONDS", "0.2")
