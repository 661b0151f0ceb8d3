"""Export packages and the dashboard at 100,000 findings. Run by hand (not by CI), about 15
minutes on the 2-core machine:

    make install
    apt-get install -y postgresql-client   # not needed: COPY is run through asyncpg
    PYTHONPATH=. .venv/bin/python bench/exports.py [--findings 100000] [--small 10000] [--runs 3]

It starts the whole system (embedded PostgreSQL, the three services, the gateway) in a temporary
directory on free ports, creates through the API a term with two rounds (a big one and a small
one), their groups, assignments and checklists, then loads the findings straight into the
findings schema with set-based SQL (one INSERT … SELECT FROM generate_series; every value a
function of the row number, so each run loads the same rows; 2% drafts, which a package leaves
out; persons involved on every third finding) and VACUUM (ANALYZE)s them, as autovacuum would.

Measured, each the median of --runs (the order of the variants alternating between runs):

1. the findings register of the big round:
   - reference: `COPY (SELECT … the same rows and columns …) TO STDOUT (FORMAT csv)` into a
     file, through asyncpg, as the findings service's role;
   - fetch only: the keyset pages of `GET /api/v1/findings?round_id=…` (200 a page) read from
     the findings service the way the gateway's export job reads them (its own Services client
     over the proxy's upstream connections, an internal token minted with the gateway's key),
     rows turned into register rows and dropped;
   - CSV, XLSX, and CSV + JSON + XLSX (what a package holds): the same pages written by the
     package writer of gateway/dashboard/package.py, the files closed;
   the ratio of each to COPY, and this process's peak RSS above its resident size before
   (VmHWM, reset through /proc/self/clear_refs before each run);
   and, with `--parts paging`, the same pages read three ways (200 a page, 50 a page, three
   concurrent streams of 200, one per severity) with the findings service's CPU time
   (/proc/<pid>/stat) and this process's around each: the service's cost a request and a
   finding;
2. the real thing: `POST /api/v1/exports` of the small round and of the big round (ZIP with
   every register, the statistics and the manifest), wall time to `done`, and the gateway
   process's peak RSS during each job: memory flat whatever the size. Meanwhile `GET /healthz`
   through the gateway every 0.2 s: what a job costs everyone else;
3. the dashboard of the term (all 110,000 findings), `Cache-Control: no-cache` (counted now)
   and cached, against a reference read through the gateway (`GET /api/v1/rounds/{id}`), plus
   the findings service's figures endpoint on its own, and EXPLAIN (ANALYZE, BUFFERS) of its
   grouping statement: an index-only scan.

PostgreSQL, the services, the gateway and this process share the machine's cores; the figures
are for this machine, in this run (its load average is printed with them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.app import make_signer  # noqa: E402
from gateway.dashboard.clients import REPORTS, Services  # noqa: E402
from gateway.dashboard.jobs import write_page  # noqa: E402
from gateway.dashboard.labels import EnumLabels  # noqa: E402
from gateway.dashboard.package import PackageWriter  # noqa: E402
from gateway.dashboard.registers import REGISTERS, Context  # noqa: E402
from gateway.identity.enums import Role  # noqa: E402
from gateway.identity.schemas import UserCreate  # noqa: E402
from gateway.proxy.handler import InternalTokens  # noqa: E402
from gateway.proxy.transport import Upstreams  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from ops.pg import free_port  # noqa: E402
from ops.stack import Database, Stack  # noqa: E402
from ops.users import create_user  # noqa: E402

RESULTS = Path(__file__).parent / "results"
USERNAME = "bench-office"
FINDINGS = REGISTERS[0]
SEVERITIES = ("minor", "major", "serious")
TARGETS = 40
FACTS = (
    "经查，该村在实施产业扶贫项目过程中，村“两委”未按规定召开村民代表大会，项目资金拨付"
    "手续不全，部分扶贫资金被挪作他用，相关票据存在涂改，群众对此反映强烈。"
)
# the register's rows and columns as one SELECT: what COPY writes for the reference
COPY_SQL = """
SELECT f.id, f.round_id, f.group_id, f.target_name, f.category_code || ' ' || f.category_name,
       f.title, f.facts, f.money_involved, f.source, f.severity, f.discovered_on, f.status,
       f.recurrence_of IS NOT NULL,
       (SELECT count(*) FROM findings.finding_persons p WHERE p.finding_id = f.id),
       f.created_at, f.updated_at
