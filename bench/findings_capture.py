"""Recording findings: POST /api/v1/findings straight to the findings service and through the
gateway, and the offline batch (POST /api/v1/findings/batch, 500 items), in one run on one
machine. See bench/README.md for the figures.

Needs `wrk` (Debian package) and the project's virtualenv:

    apt-get install -y wrk
    make install
    PYTHONPATH=. .venv/bin/python bench/findings_capture.py [--runs 3] [--batch-runs 5]

It starts the whole system (embedded PostgreSQL, three services, gateway) in a temporary data
directory on free ports, creates an office user, and through the gateway a target, a term, a
round, a group and an assignment (as tests/e2e's `place_a_finding`); then runs `wrk` in a
separate process against

  direct   POST http://<findings>/api/v1/findings  with an internal token (minted here, 1 h,
           the claims the gateway puts in it: the user's id, name and roles)
  gateway  POST http://<gateway>/api/v1/findings   with the user's access token (login, 1 h)

each request with a fresh `Idempotency-Key` (so each one records a finding; the key has a part
drawn per wrk run, and a run that got any answer marked `Idempotent-Replayed` is refused), the
same 0.6 kB body otherwise. Either way the findings service reads the assignment, the round's
categories and the target from rounds through the gateway (three proxied GETs per finding):
"direct" leaves out only the gateway hop in front of the findings service.

At 1 connection (wrk -t1 -c1: p50 and p95 latency) and at 12 (wrk -t2 -c12: findings/s), runs of
--duration seconds after a warm-up, --runs times (direct and gateway interleaved, order
alternating), medians reported, with the CPU time per request of each process (from /proc).
Then the batch: --batch-runs requests of 500 items (each item its own `idempotency_key`),
direct and gateway alternating, timed with httpx; median seconds and items/s. Results go to
bench/results/ as JSON (gitignored).

Load generator, PostgreSQL, the services and the gateway share the machine's cores, so the
figures are ratios within one run, not capacities. As in gateway_overhead.py, a run starts
only when other work keeps fewer than --quiet cores busy (waiting up to --patience seconds) and
is repeated when other work kept twice that busy meanwhile; the medians leave the disturbed
runs out only when every measurement has at least two undisturbed ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):  # the project, and gateway_overhead.py next to this file
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from gateway_overhead import quiet_runs, wait_quiet  # noqa: E402

from gateway.app import make_signer  # noqa: E402
from gateway.identity.enums import Role  # noqa: E402
from gateway.identity.schemas import UserCreate  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from ops.pg import free_port  # noqa: E402
from ops.stack import Database, Stack  # noqa: E402
from ops.users import create_user  # noqa: E402

RESULTS = Path(__file__).parent / "results"
USERNAME = "bench"
TOKEN_TTL = 3600
BATCH = 500
APPS = ("gateway", "rounds", "findings", "referrals")
PARTS = ("gateway", "findings", "rounds", "postgres", "wrk")

# Each request a new Idempotency-Key: "<script prefix>-<wrk run>-<thread>-<n>", the run part
# from the clock and a random number, so that no two wrk invocations (warm-up, runs) share a key
# (a key seen before is replayed, not recorded). wrk's setup() numbers the threads (thread:set
# makes `tid` a global of the thread's Lua state); each thread counts the answers marked
# `Idempotent-Replayed`, and `done` adds them up. One JSON line from `done`; latencies in µs.
LUA = r"""
local path = %(path)s
local body = %(body)s
local prefix = %(prefix)s
local base = {%(headers)s}
local threads = {}
local n = 0
local run = ""
replays = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  run = os.time() .. "." .. math.random(1000000000)
end

function request()
  n = n + 1
  local headers = {}
  for k, v in pairs(base) do headers[k] = v end
  headers["Idempotency-Key"] = prefix .. "-" .. run .. "-" .. (tid or 0) .. "-" .. n
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if headers["Idempotent-Replayed"] or headers["idempotent-replayed"] then
    replays = replays + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local replayed = 0
  for _, t in ipairs(threads) do replayed = replayed + (t:get("replays") or 0) end
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "replayed": %%d, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, ' ..
    '"latency_us": {"mean": %%.1f, "p50": %%d, "p90": %%d, "p95": %%d, "p99": %%d, ' ..
    '"max": %%d}}\n',
    summary.requests, summary.duration, summary.bytes, replayed,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


