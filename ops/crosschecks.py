"""The cross-check commands of `python -m ops` (import-dataset, run-crosscheck): through the
gateway as a signed-in user, each following its job (`/api/v1/crosschecks/jobs/{id}`) with a
progress bar."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn
from rich.table import Table


def signed_in(console: Console, gateway: str, user: str, password: str, token: str) -> httpx.Client:
    """A client on the gateway with a token: the one given, or the user's login."""
    base = gateway.rstrip("/")
    if not token:
        if not user:
            console.print("[red]give --token, or --user and --password[/]")
            raise SystemExit(2)
        resp = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"grant_type": "password", "username": user, "password": password},
            timeout=30,
        )
        if resp.status_code != 200:
            console.print(f"[red]login refused[/]: {resp.status_code} {resp.text}")
            raise SystemExit(1)
        token = resp.json()["access_token"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300)


def follow(
    console: Console, client: httpx.Client, job: dict[str, Any], what: str
) -> dict[str, Any]:
    """Polls the job under a progress bar until it is done or failed."""
    columns = (*Progress.get_default_columns()[:1], BarColumn(), TaskProgressColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(what, total=100)
        while job["state"] not in ("done", "failed"):
            time.sleep(0.5)
            resp = client.get(f"/api/v1/crosschecks/jobs/{job['id']}")
            if resp.status_code != 200:
                console.print(f"[red]cannot read the job[/]: {resp.status_code} {resp.text}")
                raise SystemExit(1)
            job = resp.json()
            done = f"{job['processed']:,}" + (f"/{job['total']:,}" if job.get("total") else "")
            bar.update(task, completed=job["percent"], description=f"{what} {done}")
        bar.update(task, completed=100 if job["state"] == "done" else job["percent"])
    return job


def report(console: Console, error: dict[str, Any]) -> None:
    """A failure, with the bad rows of a rejected import (the first 50 of those listed)."""
    console.print(f"[red]{error.get('title', 'failed')}[/]: {error.get('detail', '')}")
    rows = error.get("errors") or []
    if rows:
        table = Table("行 row", "列 column", "原因 reason")
        for e in rows[:50]:
            table.add_row(str(e.get("row", "")), e.get("column", ""), e.get("message", ""))
        console.print(table)
        console.print(
            f"{error.get('rejected_rows', len(rows)):,} bad rows; the job lists the first "
            f"{len(rows):,}, {min(len(rows), 50)} shown"
        )


def import_dataset(
    console: Console,
    client: httpx.Client,
    file: Path,
    kind: str,
    dataset: str,
    round_id: str,
    mapping: str,
    partial: bool,
) -> bool:
    params = {"dataset": dataset, "kind": kind, "partial": str(partial).lower()}
    if round_id:
        params["round_id"] = round_id
    if mapping:
        params["mapping"] = mapping
    with file.open("rb") as f:  # httpx streams it, with its length
        resp = client.post("/api/v1/datasets", params=params, files={"file": (file.name, f)})
    if resp.status_code != 202:
        console.print(f"[red]refused[/] ({resp.status_code}): {resp.text}")
        return False
    job = follow(console, client, resp.json(), "importing")
    if job["state"] != "done":
        report(console, job.get("error") or {})
        return False
    result = job["result"]
    console.print(
        f"[green]imported[/] {result['rows']:,} rows as {result['dataset']} v{result['version']} "
        f"({result['dataset_version_id']}); {result['rejected_rows']:,} rejected"
    )
    if result["rejected_rows"]:
        report(console, {"title": "rows left out", "errors": result["errors"],
                         "rejected_rows": result["rejected_rows"]})  # fmt: skip
    return True


def run(
    console: Console,
    client: httpx.Client,
    round_id: str,
    datasets: list[str],
    rules: list[str],
    params: str,
    title: str,
) -> bool:
    chosen = json.loads(params) if params else {}
    body = {
        "round_id": round_id,
        "title": title,
        "dataset_version_ids": datasets,
        "rules": [{"code": code, "params": chosen.get(code, {})} for code in rules],
    }
    resp = client.post("/api/v1/crosschecks/runs", json=body)
    if resp.status_code != 202:
        console.print(f"[red]refused[/] ({resp.status_code}): {resp.text}")
        return False
    started = resp.json()
    job = follow(console, client, started["job"], "running")
    if job["state"] != "done":
        report(console, job.get("error") or {})
        return False
    hits = client.get(f"/api/v1/crosschecks/runs/{started['id']}/hits", params={"limit": 20})
    console.print(f"[green]done[/]: {job['result']['hits']:,} hits (run {started['id']})")
    table = Table("规则 rule", "疑点 subject", "行 rows")
    for hit in hits.json()["items"]:
        table.add_row(hit["rule_code"], hit["subject"], str(len(hit["rows"])))
    console.print(table)
    return True
