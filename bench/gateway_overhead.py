"""What the gateway costs: the same database-backed GET, straight to the rounds service and
through the gateway, in one run on one machine. See bench/README.md for the figures.

Needs `wrk` (Debian package) and the project's virtualenv:

    apt-get install -y wrk
    make install
    make bench            # or: PYTHONPATH=. .venv/bin/python bench/gateway_overhead.py --help

It starts the whole system (embedded PostgreSQL, three services, gateway) in a temporary data
directory on free ports, creates a user and 1000 targets through the API, then runs `wrk` in a
separate process against

  direct   GET http://<rounds>/api/v1/targets/<id>   with an internal token (minted here, 1 h)
  gateway  GET http://<gateway>/api/v1/targets/<id>  with an access token (login, 1 h)

cycling over the 1000 ids, at 1 connection (wrk -t1 -c1) and at 32 (wrk -t2 -c32). Each
measurement is repeated (--runs, default 3; direct and gateway interleaved, order alternating)
and the median is reported: requests/s, p50 and p99 latency, the CPU time per request of the
gateway, the service, PostgreSQL and wrk (from /proc and getrusage), the throughput ratio
gateway/direct at 32 connections and the p50 the gateway adds at 1 connection. Results go to
bench/results/ as JSON (gitignored).

`--upstream stub` puts bench/stub_service.py (no work at all) on the rounds port after seeding,
which shows the gateway's own cost; `--gateway-workers N` runs the gateway with uvicorn
--workers N.

Load generator, PostgreSQL, the service and the gateway share the machine's cores, so the
figures are ratios within one run, not capacities. A run starts only when other work on the
machine keeps fewer than --quiet cores busy (waiting up to --patience seconds) and is repeated
(up to --retries times) when other work kept twice that busy meanwhile; runs that stay
disturbed are marked and left out of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.app import make_signer  # noqa: E402
from gateway.identity.enums import Role  # noqa: E402
from gateway.identity.schemas import UserCreate  # noqa: E402
from gateway.proxy import transport as proxy_transport  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from ops.pg import free_port  # noqa: E402
from ops.stack import Database, Stack  # noqa: E402
from ops.users import create_user  # noqa: E402

RESULTS = Path(__file__).parent / "results"
USERNAME = "bench"
TARGETS = 1000
TOKEN_TTL = 3600

# wrk prints one JSON line from the `done` hook; latencies are in microseconds.
LUA = r"""
local paths = {%(paths)s}
local headers = {%(headers)s}
local reqs = {}
local n = 0

function init(args)
  for i, p in ipairs(paths) do
    reqs[i] = wrk.format("GET", p, headers)
  end
  n = math.random(#reqs)
end

function request()
  n = n %% #reqs + 1
  return reqs[n]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, ' ..
    '"latency_us": {"mean": %%.1f, "p50": %%d, "p90": %%d, "p99": %%d, "max": %%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""


@dataclass
class Run:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms_per_req: dict[str, float] = field(default_factory=dict)
    foreign_cores: float = 0.0
    disturbed: bool = False  # other work kept >= 2 x --quiet cores busy during it


@dataclass
class Cell:
    path: str
    connections: int
    runs: list[Run] = field(default_factory=list)

    @property
    def clean(self) -> list[Run]:
        """The runs other work did not disturb (all of them if every one was disturbed)."""
        return [r for r in self.runs if not r.disturbed] or self.runs

    def median(self, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in self.clean))

    def median_cpu(self, app: str) -> float:
        return float(statistics.median(r.cpu_ms_per_req.get(app, 0.0) for r in self.clean))


def lua_script(paths: list[str], headers: dict[str, str]) -> str:
    def q(s: str) -> str:
        return json.dumps(s)  # a JSON string is a valid Lua string literal for ASCII

    return LUA % {
        "paths": ", ".join(q(p) for p in paths),
        "headers": ", ".join(f"[{q(k)}] = {q(v)}" for k, v in headers.items()),
    }


def _stat(pid: str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def cpu_ticks(groups: dict[str, int], parents: dict[str, int]) -> dict[str, int]:
    """utime+stime (clock ticks) of live processes: by process group (`groups`: name -> pgid)
    or by parent (`parents`: name -> pid; the process and its children, e.g. PostgreSQL's
    postmaster and its backends, which each start their own session)."""
    by_group = {pg: name for name, pg in groups.items()}
    by_parent = {pid: name for name, pid in parents.items()}
    out = dict.fromkeys([*groups, *parents], 0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (fields := _stat(entry)) is None:
            continue
        ppid, pgrp, ticks = int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12])
        name = by_group.get(pgrp) or by_parent.get(ppid) or by_parent.get(int(entry))
        if name is not None:
            out[name] += ticks
    return out


