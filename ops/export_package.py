"""`python -m ops export-package`: asks the gateway for an export package of a round or a term,
follows the job with a progress bar, downloads the ZIP and checks it against the SHA-256 the
gateway reports (and each file against the manifest inside)."""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

POLL_SECONDS = 0.5
REGISTERS = {
    "findings": "问题台账",
    "leads": "问题线索台账",
    "rectifications": "整改事项台账",
    "suggestions": "意见建议台账",
    "rules": "建立健全制度台账",
}


class ExportFailed(Exception):
    pass


@dataclass
class Request:
    gateway: str
    username: str
    password: str
    round_id: str | None
    term_id: str | None
    recipient: str | None
    out: Path


def _check(resp: httpx.Response, *expected: int) -> Any:
    if resp.status_code not in expected:
        try:
            problem = resp.json()
            message = problem.get("detail") or problem.get("title") or resp.text
        except ValueError:
            message = resp.text
        raise ExportFailed(
            f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {message}"
        )
    return resp.json() if resp.headers.get("content-type", "").endswith("json") else None


def verify(path: Path) -> list[dict[str, Any]]:
    """Each file of the ZIP against manifest.json (SHA-256, size); the manifest's entries."""
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            digest = hashlib.sha256()
            size = 0
            with zf.open(entry["path"]) as fh:
                while chunk := fh.read(1024 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
            if digest.hexdigest() != entry["sha256"] or size != entry["bytes"]:
                raise ExportFailed(f"{entry['path']} does not match the manifest")
    files: list[dict[str, Any]] = manifest["files"]
    return files


def run(req: Request, console: Console) -> Path:
    with httpx.Client(base_url=req.gateway, timeout=60) as http:
        token = _check(
            http.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": req.username, "password": req.password},
            ),
            200,
        )["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        body = {
            k: v
            for k, v in (
                ("round_id", req.round_id),
                ("term_id", req.term_id),
                ("recipient", req.recipient),
            )
            if v
        }
        job = _check(http.post("/api/v1/exports", json=body), 202)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("排队中", total=None)
            while job["status"] in ("queued", "running"):
                time.sleep(POLL_SECONDS)
                job = _check(http.get(f"/api/v1/exports/{job['id']}"), 200)
                p = job["progress"]
                name = REGISTERS.get(p["current"] or "", p["current"] or "打包中")
                progress.update(
                    task,
                    description=f"写入 {name}" if job["status"] == "running" else "完成",
                    total=p["rows_expected"] or None,
                    completed=p["rows_written"],
                )
        if job["status"] != "done":
            raise ExportFailed(job.get("error") or job["status"])
        out = req.out / f"export-{job['id'][:8]}.zip" if req.out.is_dir() else req.out
        digest = hashlib.sha256()
        with http.stream("GET", job["download"]) as resp:
            if resp.status_code != 200:
                resp.read()
                _check(resp, 200)
            with out.open("wb") as fh:
                for chunk in resp.iter_bytes():
                    fh.write(chunk)
                    digest.update(chunk)
        if digest.hexdigest() != job["package_sha256"]:
            out.unlink(missing_ok=True)
            raise ExportFailed("the downloaded package does not match its SHA-256")
        for entry in verify(out):
            rows = f"{entry['rows']} 行" if entry.get("rows") is not None else ""
            console.print(f"  {entry['path']:<22} {rows:>10}  sha256 {entry['sha256'][:16]}…")
        # fetched and checked: the gateway need not keep it (it would delete it in an hour)
        http.delete(f"/api/v1/exports/{job['id']}")
        return out