FROM findings.findings f
WHERE f.round_id = '{round_id}' AND f.status <> 'draft'
ORDER BY f.created_at, f.id
"""
LOAD_SQL = """
INSERT INTO findings.findings (id, assignment_id, round_id, group_id, target_id, target_name,
    category_id, category_code, category_name, title, facts, money_involved, source, severity,
    discovered_on, status, created_by, created_at, updated_at)
SELECT gen_random_uuid(), a.assignment_id, $1::uuid, a.group_id, a.target_id, a.target_name,
    c.category_id, c.code, c.name,
    '问题' || g || '：' || c.name || '方面的问题',
    $2 || '（第' || g || '号）',
    ((hashint8extended(g, 7) & 9223372036854775807) % 5000000) / 100.0,
    (ARRAY['talk','documents','visit','letters','data_check'])[1 + g % 5],
    (ARRAY['minor','major','serious'])[1 + g % 3],
    date '2018-01-01' + (g % 365)::int,
    CASE WHEN g % 50 = 0 THEN 'draft' WHEN g % 3 = 0 THEN 'handed_over' ELSE 'confirmed' END,
    'bench',
    now() - make_interval(secs => ($3 - g)::double precision / 10),
    now()
FROM generate_series(1, $3) AS g
JOIN unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::text[])
     WITH ORDINALITY AS a(assignment_id, group_id, target_id, target_name, n)
     ON a.n = 1 + g % array_length($4::uuid[], 1)
JOIN unnest($8::uuid[], $9::text[], $10::text[]) WITH ORDINALITY AS c(category_id, code, name, n)
     ON c.n = 1 + (g / 7) % array_length($8::uuid[], 1)