def children_ticks() -> float:
    """CPU seconds of the children this process has waited for (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_stat() -> tuple[int, int]:
    """All CPUs' busy ticks (user, nice, system, irq, softirq, steal) and irq+softirq ticks."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return user + nice + system + irq + softirq + steal, irq + softirq


def process_group(pid: int) -> int:
    fields = _stat(str(pid))
    assert fields is not None, f"no process {pid}"
    return int(fields[2])


class CpuMeter:
    """CPU time per request of each part of the system over one wrk run, and how many cores
    something else on the machine kept busy meanwhile (a noisy neighbour spoils a run)."""

    def __init__(self, groups: dict[str, int], parents: dict[str, int]) -> None:
        self.groups = groups
        self.parents = parents
        self.tick_s = 1.0 / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuMeter:
        self.t0 = time.monotonic()
        self.stat0 = cpu_stat()
        self.ticks0 = cpu_ticks(self.groups, self.parents)
        self.children0 = children_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.t0
        busy, irq = cpu_stat()
        ticks = cpu_ticks(self.groups, self.parents)
        self.seconds = {name: (ticks[name] - self.ticks0[name]) * self.tick_s for name in ticks}
        self.seconds["wrk"] = children_ticks() - self.children0
        self.seconds["irq"] = (irq - self.stat0[1]) * self.tick_s
        self.busy = (busy - self.stat0[0]) * self.tick_s

    def per_request_ms(self, requests: int) -> dict[str, float]:
        n = max(requests, 1)
        return {name: sec * 1000.0 / n for name, sec in self.seconds.items()}

    def foreign_cores(self) -> float:
        """Cores kept busy by anything not part of this benchmark."""
        return max(self.busy - sum(self.seconds.values()), 0.0) / max(self.elapsed, 1e-9)


def wait_quiet(
    groups: dict[str, int], parents: dict[str, int], limit: float, patience: float
) -> float:
    """Waits (up to `patience` seconds) until other work on the machine keeps fewer than
    `limit` cores busy; returns the last reading."""
    deadline = time.monotonic() + patience
    while True:
        with CpuMeter(groups, parents) as meter:
            time.sleep(1.0)
        load = meter.foreign_cores()
        if load < limit or time.monotonic() > deadline:
            if load >= limit:
                print(f"  (machine still busy: {load:.2f} cores of other work)", flush=True)
            return load
        print(f"  waiting: other work keeps {load:.2f} cores busy", flush=True)


def wrk(
    url: str, script: Path, connections: int, threads: int, seconds: int, timeout: int = 5
) -> dict[str, Any]:
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s",
        "-s", str(script), url,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("WRKJSON "):
            result: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
            return result
    raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


class GatewayWorkersStack(Stack):
    """The stack with `--workers N` for the gateway's uvicorn (a configuration under test)."""

    gateway_workers: int = 1

    def start_app(self, app: str) -> subprocess.Popen[bytes]:
        if app != "gateway" or self.gateway_workers <= 1:
            return super().start_app(app)
        cmd = [
            sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.ports[app]),
            "--loop", "uvloop", "--http", "httptools", "--workers", str(self.gateway_workers),
            "--no-server-header", "--no-access-log", "--timeout-graceful-shutdown", "5",
        ]  # fmt: skip
        assert self.log_dir is not None
        out = open(self.log_dir / "gateway.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env_for(app), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs[app] = proc
        return proc


async def seed(gateway: str, username: str, password: str, count: int) -> tuple[str, list[str]]:
    """Logs in and creates `count` targets through the gateway; returns token and ids."""
    async with httpx.AsyncClient(base_url=gateway, timeout=30.0) as client:
        resp = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        resp.raise_for_status()
        token = str(resp.json()["access_token"])
        headers = {"Authorization": f"Bearer {token}"}
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> str:
            async with sem:
                r = await client.post(
                    "/api/v1/targets",
                    headers=headers,
                    json={
                        "name": f"压测单位 {i:05d}",
                        "kind": "enterprise",
                        "jurisdiction": "赤壁市",
                    },
                )
                r.raise_for_status()
                return str(r.json()["id"])

        ids = await asyncio.gather(*(one(i) for i in range(count)))
        return token, list(ids)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for mod in ("aiohttp", "uvicorn", "httptools", "uvloop", "starlette", "jwt"):
        with contextlib.suppress(ImportError, AttributeError):
            versions[mod] = str(__import__(mod).__version__)
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "gateway/proxy"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": re.sub(r"\s+", " ", wrk_version.splitlines()[0]) if wrk_version else "",
        "versions": versions,
        "git": rev + ("+proxy-changes" if dirty else ""),
        "transport": (proxy_transport.__doc__ or "").split("\n", 1)[0],
        "note": "load generator, PostgreSQL, rounds service and gateway share these cores",
    }