@dataclass
class Run:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    cpu_ms_per_req: dict[str, float] = field(default_factory=dict)
    foreign_cores: float = 0.0
    disturbed: bool = False


@dataclass
class Cell:
    path: str
    connections: int
    runs: list[Run] = field(default_factory=list)
    only_clean: bool = False  # see use_clean_runs

    @property
    def clean(self) -> list[Run]:
        return [r for r in self.runs if not r.disturbed] if self.only_clean else self.runs

    def median(self, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in self.clean))

    def median_cpu(self, part: str) -> float:
        return float(statistics.median(r.cpu_ms_per_req.get(part, 0.0) for r in self.clean))


def use_clean_runs(cells: dict[tuple[str, int], Cell]) -> bool:
    """Medians over the undisturbed runs only when every cell has at least two of them: a
    median of one quiet run against one of five busy ones compares the machine, not the
    paths."""
    only = all(sum(not r.disturbed for r in c.runs) >= 2 for c in cells.values())
    for cell in cells.values():
        cell.only_clean = only
    return only


@dataclass
class Placed:
    assignment_id: str
    category_id: str


def finding_body(placed: Placed, n: int = 0) -> dict[str, Any]:
    """A finding as a group member types it on the phone: about 0.6 kB of JSON."""
    return {
        "assignment_id": placed.assignment_id,
        "category_id": placed.category_id,
        "title": f"村集体资金未按规定公开（压测{n}）",
        "facts": "经查阅2023年度村级财务账目，该村集体经济收入12.6万元未在村务公开栏公示，"
        "部分支出凭证缺少经办人签字，涉及扶贫项目资金3.2万元。",
        "money_involved": "32000.00",
        "source": "documents",
        "severity": "major",
        "discovered_on": (date.today() - timedelta(days=7)).isoformat(),
        "location": {"latitude": "29.716321", "longitude": "113.883410"},
        "persons": [{"name": "张某某", "position": "村党支部书记", "rank": "村（社区）干部"}],
    }


def lua_script(path: str, body: bytes, headers: dict[str, str], prefix: str) -> str:
    def q(s: str) -> str:
        return json.dumps(s)  # a JSON string is a valid Lua string literal (\uXXXX aside)

    return LUA % {
        "path": q(path),
        # the body is UTF-8 JSON; as a Lua long string it needs no escaping
        "body": "[==[" + body.decode() + "]==]",
        "prefix": q(prefix),
        "headers": ", ".join(f"[{q(k)}] = {q(v)}" for k, v in headers.items()),
    }


def setup(gateway: str, username: str, password: str) -> tuple[str, str, Placed]:
    """Logs in; through the gateway, as the office: a target, a term, a round, a group, an
    assignment, and the first of the round's categories. Returns token, user id, the place."""
    with httpx.Client(base_url=gateway, timeout=30.0) as gw:
        resp = gw.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        resp.raise_for_status()
        token = str(resp.json()["access_token"])
        gw.headers["Authorization"] = f"Bearer {token}"

        def ok(r: httpx.Response) -> dict[str, Any]:
            if r.status_code not in (200, 201):
                raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text}")
            body: dict[str, Any] = r.json()
            return body

        me = ok(gw.get("/api/v1/auth/me"))
        city = "赤壁市"
        target = ok(
            gw.post(
                "/api/v1/targets",
                json={"name": "中伙铺镇某村", "kind": "village", "jurisdiction": city},
            )
        )
        term = ok(
            gw.post(
                "/api/v1/terms",
                json={
                    "name": "第八届",
                    "starts_on": "2021-10-01",
                    "ends_on": "2026-09-30",
                    "coverage_kinds": ["village"],
                    "jurisdiction": city,
                },
            )
        )
        rnd = ok(
            gw.post(
                "/api/v1/rounds",
                json={
                    "term_id": term["id"],
                    "number": 1,
                    "name": "扶贫领域专项巡察",
                    "kind": "special",
                },
            )
        )
        group = ok(
            gw.post(
                "/api/v1/groups",
                json={
                    "round_id": rnd["id"],
                    "kind": "municipal",
                    "name": "第一巡察组",
                    "owning_organisation": "中共赤壁市委",
                },
            )
        )
        assignment = ok(
            gw.post(
                "/api/v1/assignments",
                json={
                    "round_id": rnd["id"],
                    "group_id": group["id"],
                    "target_id": target["id"],
                    "mode": "pinpoint",
                },
            )
        )
        categories = ok(gw.get(f"/api/v1/rounds/{rnd['id']}/categories"))
        items = categories["items"] if isinstance(categories, dict) else categories
        return token, str(me["id"]), Placed(assignment["id"], items[0]["id"])