"""
PERSONS_SQL = """
INSERT INTO findings.finding_persons (finding_id, ordinal, name, position, rank)
SELECT id, 1, '某某' || right(id::text, 4), '村干部', '' FROM findings.findings
WHERE round_id = $1 AND ((hashtextextended(id::text, 3) & 7) < 3)
"""


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def peak_reset(pid: int | str = "self") -> None:
    """Resets VmHWM (the peak resident set) of a process to its current size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def vm(pid: int | str, field: str) -> int:
    """A /proc/<pid>/status size in MiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise KeyError(field)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def ok(resp: httpx.Response, status: int = 200) -> Any:
    if resp.status_code != status:
        raise RuntimeError(
            f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
        )
    return resp.json()


class World:
    """The system, the office's client and what was created."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = Database(data_dir=tmp / "data", pg_port=free_port())
        ports = {a: free_port() for a in ("gateway", "rounds", "findings", "referrals")}
        self.stack = Stack(
            db=self.db,
            ports=ports,
            log_dir=tmp / "logs",
            extra_env={
                "GATEWAY_EXPORT_DIR": str(tmp / "exports"),
                "GATEWAY_UPSTREAM_READ_TIMEOUT": "120",
                "GATEWAY_ACCESS_TOKEN_TTL_SECONDS": "7200",
            },
        )
        self.http: httpx.Client | None = None
        self.term_id = ""
        self.rounds: dict[str, str] = {}  # big | small -> id
        self.round_names: dict[str, str] = {}
        self.groups: dict[str, str] = {}

    @property
    def gw(self) -> httpx.Client:
        assert self.http is not None
        return self.http

    def start(self) -> None:
        self.db.start()
        password = secrets.token_urlsafe(16)
        user = UserCreate(
            username=USERNAME, display_name="压测", password=password, roles=[Role.office]
        )
        asyncio.run(create_user(self.db.urls["gateway"], self.db.data_dir, user))
        self.stack.start()
        gateway = self.stack.url("gateway")
        token = ok(
            httpx.post(
                gateway + "/api/v1/auth/token",
                data={"grant_type": "password", "username": USERNAME, "password": password},
            )
        )["access_token"]
        self.http = httpx.Client(
            base_url=gateway, headers={"Authorization": f"Bearer {token}"}, timeout=300
        )

    def plan(self) -> dict[str, Any]:
        """A term, the big and the small round, a group each, TARGETS assignments each."""
        gw, city = self.gw, "压测市"
        targets = [
            ok(
                gw.post(
                    "/api/v1/targets",
                    json={"name": f"第{n}村", "kind": "village", "jurisdiction": city},
                ),
                201,
            )
            for n in range(TARGETS)
        ]
        term = ok(
            gw.post(
                "/api/v1/terms",
                json={"name": "压测届", "starts_on": "2016-10-01", "ends_on": "2021-09-30",
                      "coverage_kinds": ["village"], "jurisdiction": city},
            ),
            201,
        )  # fmt: skip
        self.term_id = term["id"]
        loads: dict[str, Any] = {}
        for number, key, name in ((1, "big", "扶贫领域专项巡察"), (2, "small", "常规巡察")):
            rnd = ok(
                gw.post(
                    "/api/v1/rounds",
                    json={"term_id": term["id"], "number": number, "name": name, "kind": "special"},
                ),
                201,
            )
            self.rounds[key], self.round_names[rnd["id"]] = rnd["id"], f"第{number}轮 {name}"
            group = ok(
                gw.post(
                    "/api/v1/groups",
                    json={
                        "round_id": rnd["id"],
                        "kind": "municipal",
                        "name": f"第{number}巡察组",
                        "owning_organisation": "中共压测市委",
                    },
                ),
                201,
            )
            self.groups[group["id"]] = group["name"]
            assignments = [
                ok(
                    gw.post(
                        "/api/v1/assignments",
                        json={
                            "round_id": rnd["id"],
                            "group_id": group["id"],
                            "target_id": t["id"],
                            "mode": "pinpoint",
                        },
                    ),
                    201,
                )
                for t in targets
            ]
            for to in ("mobilisation", "stationing"):
                ok(gw.post(f"/api/v1/rounds/{rnd['id']}/transitions", json={"to": to}), 201)
            cats = ok(gw.get(f"/api/v1/rounds/{rnd['id']}/categories"))
            cats = cats["items"] if isinstance(cats, dict) else cats
            leaves = [c for c in cats if c.get("usable", True)] or cats
            loads[key] = {
                "round_id": rnd["id"],
                "assignments": [
                    (uuid.UUID(a["id"]), uuid.UUID(group["id"]), uuid.UUID(t["id"]), t["name"])
                    for a, t in zip(assignments, targets, strict=True)
                ],
                "categories": [(uuid.UUID(c["id"]), c["code"], c["name"]) for c in leaves],
            }
        return loads

    def load(self, plan: dict[str, Any], counts: dict[str, int]) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(self.db.urls["findings"].replace("+asyncpg", ""))
            try:
                for key, n in counts.items():
                    p = plan[key]
                    a = list(zip(*p["assignments"], strict=True))
                    c = list(zip(*p["categories"], strict=True))
                    started = time.monotonic()
                    await conn.execute(
                        LOAD_SQL, uuid.UUID(p["round_id"]), FACTS, n,
                        list(a[0]), list(a[1]), list(a[2]), list(a[3]),
                        list(c[0]), list(c[1]), list(c[2]),
                    )  # fmt: skip
                    await conn.execute(PERSONS_SQL, uuid.UUID(p["round_id"]))
                    took = time.monotonic() - started
                    log(f"loaded {n:,} findings in the {key} round ({took:.1f} s)")
                await conn.execute("VACUUM (ANALYZE) findings.findings")
                await conn.execute("VACUUM (ANALYZE) findings.finding_persons")
            finally:
                await conn.close()

        asyncio.run(run())

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        self.stack.stop()
        self.db.stop()


# ---- 1. the findings register, in this process ----