PARTS = ("gateway", "rounds", "postgres", "wrk")


def print_table(title: str, cells: dict[tuple[str, int], Cell], summary: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(
        f"{'path':8} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   "
        f"{'CPU ms/request: gateway':>23} {'service':>8} {'postgres':>8} {'wrk':>6}   "
        "req/s of each run"
    )
    for (path, conns), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cpu = {part: cell.median_cpu(part) for part in PARTS}
        gw = f"{cpu['gateway']:.3f}" if path == "gateway" else "-"
        print(
            f"{path:8} {conns:>5} {cell.median('rps'):>8.0f} {cell.median('p50_ms'):>8.3f} "
            f"{cell.median('p99_ms'):>8.3f}   {gw:>23} {cpu['rounds']:>8.3f} "
            f"{cpu['postgres']:>8.3f} {cpu['wrk']:>6.3f}   "
            + ", ".join(f"{r.rps:.0f}{'*' if r.disturbed else ''}" for r in cell.runs)
        )
    if any(r.disturbed for cell in cells.values() for r in cell.runs):
        print("* disturbed by other work on the machine; left out of the medians")
    print()
    for key, value in summary.items():
        print(f"{key:58} {value}")


def summarise(cells: dict[tuple[str, int], Cell], conns: list[int]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    hi, lo = max(conns), min(conns)
    if ("gateway", hi) in cells and ("direct", hi) in cells:
        ratio = cells[("gateway", hi)].median("rps") / cells[("direct", hi)].median("rps")
        summary[f"throughput gateway/direct at {hi} connections"] = round(ratio, 3)
        summary["  goal >= 0.60"] = "met" if ratio >= 0.6 else "NOT met"
    if ("gateway", lo) in cells and ("direct", lo) in cells:
        added = cells[("gateway", lo)].median("p50_ms") - cells[("direct", lo)].median("p50_ms")
        summary[f"p50 added by the gateway at {lo} connection (ms)"] = round(added, 3)
        summary["  goal <= 0.40 ms"] = "met" if added <= 0.4 else "NOT met"
    return summary


def start_stub(stack: Stack, log_dir: Path) -> None:
    """Replaces the rounds service by bench/stub_service.py on the same port."""
    stack.stop_app("rounds")
    cmd = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
        "stub_service:app", "--host", "127.0.0.1", "--port", str(stack.ports["rounds"]),
        "--loop", "uvloop", "--http", "httptools", "--no-server-header", "--no-access-log",
    ]  # fmt: skip
    out = open(log_dir / "stub.log", "ab")  # noqa: SIM115 - lives with the process
    stack.procs["rounds"] = subprocess.Popen(
        cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(stack.url("rounds") + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the stub service did not start")


def start_bare_gateway(stack: Stack, log_dir: Path) -> str:
    """A second gateway, observability off, same database and keys, on its own port."""
    port = free_port()
    env = {
        **stack.env_for("gateway"),
        "GATEWAY_OBSERVABILITY": "false",
        "GATEWAY_HUB_DISPATCH": "false",
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-server-header", "--no-access-log", "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip
    out = open(log_dir / "gateway-bare.log", "ab")  # noqa: SIM115 - lives with the process
    stack.procs["bare"] = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return url
        time.sleep(0.1)
    raise RuntimeError("the second gateway did not start")


def quiet_runs(
    args: argparse.Namespace,
    targets: dict[str, tuple[str, Path]],
    groups: dict[str, int],
    parents: dict[str, int],
    timeout: int = 5,
) -> Iterator[tuple[str, int, int, dict[str, Any], CpuMeter, bool]]:
    """wrk runs, the targets interleaved (order alternating), each after a quiet check and
    repeated (up to --retries) when other work disturbed it: (target, connections, repetition,
    wrk's result, the CPU meter, disturbed) of each run kept."""
    for c in args.conns:
        threads = 1 if c == 1 else 2
        for base, script in targets.values():
            wrk(base + "/", script, c, threads, args.warmup)
        for rep in range(args.runs):
            order = list(targets) if rep % 2 == 0 else list(reversed(targets))
            for name in order:
                base, script = targets[name]
                for attempt in range(1, args.retries + 2):
                    wait_quiet(groups, parents, args.quiet, args.patience)
                    with CpuMeter(groups, parents) as meter:
                        res = wrk(base + "/", script, c, threads, args.duration, timeout=timeout)
                    disturbed = meter.foreign_cores() >= 2 * args.quiet
                    if not disturbed or attempt > args.retries:
                        break
                    print(
                        f"  {name:8} c={c:<3} run {rep + 1}: disturbed by other work "
                        f"({meter.foreign_cores():.2f} cores), repeated",
                        flush=True,
                    )
                yield name, c, rep, res, meter, disturbed


def measure(
    args: argparse.Namespace,
    targets: dict[str, tuple[str, Path]],
    groups: dict[str, int],
    parents: dict[str, int],
) -> dict[tuple[str, int], Cell]:
    cells: dict[tuple[str, int], Cell] = {}
    for name, c, rep, res, meter, disturbed in quiet_runs(args, targets, groups, parents):
        errors = sum(res["errors"].values())
        if errors:
            raise RuntimeError(f"{name}: wrk saw errors {res['errors']}")
        lat = res["latency_us"]
        run = Run(
            rps=res["requests"] / (res["duration_us"] / 1e6),
            p50_ms=lat["p50"] / 1000,
            p90_ms=lat["p90"] / 1000,
            p99_ms=lat["p99"] / 1000,
            requests=res["requests"],
            errors=errors,
            cpu_ms_per_req=meter.per_request_ms(res["requests"]),
            foreign_cores=meter.foreign_cores(),
            disturbed=disturbed,
        )
        cells.setdefault((name, c), Cell(name, c)).runs.append(run)
        cpu = run.cpu_ms_per_req
        print(
            f"  {name:8} c={c:<3} run {rep + 1}: {run.rps:7.0f} req/s  "
            f"p50 {run.p50_ms:7.3f} ms  p99 {run.p99_ms:7.3f} ms  CPU ms/req "
            f"gateway {cpu['gateway']:.3f} service {cpu['rounds']:.3f} "
            f"postgres {cpu.get('postgres', 0.0):.3f} wrk {cpu['wrk']:.3f}  "
            f"other load {run.foreign_cores:.2f} cores",
            flush=True,
        )
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per path")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each measurement")
    parser.add_argument("--connections", default="1,32", help="comma-separated wrk -c values")
    parser.add_argument("--targets", type=int, default=TARGETS, help="rows to create and read")
    parser.add_argument(
        "--upstream",
        choices=("rounds", "stub"),
        default="rounds",
        help="rounds: the real service (default); stub: bench/stub_service.py on its port",
    )
    parser.add_argument("--gateway-workers", type=int, default=1, help="uvicorn --workers")
    parser.add_argument("--label", default="", help="name of the configuration under test")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.25,
        help="start a run when other work keeps < N cores busy; repeat it (twice at most) "
        "when other work kept 2N cores busy during it",
    )
    parser.add_argument("--patience", type=float, default=300, help="seconds to wait for quiet")
    parser.add_argument(
        "--retries", type=int, default=5, help="repetitions of a run other work disturbed"
    )
    parser.add_argument(
        "--observability-off-too",
        action="store_true",
        help="also run a second gateway with GATEWAY_OBSERVABILITY=false (no metrics, spans or "
        "access lines) and measure it in the same runs: the cost of observability",
    )
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

    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    data_dir, log_dir = tmp / "data", tmp / "logs"
    ports = {a: free_port() for a in ("gateway", "rounds", "findings", "referrals")}
    db = Database(data_dir=data_dir, pg_port=free_port())
    stack = GatewayWorkersStack(
        db=db,
        ports=ports,
        log_dir=log_dir,
        extra_env={"GATEWAY_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL)},
    )
    stack.gateway_workers = args.gateway_workers
    try:
        print(f"starting PostgreSQL and the stack under {tmp} …", flush=True)
        db.start()
        password = secrets.token_urlsafe(16)
        user = UserCreate(
            username=USERNAME, display_name="压测", password=password, roles=[Role.office]
        )
        asyncio.run(create_user(db.urls["gateway"], data_dir, user))
        stack.start()
        print(f"creating {args.targets} targets through the gateway …", flush=True)
        access, ids = asyncio.run(seed(stack.url("gateway"), USERNAME, password, args.targets))
        if args.upstream == "stub":
            start_stub(stack, log_dir)

        signer = make_signer(
            GatewaySettings(
                database_url=db.urls["gateway"],
                signing_key_file=data_dir / "keys" / "gateway-signing.pem",
            )
        )
        claims = {
            "sub": "bench",
            "name": USERNAME,
            "roles": [Role.office.value],
            "groups": [],
            "rid": "bench-direct",
        }
        internal = signer.sign(claims, audience="rounds", ttl=TOKEN_TTL)
        paths = [f"/api/v1/targets/{i}" for i in ids]
        targets: dict[str, tuple[str, Path]] = {}
        bodies = {}
        candidates = [
            ("direct", stack.url("rounds"), internal),
            ("gateway", stack.url("gateway"), access),
        ]
        if args.observability_off_too:
            candidates.append(("bare", start_bare_gateway(stack, log_dir), access))
        for name, base, token in candidates:
            r = httpx.get(base + paths[0], headers={"Authorization": f"Bearer {token}"})
            if r.status_code != 200:
                raise RuntimeError(f"{name}: {r.status_code} {r.text}")
            bodies[name] = r.content
            script = tmp / f"{name}.lua"
            host = base.removeprefix("http://")
            script.write_text(lua_script(paths, {"Host": host, "Authorization": f"Bearer {token}"}))
            targets[name] = (base, script)
        if any(body != bodies["direct"] for body in bodies.values()):
            raise RuntimeError("direct and gateway answers differ")

        groups = {app: proc.pid for app, proc in stack.procs.items()}  # each its own session
        parents: dict[str, int] = {}
        postmaster = data_dir / "pg" / "pgdata" / "postmaster.pid"
        if postmaster.exists():
            parents["postgres"] = int(postmaster.read_text().split()[0])
        cells = measure(args, targets, groups, parents)
    finally:
        stack.stop()
        db.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    summary = summarise(cells, args.conns)
    if args.observability_off_too:
        lo, hi = min(args.conns), max(args.conns)
        on, off = cells[("gateway", hi)].median("rps"), cells[("bare", hi)].median("rps")
        summary[f"observability on/off throughput at {hi} connections"] = round(on / off, 3)
        cost = cells[("gateway", lo)].median("p50_ms") - cells[("bare", lo)].median("p50_ms")
        summary[f"p50 observability adds at {lo} connection (ms)"] = round(cost, 3)
        cpu_on = cells[("gateway", hi)].median_cpu("gateway")
        cpu_off = cells[("bare", hi)].median_cpu("bare")
        summary[f"gateway CPU ms/request on / off at {hi} connections"] = (
            f"{cpu_on:.3f} / {cpu_off:.3f}"
        )
    upstream = "the rounds service" if args.upstream == "rounds" else "the stub service"
    title = (
        f"GET /api/v1/targets/<id>, direct to {upstream} vs through the gateway "
        f"({args.label or 'unlabelled'}; median of {args.runs} runs of {args.duration} s; "
        f"{os.cpu_count()} CPUs shared by wrk, PostgreSQL, service and gateway)"
    )
    print_table(title, cells, summary)

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", args.label) or "run"
    out = RESULTS / f"gateway_overhead-{stamp}-{args.upstream}-{label}.json"
    result = {
        "label": args.label,
        "when": stamp,
        "machine": machine(),
        "settings": {
            "upstream": args.upstream,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "runs": args.runs,
            "targets": args.targets,
            "gateway_workers": args.gateway_workers,
            "request": "GET /api/v1/targets/<id>, cycling over the ids",
        },
        "cells": [
            {
                "path": cell.path,
                "connections": cell.connections,
                "median": {
                    "rps": cell.median("rps"),
                    "p50_ms": cell.median("p50_ms"),
                    "p90_ms": cell.median("p90_ms"),
                    "p99_ms": cell.median("p99_ms"),
                    "cpu_ms_per_req": {p: cell.median_cpu(p) for p in cell.runs[0].cpu_ms_per_req},
                },
                "runs": [asdict(r) for r in cell.runs],
            }
            for cell in cells.values()
        ],
        "summary": summary,
    }
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