def measure(
    args: argparse.Namespace,
    targets: dict[str, tuple[str, Path]],
    groups: dict[str, int],
    parents: dict[str, int],
) -> dict[tuple[str, int], Cell]:
    cells: dict[tuple[str, int], Cell] = {}
    for name, c, rep, res, meter, disturbed in quiet_runs(
        args, targets, groups, parents, timeout=30
    ):
        errors = sum(res["errors"].values())
        if errors or res["replayed"]:
            raise RuntimeError(f"{name}: wrk saw errors {res['errors']}, {res['replayed']} replays")
        lat = res["latency_us"]
        run = Run(
            rps=res["requests"] / (res["duration_us"] / 1e6),
            p50_ms=lat["p50"] / 1000,
            p95_ms=lat["p95"] / 1000,
            p99_ms=lat["p99"] / 1000,
            requests=res["requests"],
            cpu_ms_per_req=meter.per_request_ms(res["requests"]),
            foreign_cores=meter.foreign_cores(),
            disturbed=disturbed,
        )
        cells.setdefault((name, c), Cell(name, c)).runs.append(run)
        cpu = run.cpu_ms_per_req
        print(
            f"  {name:8} c={c:<3} run {rep + 1}: {run.rps:6.1f} findings/s  "
            f"p50 {run.p50_ms:7.2f} ms  p95 {run.p95_ms:7.2f} ms  CPU ms/finding "
            + " ".join(f"{p} {cpu.get(p, 0.0):.2f}" for p in PARTS)
            + f"  other load {run.foreign_cores:.2f} cores",
            flush=True,
        )
    return cells


async def batches(
    urls: dict[str, str], tokens: dict[str, str], placed: Placed, runs: int
) -> dict[str, list[float]]:
    """`runs` batches of BATCH findings per path, alternating; seconds of each."""
    seconds: dict[str, list[float]] = {name: [] for name in urls}
    async with httpx.AsyncClient(timeout=120.0) as client:
        for rep in range(runs):
            order = list(urls) if rep % 2 == 0 else list(reversed(urls))
            for name in order:
                tag = secrets.token_hex(4)
                items = [
                    {**finding_body(placed, i), "idempotency_key": f"batch-{tag}-{i}"}
                    for i in range(BATCH)
                ]
                started = time.perf_counter()
                resp = await client.post(
                    urls[name] + "/api/v1/findings/batch",
                    json={"items": items},
                    headers={"Authorization": f"Bearer {tokens[name]}"},
                )
                elapsed = time.perf_counter() - started
                if resp.status_code != 200 or resp.json().get("created") != BATCH:
                    raise RuntimeError(f"batch {name}: {resp.status_code} {resp.text[:1000]}")
                seconds[name].append(elapsed)
                print(
                    f"  batch {name:8} run {rep + 1}: {elapsed:6.2f} s  "
                    f"{BATCH / elapsed:6.0f} findings/s  ({len(resp.content) / 1024:.0f} KiB back)",
                    flush=True,
                )
    return seconds