async def copy_reference(world: World, round_id: str, out: Path) -> tuple[float, int]:
    conn = await asyncpg.connect(world.db.urls["findings"].replace("+asyncpg", ""))
    try:
        started = time.perf_counter()
        await conn.copy_from_query(
            COPY_SQL.format(round_id=round_id), output=str(out), format="csv", header=True
        )
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return seconds, await asyncio.to_thread(lambda: out.stat().st_size)


class Register:
    """The gateway's own reading of the findings register, with its classes, here."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.settings = GatewaySettings(
            database_url=world.db.urls["gateway"],
            signing_key_file=world.db.data_dir / "keys" / "gateway-signing.pem",
            rounds_url=world.stack.url("rounds"),
            findings_url=world.stack.url("findings"),
            referrals_url=world.stack.url("referrals"),
            upstream_read_timeout=120,
        )
        self.tokens = InternalTokens(make_signer(self.settings), 600)

    async def run(
        self, round_id: str, kinds: frozenset[str] | None, folder: Path
    ) -> tuple[float, int, int]:
        """(seconds, rows, bytes written); kinds None: fetch and convert only."""
        upstreams = Upstreams(self.settings)
        await upstreams.start()
        try:
            services = Services(upstreams, self.tokens)
            ctx = Context(
                recipient="office",
                rounds=dict(self.world.round_names),
                groups=dict(self.world.groups),
            )
            ctx.findings_labels = await EnumLabels().of(services, "findings")
            started = time.perf_counter()
            rows = 0
            package = PackageWriter(folder, kinds) if kinds is not None else None
            writer = package.register(FINDINGS, FINDINGS.columns(ctx)) if package else None
            async for items in services.pages(
                "findings", "/api/v1/findings", [("round_id", round_id)], limit=200
            ):
                if writer is not None:
                    rows += await asyncio.to_thread(write_page, writer, FINDINGS, items, ctx)
                else:
                    rows += sum(1 for i in items if FINDINGS.row(i, ctx) is not None)
            if package is not None:
                await asyncio.to_thread(package.close)
            seconds = time.perf_counter() - started
            size = await asyncio.to_thread(_size, folder) if package else 0
            return seconds, rows, size
        finally:
            await upstreams.close()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.*"))


def measured(fn: Callable[[], Awaitable[tuple[float, int, int]]]) -> dict[str, Any]:
    """One run of `fn` with this process's peak RSS above its size before."""
    before = vm("self", "VmRSS")
    peak_reset()
    seconds, rows, size = asyncio.run(fn())
    return {
        "seconds": seconds,
        "rows": rows,
        "bytes": size,
        "peak_mib": vm("self", "VmHWM") - before,
    }


def register_runs(world: World, runs: int) -> dict[str, Any]:
    register = Register(world)
    big = world.rounds["big"]
    variants: dict[str, frozenset[str] | None] = {
        "fetch only": None,
        "CSV": frozenset({"csv"}),
        "XLSX": frozenset({"xlsx"}),
        "CSV+JSON+XLSX": frozenset({"csv", "json", "xlsx"}),
    }
    found: dict[str, list[dict[str, Any]]] = {"COPY": [], **{k: [] for k in variants}}
    for n in range(runs):
        out = world.tmp / "copy.csv"
        seconds, size = asyncio.run(copy_reference(world, big, out))
        rows = sum(1 for _ in out.open("rb")) - 1
        found["COPY"].append({"seconds": seconds, "rows": rows, "bytes": size, "peak_mib": 0})
        log(f"run {n + 1}: COPY {seconds:.2f} s, {rows:,} rows, {size / 2**20:.1f} MiB")
        order = list(variants.items())
        for name, kinds in order if n % 2 == 0 else reversed(order):
            folder = world.tmp / f"register-{n}-{name.replace('+', '-')}"
            got = measured(lambda kinds=kinds, folder=folder: register.run(big, kinds, folder))
            shutil.rmtree(folder, ignore_errors=True)
            found[name].append(got)
            log(f"run {n + 1}: {name} {got['seconds']:.1f} s, {got['rows']:,} rows, "
                f"{got['bytes'] / 2**20:.1f} MiB, peak +{got['peak_mib']} MiB")  # fmt: skip
    return found


