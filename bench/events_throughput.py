"""Integration events: how many per second go through outbox -> hub -> consumer, and how long
one takes from the change to its effect (p50/p99), in one run on one machine. See
bench/README.md for the figures.

    make install
    PYTHONPATH=. .venv/bin/python bench/events_throughput.py [--events 5000] [--targets 200]

It starts the whole system (embedded PostgreSQL, three services, gateway) in a temporary data
directory on free ports, with the default settings (relay and hub poll every 0.1 s), and
creates, through the gateway as the office, --targets targets assigned to one group with one
finding each (so the findings service consumes the renames of every target). Then five
phases, each started when other work on the machine keeps fewer than --quiet cores busy:

  idle       10 s with nothing to do: the CPU the relays' and the dispatcher's polling costs;
  reference  --events PATCH /api/v1/targets/<id> changing the risk class only: the same write
             through the same path, no event (--concurrency clients, each target's writes one
             after the other);
  paced      --paced-events renames by one client at --rate per second: the lag when the
             pipeline is not busy (the relay and the hub each poll every 0.1 s: the floor);
  renames    --events PATCH /api/v1/targets/<id> changing the name: each writes a
             `target.renamed` to the rounds service's outbox in its transaction, the relay sends
             it to the hub, the hub delivers it to the findings service, which updates the target
             name in its findings. Measured until the last one is in the findings inbox: the
             end-to-end rate, and each event's lag, inbox `received_at` - outbox `occurred_at`
             (both PostgreSQL's clock; `occurred_at` is the start of the writing transaction),
             split into outbox -> hub (the relay) and hub -> inbox (dispatcher and consumer);
  backlog    --events `target.renamed` rows INSERTed straight into the rounds outbox in one
             transaction (as if the relay had been down while they were written): how fast the
             pipeline drains a backlog when no API work competes, i.e. its capacity.

The ratios compare each rate with the reference's writes per second: whether the event
pipeline keeps up with the API. CPU time per change of each process comes from /proc (as in
gateway_overhead.py). Results go to bench/results/ as JSON (gitignored).

PostgreSQL, the services, the gateway and this client share the machine's cores: the figures
are ratios within one run, not capacities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from findings_capture import git_rev  # noqa: E402
from gateway_overhead import CpuMeter, wait_quiet  # noqa: E402

from gateway.identity.enums import Role  # noqa: E402
from gateway.identity.schemas import UserCreate  # noqa: E402
from ops.pg import free_port  # noqa: E402
from ops.stack import Database, Stack  # noqa: E402
from ops.users import create_user  # noqa: E402

RESULTS = Path(__file__).parent / "results"
USERNAME = "bench"
APPS = ("gateway", "rounds", "findings", "referrals")
PARTS = ("gateway", "rounds", "findings", "referrals", "postgres", "client")
RISK = ("low", "medium", "high")


@dataclass
class Phase:
    name: str
    changes: int
    seconds: float = 0.0  # first write to the last effect (writes only, for the reference)
    writes_seconds: float = 0.0
    write_p50_ms: float = 0.0
    write_p99_ms: float = 0.0
    lag_ms: dict[str, float] = field(default_factory=dict)
    relay_ms: dict[str, float] = field(default_factory=dict)
    deliver_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_change: dict[str, float] = field(default_factory=dict)
    foreign_cores: float = 0.0
    tries_per_delivery: float = 0.0
    idle_cpu_ms_per_s: dict[str, float] = field(default_factory=dict)  # the idle phase only
    failed_tries: dict[str, int] = field(default_factory=dict)  # by status or error class

    @property
    def rate(self) -> float:
        return self.changes / self.seconds if self.seconds else 0.0

    @property
    def write_rate(self) -> float:
        return self.changes / self.writes_seconds if self.writes_seconds else 0.0


def quantiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], 1),
        "p90": round(cuts[89], 1),
        "p99": round(cuts[98], 1),
        "max": round(values[-1], 1),
    }


class Bench:
    def __init__(self, args: argparse.Namespace, stack: Stack, db: Database, token: str) -> None:
        self.args = args
        self.stack = stack
        self.db = db
        self.auth = {"Authorization": f"Bearer {token}"}
        self.targets: list[str] = []
        self.names: dict[str, int] = {}

    @property
    def sql_url(self) -> str:
        assert self.db.embedded is not None
        return self.db.embedded.admin_url("inspection")

    async def sql(self, query: str, *params: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.sql_url)
        try:
            return list(await conn.fetch(query, *params))
        finally:
            await conn.close()

    def meter_ids(self) -> tuple[dict[str, int], dict[str, int]]:
        groups = {app: proc.pid for app, proc in self.stack.procs.items()}
        parents: dict[str, int] = {}
        assert self.db.embedded is not None
        postmaster = self.db.embedded.pgdata / "postmaster.pid"
        if postmaster.exists():
            parents["postgres"] = int(postmaster.read_text().split()[0])
        return groups, parents

    # ---- setup ----

    def setup(self) -> None:
        """Targets, one round and group, an assignment and a finding per target."""
        tag = uuid.uuid4().hex[:6]
        city = f"赤壁市{tag}"
        with httpx.Client(base_url=self.stack.url("gateway"), headers=self.auth, timeout=120) as gw:

            def ok(resp: httpx.Response) -> Any:
                if resp.status_code not in (200, 201):
                    raise RuntimeError(f"{resp.request.url}: {resp.status_code} {resp.text}")
                return resp.json()

            self.targets = [
                ok(gw.post("/api/v1/targets",
                           json={"name": f"压测村{tag}-{n:04d}", "kind": "village",
                                 "jurisdiction": city}))["id"]
                for n in range(self.args.targets)
            ]  # fmt: skip
            term = ok(gw.post("/api/v1/terms", json={
                "name": f"第八届{tag}", "starts_on": "2021-10-01", "ends_on": "2026-09-30",
                "coverage_kinds": ["village"], "jurisdiction": city}))  # fmt: skip
            rnd = ok(gw.post("/api/v1/rounds", json={
                "term_id": term["id"], "number": 1, "name": "扶贫领域专项巡察",
                "kind": "special"}))  # fmt: skip
            group = ok(gw.post("/api/v1/groups", json={
                "round_id": rnd["id"], "kind": "municipal", "name": "第一巡察组",
                "owning_organisation": "中共赤壁市委"}))  # fmt: skip
            made = ok(gw.post("/api/v1/assignments/batch", json={"items": [
                {"round_id": rnd["id"], "group_id": group["id"], "target_id": t,
                 "mode": "pinpoint"} for t in self.targets]}))  # fmt: skip
            categories = ok(gw.get(f"/api/v1/rounds/{rnd['id']}/categories"))
            category = (categories["items"] if isinstance(categories, dict) else categories)[0]
            items = [
                {"assignment_id": a["id"], "category_id": category["id"], "title": "台账不全",
                 "facts": "扶贫资金发放台账不全。", "source": "documents",
                 "discovered_on": date.today().isoformat(), "idempotency_key": f"{tag}-{n}"}
                for n, a in enumerate(made["items"])
            ]  # fmt: skip
            for start in range(0, len(items), 500):
                batch = ok(gw.post("/api/v1/findings/batch", json={"items": items[start:][:500]}))
                if batch["created"] != len(items[start:][:500]):
                    raise RuntimeError(f"findings batch: {batch}")
        self.names = dict.fromkeys(self.targets, 0)

    # ---- phases ----

    async def writes(self, body_of: Any) -> list[float]:
        """--events PATCHes spread over the targets, --concurrency at a time, each target's
        one after the other; the latency of each, in ms."""
        queues: list[list[str]] = [[] for _ in self.targets]
        for n in range(self.args.events):
            queues[n % len(self.targets)].append(self.targets[n % len(self.targets)])
        latencies: list[float] = []
        gate = asyncio.Semaphore(self.args.concurrency)
        async with httpx.AsyncClient(
            base_url=self.stack.url("gateway"), headers=self.auth, timeout=60
        ) as client:

            async def chain(queue: list[str]) -> None:
                for target in queue:
                    async with gate:
                        started = time.perf_counter()
                        resp = await client.patch(f"/api/v1/targets/{target}", json=body_of(target))
                        latencies.append((time.perf_counter() - started) * 1000)
                    if resp.status_code != 200:
                        raise RuntimeError(f"PATCH {target}: {resp.status_code} {resp.text}")

            await asyncio.gather(*(chain(q) for q in queues if q))
        return latencies

    def rename_body(self, target: str) -> dict[str, str]:
        self.names[target] += 1
        return {"name": f"压测村{target[:8]}-第{self.names[target]}名"}

    async def drained(self, since_seq: int, expected: int) -> None:
        """Until `expected` renames after outbox seq `since_seq` are in the findings inbox and
        the hub has recorded their deliveries."""
        async with asyncio.timeout(900):
            while True:
                [row] = await self.sql(
                    """
                    SELECT count(i.event_id) AS applied,
                           count(*) FILTER (WHERE d.state = 'delivered') AS recorded
                    FROM rounds.outbox o
                    JOIN gateway.deliveries d ON d.event_id = o.id
                    LEFT JOIN findings.inbox i ON i.event_id = o.id
                    WHERE o.seq > $1 AND o.type = 'target.renamed'
                    """,
                    since_seq,
                )
                if row["applied"] >= expected and row["recorded"] >= expected:
                    return
                await asyncio.sleep(0.05)

    async def timings(self, since_seq: int) -> list[asyncpg.Record]:
        return await self.sql(
            """
            SELECT o.occurred_at, e.received_at AS at_hub, d.delivered_at, i.received_at AS applied
            FROM rounds.outbox o
            JOIN gateway.events e ON e.id = o.id
            JOIN gateway.deliveries d ON d.event_id = o.id
            JOIN gateway.subscriptions s ON s.id = d.subscription_id AND s.name = 'service:findings'
            JOIN findings.inbox i ON i.event_id = o.id
            WHERE o.seq > $1 AND o.type = 'target.renamed'
            """,
            since_seq,
        )

    async def tries(self, phase: Phase, since_seq: int) -> None:
        """How often the hub had to try the phase's deliveries, and why the failed tries
        failed (there is no fault here: every failure is a finding)."""
        rows = await self.sql(
            """
            SELECT coalesce(a.status::text, split_part(a.error, ':', 1)) AS why,
                   (a.status BETWEEN 200 AND 299) AS ok, count(*) AS n
            FROM rounds.outbox o
            JOIN gateway.deliveries d ON d.event_id = o.id
            JOIN gateway.delivery_attempts a ON a.delivery_id = d.id
            WHERE o.seq > $1 AND o.type = 'target.renamed'
            GROUP BY 1, 2
            """,
            since_seq,
        )
        phase.tries_per_delivery = round(sum(r["n"] for r in rows) / phase.changes, 3)
        phase.failed_tries = {r["why"]: r["n"] for r in rows if not r["ok"]}

    async def last_seq(self) -> int:
        [row] = await self.sql("SELECT coalesce(max(seq), 0) AS s FROM rounds.outbox")
        return int(row["s"])

    def measured(self, name: str, changes: int | None = None) -> tuple[Phase, CpuMeter]:
        groups, parents = self.meter_ids()
        load = wait_quiet(groups, parents, self.args.quiet, self.args.patience)
        print(f"{name}: other work keeps {load:.2f} cores busy", flush=True)
        return Phase(name, self.args.events if changes is None else changes), CpuMeter(
            groups, parents
        )

    async def idle(self) -> Phase:
        """Nothing to do for 10 s: what the relays' and the dispatcher's polling costs."""
        phase, meter = self.measured("idle", 0)
        with meter:
            await asyncio.sleep(10)
        phase.idle_cpu_ms_per_s = {
            p: round(meter.seconds.get(p, 0.0) * 1000 / meter.elapsed, 1) for p in PARTS
        }
        phase.foreign_cores = round(meter.foreign_cores(), 2)
        return phase

    async def paced(self) -> Phase:
        """One writer at --rate renames per second: the lag when the pipeline is not busy,
        which the relay's and the hub's polling (0.1 s each) bound from below."""
        phase, meter = self.measured("paced", self.args.paced_events)
        seq = await self.last_seq()
        targets = iter(self.targets * (phase.changes // len(self.targets) + 1))
        lat: list[float] = []
        with meter:
            cpu0 = own_cpu()
            started = time.perf_counter()
            async with httpx.AsyncClient(
                base_url=self.stack.url("gateway"), headers=self.auth, timeout=60
            ) as client:
                for n in range(phase.changes):
                    await asyncio.sleep(
                        max(0.0, started + n / self.args.rate - time.perf_counter())
                    )
                    target = next(targets)
                    t0 = time.perf_counter()
                    resp = await client.patch(
                        f"/api/v1/targets/{target}", json=self.rename_body(target)
                    )
                    lat.append((time.perf_counter() - t0) * 1000)
                    if resp.status_code != 200:
                        raise RuntimeError(f"PATCH {target}: {resp.status_code} {resp.text}")
            phase.writes_seconds = time.perf_counter() - started
            client_cpu = own_cpu() - cpu0
            await self.drained(seq, phase.changes)
        self.finish(phase, meter, client_cpu)
        rows = await self.timings(seq)
        phase.seconds = (
            max(r["applied"] for r in rows) - min(r["occurred_at"] for r in rows)
        ).total_seconds()
        self.lags(phase, rows)
        await self.tries(phase, seq)
        phase.write_p50_ms = round(statistics.median(lat), 2)
        phase.write_p99_ms = quantiles(lat)["p99"]
        return phase

    def finish(self, phase: Phase, meter: CpuMeter, client_cpu: float) -> None:
        cpu = meter.per_request_ms(phase.changes)
        cpu["client"] = client_cpu * 1000 / phase.changes
        phase.cpu_ms_per_change = {p: round(cpu.get(p, 0.0), 2) for p in PARTS}
        phase.foreign_cores = round(meter.foreign_cores(), 2)

    async def reference(self) -> Phase:
        phase, meter = self.measured("reference")
        flip = dict.fromkeys(self.targets, 0)

        def body(target: str) -> dict[str, str]:
            flip[target] += 1
            return {"risk_class": RISK[flip[target] % len(RISK)]}

        seq = await self.last_seq()
        with meter:
            cpu0 = own_cpu()
            started = time.perf_counter()
            lat = await self.writes(body)
            phase.writes_seconds = phase.seconds = time.perf_counter() - started
            client = own_cpu() - cpu0
        self.finish(phase, meter, client)
        if await self.last_seq() != seq:
            raise RuntimeError("the reference writes wrote events")
        phase.write_p50_ms = round(statistics.median(lat), 2)
        phase.write_p99_ms = quantiles(lat)["p99"]
        return phase

    async def renames(self) -> Phase:
        phase, meter = self.measured("renames")
        seq = await self.last_seq()
        with meter:
            cpu0 = own_cpu()
            started = time.perf_counter()
            lat = await self.writes(self.rename_body)
            phase.writes_seconds = time.perf_counter() - started
            client = own_cpu() - cpu0
            await self.drained(seq, phase.changes)
        self.finish(phase, meter, client)
        rows = await self.timings(seq)
        first = min(r["occurred_at"] for r in rows)
        last = max(r["applied"] for r in rows)
        phase.seconds = (last - first).total_seconds()
        self.lags(phase, rows)
        await self.tries(phase, seq)
        phase.write_p50_ms = round(statistics.median(lat), 2)
        phase.write_p99_ms = quantiles(lat)["p99"]
        return phase

    async def backlog(self) -> Phase:
        phase, meter = self.measured("backlog")
        seq = await self.last_seq()
        rows = []
        for n in range(phase.changes):
            target = self.targets[n % len(self.targets)]
            previous = f"压测村{target[:8]}-第{self.names[target]}名"
            self.names[target] += 1
            name = f"压测村{target[:8]}-第{self.names[target]}名"
            payload = {"target_id": target, "name": name, "previous_name": previous}
            rows.append((uuid.uuid4(), target, json.dumps(payload, ensure_ascii=False)))
        with meter:
            cpu0 = own_cpu()
            conn = await asyncpg.connect(self.sql_url)
            try:
                started = time.perf_counter()
                await conn.executemany(
                    "INSERT INTO rounds.outbox (id, type, version, aggregate_type, aggregate_id, "
                    "payload) VALUES ($1, 'target.renamed', 1, 'target', $2, $3::jsonb)",
                    rows,
                )
                phase.writes_seconds = time.perf_counter() - started
            finally:
                await conn.close()
            client = own_cpu() - cpu0
            await self.drained(seq, phase.changes)
        self.finish(phase, meter, client)
        timed = await self.timings(seq)
        phase.seconds = (
            max(r["applied"] for r in timed) - min(r["occurred_at"] for r in timed)
        ).total_seconds()
        self.lags(phase, timed)
        await self.tries(phase, seq)
        return phase

    @staticmethod
    def lags(phase: Phase, rows: list[asyncpg.Record]) -> None:
        def ms(a: datetime, b: datetime) -> float:
            return (b - a).total_seconds() * 1000

        phase.lag_ms = quantiles([ms(r["occurred_at"], r["applied"]) for r in rows])
        phase.relay_ms = quantiles([ms(r["occurred_at"], r["at_hub"]) for r in rows])
        phase.deliver_ms = quantiles([ms(r["at_hub"], r["applied"]) for r in rows])


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(phases: list[Phase], args: argparse.Namespace) -> dict[str, Any]:
    by = {p.name: p for p in phases}
    ref = by["reference"]
    print(
        f"\n{args.events} changes per phase over {args.targets} targets, {args.concurrency} "
        f"clients (paced: {args.paced_events} at {args.rate}/s, one client); {os.cpu_count()} "
        "CPUs shared by PostgreSQL, the services, the gateway and this client"
    )
    print(
        f"{'phase':10} {'writes/s':>9} {'write p50':>10} {'events/s':>9} {'x ref':>6} "
        f"{'lag p50':>8} {'p90':>7} {'p99':>7} {'max':>7} {'relay p50':>10} {'deliver p50':>12}"
        "   CPU ms/change: " + " ".join(f"{p:>8}" for p in PARTS) + "   other load"
    )
    summary: dict[str, Any] = {}
    for p in phases:
        if p.name == "idle":
            continue
        events = p.rate if p.name != "reference" else 0.0
        print(
            f"{p.name:10} {p.write_rate:>9.1f} {p.write_p50_ms:>8.1f}ms {events:>9.1f} "
            f"{(events or p.write_rate) / ref.write_rate:>6.2f} "
            f"{p.lag_ms.get('p50', 0):>6.0f}ms {p.lag_ms.get('p90', 0):>5.0f}ms "
            f"{p.lag_ms.get('p99', 0):>5.0f}ms {p.lag_ms.get('max', 0):>5.0f}ms "
            f"{p.relay_ms.get('p50', 0):>8.0f}ms {p.deliver_ms.get('p50', 0):>10.0f}ms   "
            f"{'':15}" + " ".join(f"{p.cpu_ms_per_change[x]:>8.2f}" for x in PARTS)
            + f"   {p.foreign_cores:.2f}"
        )  # fmt: skip
    for p in phases:
        if p.tries_per_delivery:
            print(
                f"{p.name:10} tries per delivery {p.tries_per_delivery}; failed tries "
                f"{p.failed_tries or 'none'}"
            )
    if "idle" in by:
        summary["CPU ms per second doing nothing (polling)"] = by["idle"].idle_cpu_ms_per_s
    if "paced" in by:
        p = by["paced"]
        summary[f"lag p50 / p99 (ms) at {args.rate} changes/s"] = (p.lag_ms["p50"], p.lag_ms["p99"])
        summary["  of which outbox -> hub p50 / hub -> inbox p50 (ms)"] = (
            p.relay_ms["p50"],
            p.deliver_ms["p50"],
        )
    if "renames" in by:
        r = by["renames"]
        summary["API writes/s with an event / without"] = round(r.write_rate / ref.write_rate, 3)
        summary["events/s end to end while written through the API"] = round(r.rate, 1)
        summary["lag p50 / p99 (ms) at that rate"] = (r.lag_ms["p50"], r.lag_ms["p99"])
        extra = {x: round(r.cpu_ms_per_change[x] - ref.cpu_ms_per_change[x], 2) for x in PARTS}
        summary["CPU ms an event adds to a write (renames - reference)"] = extra
    if "backlog" in by:
        b = by["backlog"]
        summary["events/s draining a backlog (pipeline capacity)"] = round(b.rate, 1)
        summary["capacity / API writes per second (reference)"] = round(b.rate / ref.write_rate, 2)
    print()
    for k, v in summary.items():
        print(f"{k:58} {v}")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=5000, help="changes per phase")
    parser.add_argument("--targets", type=int, default=200, help="targets (aggregates)")
    parser.add_argument("--concurrency", type=int, default=8, help="API clients at a time")
    parser.add_argument("--phases", default="idle,reference,paced,renames,backlog")
    parser.add_argument("--rate", type=float, default=4.0, help="renames/s in the paced phase")
    parser.add_argument("--paced-events", type=int, default=200, help="renames, paced phase")
    parser.add_argument("--label", default="", help="name of the configuration under test")
    parser.add_argument(
        "--quiet", type=float, default=0.25,
        help="start a phase when other work keeps < N cores busy (waiting up to --patience)",
    )  # fmt: skip
    parser.add_argument("--patience", type=float, default=120)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    args = parser.parse_args()
    wanted = args.phases.split(",")
    if "reference" not in wanted:
        parser.error("the reference phase is needed (the ratios are against it)")

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # so that the stack is stopped

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="bench-events-"))
    data_dir = tmp / "data"
    db = Database(data_dir=data_dir, pg_port=free_port())
    stack = Stack(
        db=db,
        ports={a: free_port() for a in APPS},
        log_dir=tmp / "logs",
        extra_env={"GATEWAY_ACCESS_TOKEN_TTL_SECONDS": "7200"},
    )
    phases: list[Phase] = []
    try:
        print(f"starting PostgreSQL and the stack under {tmp} …", flush=True)
        db.start()
        password = secrets.token_urlsafe(16)
        user = UserCreate(
            username=USERNAME, display_name="压测", password=password, roles=[Role.office]
        )
        asyncio.run(create_user(db.urls["gateway"], data_dir, user))
        stack.start()
        resp = httpx.post(
            stack.url("gateway") + "/api/v1/auth/token",
            data={"grant_type": "password", "username": USERNAME, "password": password},
        )
        resp.raise_for_status()
        bench = Bench(args, stack, db, resp.json()["access_token"])
        print(f"{args.targets} targets with a finding each …", flush=True)
        bench.setup()
        run = {"idle": bench.idle, "reference": bench.reference, "paced": bench.paced,
               "renames": bench.renames, "backlog": bench.backlog}  # fmt: skip
        for name in wanted:
            phase = asyncio.run(run[name]())
            phases.append(phase)
            print(f"  {name}: {json.dumps(asdict(phase), ensure_ascii=False)}", flush=True)
    finally:
        stack.stop()
        db.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    summary = report(phases, args)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"events_throughput-{stamp}{'-' + args.label if args.label else ''}.json"
    out.write_text(
        json.dumps(
            {
                "label": args.label,
                "when": stamp,
                "machine": {
                    "nproc": os.cpu_count(),
                    "python": platform.python_version(),
                    "git": git_rev(),
                    "note": "PostgreSQL, the services, the gateway and the client share these",
                },
                "settings": {k: v for k, v in vars(args).items() if k != "keep"},
                "phases": [asdict(p) for p in phases],
                "summary": summary,
            },
            indent=2,
            ensure_ascii=False,
            default=str,
        )
    )
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