def summarise(
    cells: dict[tuple[str, int], Cell], conns: list[int], batch: dict[str, list[float]]
) -> dict[str, Any]:
    s: dict[str, Any] = {}
    lo, hi = min(conns), max(conns)
    if ("gateway", lo) in cells and ("direct", lo) in cells:
        d, g = cells[("direct", lo)], cells[("gateway", lo)]
        for q in ("p50_ms", "p95_ms"):
            s[f"{q[:3]} gateway/direct at {lo} connection"] = round(g.median(q) / d.median(q), 3)
            s[f"{q[:3]} added by the gateway at {lo} connection (ms)"] = round(
                g.median(q) - d.median(q), 2
            )
    if ("gateway", hi) in cells and ("direct", hi) in cells:
        d, g = cells[("direct", hi)], cells[("gateway", hi)]
        s[f"findings/s gateway/direct at {hi} connections"] = round(
            g.median("rps") / d.median("rps"), 3
        )
    for name, secs in batch.items():
        if secs:
            med = statistics.median(secs)
            s[f"batch of {BATCH} {name}: median s"] = round(med, 3)
            s[f"batch of {BATCH} {name}: findings/s"] = round(BATCH / med, 1)
    if batch.get("gateway") and batch.get("direct"):
        s["batch gateway/direct (time)"] = round(
            statistics.median(batch["gateway"]) / statistics.median(batch["direct"]), 3
        )
    if batch.get("gateway") and ("gateway", hi) in cells:
        s[f"batch findings/s over single POSTs at {hi} connections (gateway)"] = round(
            BATCH / statistics.median(batch["gateway"]) / cells[("gateway", hi)].median("rps"), 1
        )
    return s


def print_table(cells: dict[tuple[str, int], Cell], summary: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    print(
        f"{'path':8} {'conns':>5} {'finds/s':>8} {'p50 ms':>8} {'p95 ms':>8}   "
        "CPU ms/finding: " + " ".join(f"{p:>8}" for p in PARTS) + "   findings/s of each run"
    )
    for (path, conns), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"{path:8} {conns:>5} {cell.median('rps'):>8.1f} {cell.median('p50_ms'):>8.2f} "
            f"{cell.median('p95_ms'):>8.2f}   {'':16}"
            + " ".join(f"{cell.median_cpu(p):>8.2f}" for p in PARTS)
            + "   "
            + ", ".join(f"{r.rps:.1f}{'*' if r.disturbed else ''}" for r in cell.runs)
        )
    if any(r.disturbed for cell in cells.values() for r in cell.runs):
        some = next(iter(cells.values())).only_clean
        print(
            "* disturbed by other work on the machine; "
            + ("left out of the medians" if some else "too few quiet runs: medians of all runs")
        )
    print()
    for key, value in summary.items():
        print(f"{key:66} {value}")