# ---- 1b. where the register's time goes: page size, concurrent pages ----


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fetch(register: Register, round_id: str, limit: int, streams: int) -> tuple[int, int]:
    """(findings, requests) of the round, pages only (nothing made of them): one keyset
    stream, or one per severity at the same time (what a gateway could do alone, merging
    them)."""
    upstreams = Upstreams(register.settings)
    await upstreams.start()
    try:
        services = Services(upstreams, register.tokens)
        parts = [[("round_id", round_id)]]
        if streams > 1:
            parts = [[("round_id", round_id), ("severity", s)] for s in SEVERITIES[:streams]]

        async def one(params: list[tuple[str, str]]) -> tuple[int, int]:
            got = pages = 0
            async for items in services.pages("findings", "/api/v1/findings", params, limit=limit):
                got, pages = got + len(items), pages + 1
            return got, pages

        done = await asyncio.gather(*(one(p) for p in parts))
        return sum(d[0] for d in done), sum(d[1] for d in done)
    finally:
        await upstreams.close()


def paging_runs(world: World, runs: int) -> dict[str, Any]:
    """Wall time and the findings service's CPU time for each way of reading the pages."""
    register = Register(world)
    big = world.rounds["big"]
    service = world.stack.procs["findings"].pid
    variants = {
        "200 a page": (200, 1),
        "50 a page": (50, 1),
        "200 a page, 3 streams (one per severity)": (200, 3),
    }
    found: dict[str, list[dict[str, Any]]] = {k: [] for k in variants}
    for n in range(runs):
        order = list(variants.items())
        for name, (limit, streams) in order if n % 2 == 0 else reversed(order):
            cpu, mine = cpu_seconds(service), time.process_time()
            started = time.perf_counter()
            rows, requests = asyncio.run(fetch(register, big, limit, streams))
            got = {
                "seconds": time.perf_counter() - started,
                "service_cpu": cpu_seconds(service) - cpu,
                "client_cpu": time.process_time() - mine,  # the gateway's classes, here
                "rows": rows,
                "requests": requests,
                "load": load_average(),
            }
            found[name].append(got)
            log(f"run {n + 1}: {name}: {rows:,} rows in {got['seconds']:.1f} s, findings "
                f"service CPU {got['service_cpu']:.1f} s, this process's "
                f"{got['client_cpu']:.1f} s (load {got['load']})")  # fmt: skip
    return found


# ---- 2. the jobs, through the gateway ----


def job_run(world: World, key: str) -> dict[str, Any]:
    gw, pid = world.gw, world.stack.procs["gateway"].pid
    probes: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=gw.base_url, timeout=30) as c:
            while not stop.is_set():
                started = time.perf_counter()
                c.get("/healthz")
                probes.append(time.perf_counter() - started)
                stop.wait(0.2)

    before = vm(pid, "VmRSS")
    peak_reset(pid)
    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    started = time.perf_counter()
    job = ok(gw.post("/api/v1/exports", json={"round_id": world.rounds[key]}), 202)
    while job["status"] in ("queued", "running"):
        time.sleep(0.5)
        job = ok(gw.get(f"/api/v1/exports/{job['id']}"))
    seconds = time.perf_counter() - started
    stop.set()
    prober.join()
    if job["status"] != "done":
        raise RuntimeError(f"export failed: {job['error']}")
    peak = vm(pid, "VmHWM")
    gw.delete(f"/api/v1/exports/{job['id']}")
    return {
        "round": key,
        "rows": job["progress"]["rows_written"],
        "seconds": seconds,
        "zip_mib": job["package_bytes"] / 2**20,
        "gateway_rss_before_mib": before,
        "gateway_peak_mib": peak,
        "healthz_p50_ms": 1000 * statistics.median(probes) if probes else None,
        "healthz_max_ms": 1000 * max(probes) if probes else None,
    }


# ---- 3. the dashboard ----


def timed(call: Callable[[], httpx.Response], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        resp = call()
        out.append(time.perf_counter() - started)
        if resp.status_code != 200:
            raise RuntimeError(f"{resp.status_code} {resp.text}")
    return out


def dashboard_runs(world: World, calls: int) -> dict[str, Any]:
    gw = world.gw
    term = {"term_id": world.term_id}
    tokens = InternalTokens(make_signer(Register(world).settings), 3600)
    rounds = list(world.rounds.values())
    by_round = [("round_id", r) for r in rounds]

    def direct(app: str) -> httpx.Client:
        token = tokens.mint(REPORTS, app, "bench").decode()
        return httpx.Client(
            base_url=world.stack.url(app), headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    services = {app: direct(app) for app in ("rounds", "findings", "referrals")}
    cases: dict[str, Callable[[], httpx.Response]] = {
        "reference: GET /api/v1/rounds/{id} (gateway)": lambda: gw.get(
            f"/api/v1/rounds/{rounds[0]}"
        ),
        "dashboard of the term, counted (no-cache)": lambda: gw.get(
            "/api/v1/dashboard", params=term, headers={"Cache-Control": "no-cache"}
        ),
        "dashboard of the term, cached": lambda: gw.get("/api/v1/dashboard", params=term),
        "statistical table of the term (always counted)": lambda: gw.get(
            "/api/v1/dashboard/table", params=term
        ),
        "part: rounds summary of the term (service, direct)": lambda: services["rounds"].get(
            "/api/v1/rounds/summary", params=term
        ),
        "part: findings stats of its rounds (service, direct)": lambda: services["findings"].get(
            "/api/v1/findings/stats", params=by_round
        ),
        "part: referrals stats of its rounds (service, direct)": lambda: services["referrals"].get(
            "/api/v1/leads/stats", params=by_round
        ),
    }
    for call in cases.values():  # warm-up
        timed(call, 2)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(calls):  # interleaved
        for name, call in cases.items():
            samples[name] += timed(call, 1)
    for client in services.values():
        client.close()
    return {
        name: {
            "median_ms": 1000 * statistics.median(s),
            "p90_ms": 1000 * sorted(s)[int(0.9 * (len(s) - 1))],
        }
        for name, s in samples.items()
    }


def explain(world: World) -> list[str]:
    async def run() -> list[str]:
        conn = await asyncpg.connect(world.db.urls["findings"].replace("+asyncpg", ""))
        try:
            ids = [uuid.UUID(r) for r in world.rounds.values()]
            out = []
            for workers in ("2", "0"):  # as configured, then without parallel workers
                await conn.execute(f"SET max_parallel_workers_per_gather = {workers}")
                for _ in range(3):  # warm, the last one shown
                    rows = await conn.fetch(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
                        "SELECT round_id, category_code, status, severity, count(*)::int, "
                        "coalesce(sum(money_involved), 0) FROM findings.findings "
                        "WHERE round_id = ANY($1::uuid[]) "
                        "GROUP BY round_id, category_code, status, severity",
                        ids,
                    )
                out += [f"-- max_parallel_workers_per_gather = {workers}"] + [r[0] for r in rows]
            return out
        finally:
            await conn.close()

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--findings", type=int, default=100_000, help="in the big round")
    parser.add_argument("--small", type=int, default=10_000, help="in the small round")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dashboard-calls", type=int, default=15)
    parser.add_argument(
        "--parts",
        default="register,jobs,dashboard",
        help="which measurements, comma-separated (also: paging)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # so that the system is stopped

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="bench-exports-"))
    world = World(tmp)
    result: dict[str, Any] = {"findings": args.findings, "small": args.small, "runs": args.runs}
    try:
        log(f"starting the system under {tmp} …")
        world.start()
        plan = world.plan()
        world.load(plan, {"big": args.findings, "small": args.small})
        result["load_before"] = load_average()
        parts = set(args.parts.split(","))
        if "register" in parts:
            result["register"] = register_runs(world, args.runs)
        if "paging" in parts:
            result["paging"] = paging_runs(world, args.runs)
        if "jobs" in parts:
            result["jobs"] = [job_run(world, key) for key in ("small", "big", "small", "big")]
        for j in result.get("jobs", []):
            log(
                f"job {j['round']}: {j['rows']:,} rows in {j['seconds']:.1f} s, "
                f"zip {j['zip_mib']:.1f} MiB, gateway peak {j['gateway_peak_mib']} MiB "
                f"(from {j['gateway_rss_before_mib']}), /healthz p50 "
                f"{j['healthz_p50_ms']:.1f} ms max {j['healthz_max_ms']:.0f} ms"
            )
        if "dashboard" in parts:
            result["dashboard"] = dashboard_runs(world, args.dashboard_calls)
            result["explain"] = explain(world)
        result["load_after"] = load_average()
    finally:
        world.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"exports-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\nwritten to {out}")
    return 0