def git_rev() -> str:
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "gateway", "services"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (rev or "unknown") + ("+changes" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per path")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each wrk measurement")
    parser.add_argument("--connections", default="1,12", help="comma-separated wrk -c values")
    parser.add_argument("--batch-runs", type=int, default=5, help="batches of 500 per path")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch")
    parser.add_argument("--label", default="", help="name of the configuration under test")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.25,
        help="start a run when other work keeps < N cores busy; repeat it when other work "
        "kept 2N cores busy during it",
    )
    parser.add_argument("--patience", type=float, default=120, help="seconds to wait for quiet")
    parser.add_argument("--retries", type=int, default=3, help="repetitions of a disturbed run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    args = parser.parse_args()
    args.conns = [int(c) for c in args.connections.split(",")]

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # so that the stack is stopped

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="bench-findings-"))
    data_dir, log_dir = tmp / "data", tmp / "logs"
    ports = {a: free_port() for a in APPS}
    db = Database(data_dir=data_dir, pg_port=free_port())
    stack = Stack(
        db=db,
        ports=ports,
        log_dir=log_dir,
        extra_env={"GATEWAY_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL)},
    )
    batch: dict[str, list[float]] = {}
    try:
        print(f"starting PostgreSQL and the stack under {tmp} …", flush=True)
        db.start()
        password = secrets.token_urlsafe(16)
        user = UserCreate(
            username=USERNAME, display_name="压测", password=password, roles=[Role.office]
        )
        asyncio.run(create_user(db.urls["gateway"], data_dir, user))
        stack.start()
        print("a target, term, round, group and assignment through the gateway …", flush=True)
        access, user_id, placed = setup(stack.url("gateway"), USERNAME, password)

        signer = make_signer(
            GatewaySettings(
                database_url=db.urls["gateway"],
                signing_key_file=data_dir / "keys" / "gateway-signing.pem",
            )
        )
        claims = {
            "sub": user_id,
            "name": USERNAME,
            "roles": [Role.office.value],
            "groups": [],
            "rid": "bench-direct",
        }
        internal = signer.sign(claims, audience="findings", ttl=TOKEN_TTL)
        urls = {"direct": stack.url("findings"), "gateway": stack.url("gateway")}
        tokens = {"direct": internal, "gateway": access}
        body = json.dumps(finding_body(placed), ensure_ascii=False).encode()
        targets: dict[str, tuple[str, Path]] = {}
        for name, base in urls.items():
            auth = {"Authorization": f"Bearer {tokens[name]}"}
            r = httpx.post(
                base + "/api/v1/findings",
                content=body,
                headers={**auth, "Content-Type": "application/json", "Idempotency-Key": name},
            )
            if r.status_code != 201:
                raise RuntimeError(f"{name}: {r.status_code} {r.text}")
            script = tmp / f"{name}.lua"
            headers = {
                "Host": base.removeprefix("http://"),
                "Content-Type": "application/json",
                **auth,
            }
            prefix = f"{name}-{uuid.uuid4().hex[:12]}"
            script.write_text(lua_script("/api/v1/findings", body, headers, prefix))
            targets[name] = (base, script)

        groups = {app: proc.pid for app, proc in stack.procs.items()}  # each its own session
        parents: dict[str, int] = {}
        postmaster = data_dir / "pg" / "pgdata" / "postmaster.pid"
        if postmaster.exists():
            parents["postgres"] = int(postmaster.read_text().split()[0])
        cells = measure(args, targets, groups, parents)
        clean_only = use_clean_runs(cells)
        if not args.no_batch:
            print(f"batches of {BATCH} findings, {args.batch_runs} per path …", flush=True)
            wait_quiet(groups, parents, args.quiet, args.patience)
            batch = asyncio.run(batches(urls, tokens, placed, args.batch_runs))
    finally:
        stack.stop()
        db.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    summary = summarise(cells, args.conns, batch)
    title = (
        f"POST /api/v1/findings (a new Idempotency-Key each), direct to the findings service vs "
        f"through the gateway ({args.label or 'unlabelled'}; median of {args.runs} runs of "
        f"{args.duration} s; {os.cpu_count()} CPUs shared by wrk, PostgreSQL, services, gateway)"
    )
    print_table(cells, summary, title)

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"findings_capture-{stamp}{'-' + args.label if args.label else ''}.json"
    result = {
        "label": args.label,
        "when": stamp,
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "git": git_rev(),
            "note": "wrk, PostgreSQL, the services and the gateway share these cores",
        },
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "runs": args.runs,
            "connections": args.conns,
            "batch_runs": args.batch_runs,
            "request_bytes": len(body),
        },
        "cells": [
            {
                "path": cell.path,
                "connections": cell.connections,
                "median": {
                    "findings_per_s": cell.median("rps"),
                    "p50_ms": cell.median("p50_ms"),
                    "p95_ms": cell.median("p95_ms"),
                    "p99_ms": cell.median("p99_ms"),
                    "cpu_ms_per_req": {p: cell.median_cpu(p) for p in cell.runs[0].cpu_ms_per_req},
                },
                "runs": [asdict(r) for r in cell.runs],
            }
            for cell in cells.values()
        ],
        "medians_of": "undisturbed runs" if clean_only else "all runs",
        "batch_seconds": batch,
        "summary": summary,
    }
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