def report(result: dict[str, Any]) -> None:
    if "register" in result:
        report_register(result)
    if "paging" in result:
        report_paging(result)
    if "jobs" in result:
        report_jobs(result)
    if "dashboard" in result:
        report_dashboard(result)
    print(f"\nload average before {result['load_before']}, after {result['load_after']}")


def report_register(result: dict[str, Any]) -> None:
    reg = result["register"]
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in reg.items()}
    rows = reg["COPY"][0]["rows"]
    print(f"\n## the findings register: {rows:,} rows (median of {result['runs']} runs)\n")
    print("| variant | seconds | rows/s | × COPY | file MiB | peak RSS above start |")
    print("|---|---|---|---|---|---|")
    for name, runs in reg.items():
        size = statistics.median(r["bytes"] for r in runs) / 2**20
        peak = max(r["peak_mib"] for r in runs)
        ratio = med[name] / med["COPY"]
        print(f"| {name} | {med[name]:.2f} | {rows / med[name]:,.0f} | {ratio:.1f} "
              f"| {size:.1f} | {peak} MiB |")  # fmt: skip


def report_paging(result: dict[str, Any]) -> None:
    paging = result["paging"]
    rows = next(iter(paging.values()))[0]["rows"]
    print(f"\n## reading the findings register: {rows:,} rows (median of {result['runs']} runs)\n")
    print(
        "| pages | requests | seconds | findings service CPU s | CPU ms per finding "
        "| this process's CPU s |"
    )
    print("|---|---|---|---|---|---|")
    med: dict[str, tuple[float, float, int]] = {}
    for name, runs in paging.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["service_cpu"] for r in runs)
        client = statistics.median(r["client_cpu"] for r in runs)
        med[name] = (seconds, cpu, runs[0]["requests"])
        print(f"| {name} | {runs[0]['requests']} | {seconds:.1f} | {cpu:.1f} "
              f"| {1000 * cpu / rows:.3f} | {client:.1f} |")  # fmt: skip
    (_, cpu200, req200), (_, cpu50, req50) = med["200 a page"], med["50 a page"]
    if req50 > req200:
        per_request = (cpu50 - cpu200) / (req50 - req200)
        per_finding = (cpu200 - per_request * req200) / rows
        print(f"\nfindings service CPU ≈ {1000 * per_request:.1f} ms a request + "
              f"{1000 * per_finding:.3f} ms a finding")  # fmt: skip


def report_jobs(result: dict[str, Any]) -> None:
    print("\n## export jobs through the gateway\n")
    print(
        "| round | rows | seconds | ZIP MiB | gateway RSS before | gateway peak "
        "| /healthz p50 | /healthz max |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for j in result["jobs"]:
        print(f"| {j['round']} | {j['rows']:,} | {j['seconds']:.1f} | {j['zip_mib']:.1f} | "
              f"{j['gateway_rss_before_mib']} MiB | {j['gateway_peak_mib']} MiB | "
              f"{j['healthz_p50_ms']:.1f} ms | {j['healthz_max_ms']:.0f} ms |")  # fmt: skip


def report_dashboard(result: dict[str, Any]) -> None:
    print("\n## the dashboard at {:,} findings\n".format(result["findings"] + result["small"]))
    print("| call | median | p90 |")
    print("|---|---|---|")
    for name, d in result["dashboard"].items():
        print(f"| {name} | {d['median_ms']:.1f} ms | {d['p90_ms']:.1f} ms |")
    print("\n" + "\n".join(result["explain"]))


if __name__ == "__main__":
    sys.exit(main())
