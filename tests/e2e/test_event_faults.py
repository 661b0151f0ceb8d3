"""Integration events survive crashes: during a burst of 1,000 changes a service is killed
(kill -9), the gateway is killed, PostgreSQL is restarted as if it crashed; after recovery every
event is delivered, every consumer applied it exactly once in effect, and the counts on the
producing side, in the hub and on the consuming side match.

The burst, through the gateway as the office, 8 requests at a time:
- 900 target renames (50 targets, 18 each, one after the other per target): the rounds service
  emits `target.renamed`; the findings service updates the target name in the snapshot of the
  two findings on each target (their version moves once per rename);
- 100 rectification items, each from one distinct confirmed finding: the referrals service
  emits `rectification.assigned`; the findings service hands that finding over (one history
  line, one `finding.handed_over`, version +1).
The client retries every write until it succeeds, POSTs with the same Idempotency-Key, as a
phone or a browser would; a rename retried after it took effect changes nothing the second time.

This module runs its own PostgreSQL (in a temporary directory) and its own stack, so that the
restart and the kills disturb no other test, and the hub's counts are this module's alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.pg import free_port
from ops.stack import Database, Stack
from ops.users import create_user
from services.common.events.catalogue import CONSUMERS
from tests.e2e.conftest import PASSWORD, eventually, place_a_finding

# the first test also starts this module's PostgreSQL and stack; a busy machine is slow
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

TARGETS = 50
RENAMES = 18  # per target: 900 renames
FINDINGS_PER_TARGET = 2  # 100 findings, each made a rectification item: 100 items
ITEM_CHAINS = 6  # items are created by 6 clients one after the other, spread over the burst
CONCURRENCY = 8
CHANGES = TARGETS * RENAMES + TARGETS * FINDINGS_PER_TARGET
assert CHANGES == 1000
RETRY_STATUSES = {409, 500, 502, 503, 504}  # 409: the same Idempotency-Key is still running
CONSUMED = tuple(CONSUMERS["findings"])
SOURCES = ("rounds", "findings", "referrals")


@dataclass
class Module:
    db: Database
    stack: Stack
    logs: Path

    @property
    def gateway(self) -> str:
        return self.stack.url("gateway")

    def sql_url(self) -> str:
        assert self.db.embedded is not None
        return self.db.embedded.admin_url("inspection")


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Module]:
    data_dir = Path(tmp_path_factory.mktemp("faults"))
    db = Database(data_dir=data_dir, pg_port=free_port())
    logs = data_dir / "logs"
    stack = Stack(
        db=db,
        ports={app: free_port() for app in ("gateway", "rounds", "findings", "referrals")},
        log_dir=logs,
        extra_env={
            # A delivery claimed by a gateway that then dies (or whose database went away
            # before it recorded the outcome) is retried when its lease runs out: 60 s by
            # default, 8 s here (more than the delivery timeout) to keep the tests short.
            "GATEWAY_HUB_LEASE_SECONDS": "8",
            "GATEWAY_SERVICE_DELIVERY_TIMEOUT_SECONDS": "5",
            # Backoff of deliveries to a service that is down: capped at 5 s instead of 30.
            "GATEWAY_SERVICE_RETRY_CAP_SECONDS": "5",
            "GATEWAY_UPSTREAM_READ_TIMEOUT": "10",
        },
    )
    user = UserCreate(
        username="office1", display_name="巡察办干部", password=PASSWORD, roles=[Role.office]
    )
    try:
        db.start()
        asyncio.run(create_user(db.urls["gateway"], db.data_dir, user))
        stack.start()
        yield Module(db, stack, logs)
    finally:
        stack.stop()
        db.stop()


def login(m: Module) -> dict[str, str]:
    resp = httpx.post(
        m.gateway + "/api/v1/auth/token",
        data={"grant_type": "password", "username": "office1", "password": PASSWORD},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def sql(m: Module, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(m.sql_url())
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def ok(resp: httpx.Response, *statuses: int) -> Any:
    assert resp.status_code in (statuses or (200, 201)), resp.text
    return resp.json()


@dataclass
class Scenario:
    """What one test changes: its targets, and the confirmed findings on them."""

    tag: str
    targets: list[str]
    findings: dict[str, str]  # finding id -> its target id
    versions: dict[str, int]  # finding id -> its version before the burst

    def final_name(self, target_id: str) -> str:
        return self.name(target_id, RENAMES)

    def name(self, target_id: str, n: int) -> str:
        return f"故障村{self.tag}-{self.targets.index(target_id):02d}-第{n}名"


def prepare(m: Module, auth: dict[str, str]) -> Scenario:
    """50 targets assigned to one group of a round, two confirmed findings on each."""
    tag = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=m.gateway, headers=auth, timeout=60) as gw:
        placed = place_a_finding(gw, f"故障村{tag}-00-第0名")
        city = ok(gw.get(f"/api/v1/targets/{placed.target_id}"))["jurisdiction"]
        targets = [placed.target_id] + [
            ok(gw.post("/api/v1/targets",
                       json={"name": f"故障村{tag}-{n:02d}-第0名", "kind": "village",
                             "jurisdiction": city}))["id"]
            for n in range(1, TARGETS)
        ]  # fmt: skip
        made = ok(
            gw.post(
                "/api/v1/assignments/batch",
                json={"items": [{"round_id": placed.round_id, "group_id": placed.group_id,
                                 "target_id": t, "mode": "pinpoint"} for t in targets[1:]]},
            )
        )  # fmt: skip
        rows = made["items"] if isinstance(made, dict) else made
        assignments = {placed.target_id: placed.assignment_id} | {
            a["target_id"]: a["id"] for a in rows
        }
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        items = [
            {
                "assignment_id": assignments[t],
                "category_id": placed.category_id,
                "title": f"问题{n}",
                "facts": "扶贫资金发放台账不全。",
                "source": "documents",
                "discovered_on": today,
                "idempotency_key": f"{tag}-{t}-{n}",
            }
            for t in targets
            for n in range(FINDINGS_PER_TARGET)
        ]
        batch = ok(gw.post("/api/v1/findings/batch", json={"items": items}))
        assert batch["created"] == len(items), batch
        findings = {r["finding"]["id"]: r["finding"]["target_id"] for r in batch["results"]}

    async def confirm_all() -> None:
        async with httpx.AsyncClient(base_url=m.gateway, headers=auth, timeout=60) as client:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def confirm(fid: str) -> None:
                async with gate:
                    resp = await client.post(
                        f"/api/v1/findings/{fid}/transitions", json={"to": "confirmed"}
                    )
                ok(resp)

            await asyncio.gather(*(confirm(f) for f in findings))

    asyncio.run(confirm_all())
    versions = {
        str(r["id"]): r["version"]
        for r in sql(
            m,
            "SELECT id, version FROM findings.findings WHERE id = ANY($1::uuid[])",
            list(findings),
        )
    }
    return Scenario(tag, targets, findings, versions)


@dataclass
class Burst:
    done: int = 0
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # what the retried attempts got
    seconds: float = 0.0
    items: dict[str, str] = field(default_factory=dict)  # finding id -> item id
    fault_log: list[str] = field(default_factory=list)


async def run_burst(
    m: Module, auth: dict[str, str], sc: Scenario, faults: list[tuple[float, Callable[[], None]]]
) -> Burst:
    """The 1,000 changes; each fault runs (in a thread) once that share of them is done."""
    burst = Burst()
    deadline = time.monotonic() + 240
    gate = asyncio.Semaphore(CONCURRENCY)
    due = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=60)).isoformat()
    milestones = [(int(share * CHANGES), asyncio.Event()) for share, _ in faults]
    started = time.monotonic()

    async with httpx.AsyncClient(
        base_url=m.gateway, headers=auth, timeout=httpx.Timeout(30, connect=2)
    ) as client:

        async def until_done(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
            delay = 0.05
            while True:
                async with gate:
                    try:
                        resp = await client.request(method, url, **kwargs)
                        status = str(resp.status_code)
                        if resp.status_code in (200, 201):
                            burst.done += 1
                            for at_least, reached in milestones:
                                if burst.done >= at_least:
                                    reached.set()
                            body: dict[str, Any] = resp.json()
                            return body
                        assert resp.status_code in RETRY_STATUSES, (method, url, resp.text)
                    except httpx.TransportError as exc:
                        status = type(exc).__name__
                burst.retries += 1
                burst.statuses[status] = burst.statuses.get(status, 0) + 1
                assert time.monotonic() < deadline, f"{method} {url} never succeeded"
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

        async def renames(target_id: str) -> None:
            for n in range(1, RENAMES + 1):
                await until_done(
                    "PATCH", f"/api/v1/targets/{target_id}", json={"name": sc.name(target_id, n)}
                )

        async def items(finding_ids: list[str]) -> None:
            for fid in finding_ids:
                item = await until_done(
                    "POST",
                    "/api/v1/rectifications",
                    headers={"Idempotency-Key": f"item-{sc.tag}-{fid}"},
                    json={
                        "title": f"整改{fid[:8]}",
                        "duties": "补齐台账，建立发放公示制度。",
                        "finding_ids": [fid],
                        "owner_type": "responsible_unit",
                        "owner_name": "中伙铺镇党委",
                        "deadline": due,
                    },
                )
                burst.items[fid] = item["id"]

        async def inject() -> None:
            for (_, reached), (_, fault) in zip(milestones, faults, strict=True):
                await reached.wait()
                at, done = time.monotonic(), burst.done
                await asyncio.to_thread(fault)
                burst.fault_log.append(
                    f"{fault.__name__} at {done} changes, ready again after "
                    f"{time.monotonic() - at:.1f}s"
                )

        fids = list(sc.findings)
        chains = [renames(t) for t in sc.targets] + [
            items(fids[k::ITEM_CHAINS]) for k in range(ITEM_CHAINS)
        ]
        await asyncio.gather(inject(), *chains)
    burst.seconds = time.monotonic() - started
    return burst


def drained(m: Module, auth: dict[str, str]) -> dict[str, Any]:
    """Nothing left to send or deliver: every outbox published, no delivery open."""
    status = ok(httpx.get(m.gateway + "/api/v1/hub/status", headers=auth, timeout=10))
    for s in status["subscribers"]:
        assert s["dead"] == 0, s  # never waited for: a dead letter is a failure at once
        assert (s["pending"], s["failed"]) == (0, 0), s
    for source in SOURCES:
        [row] = sql(m, f"SELECT count(*) AS n FROM {source}.outbox WHERE published_at IS NULL")
        assert row["n"] == 0, f"{source}: {row['n']} events not yet relayed"
    return status


def check_counts(m: Module, sc: Scenario, burst: Burst) -> dict[str, Any]:
    """Both sides agree: outboxes = hub, hub deliveries = the consumer's inbox, and each change
    had its effect exactly once."""
    figures: dict[str, Any] = {}
    hub = sql(m, "SELECT id, source, type FROM gateway.events")
    for source in SOURCES:
        sent = {r["id"] for r in sql(m, f"SELECT id FROM {source}.outbox")}
        stored = {r["id"] for r in hub if r["source"] == source}
        assert sent == stored, f"{source}: {len(sent - stored)} lost, {len(stored - sent)} extra"
        figures[f"{source} events"] = len(sent)

    consumed = {r["id"] for r in hub if r["type"] in CONSUMED}
    deliveries = sql(
        m,
        "SELECT d.event_id, d.state, d.attempts FROM gateway.deliveries d "
        "JOIN gateway.subscriptions s ON s.id = d.subscription_id "
        "WHERE s.name = 'service:findings'",
    )
    delivered = {r["event_id"] for r in deliveries}  # one per event (a unique key)
    assert delivered == consumed, f"{len(consumed - delivered)} events never delivered"
    assert {r["state"] for r in deliveries} == {"delivered"}
    inbox = sql(m, "SELECT event_id, type FROM findings.inbox")
    applied = {r["event_id"] for r in inbox}
    assert applied == consumed, (
        f"{len(consumed - applied)} not applied, {len(applied - consumed)} unknown"
    )
    figures["deliveries to findings"] = len(deliveries)
    figures["deliveries tried more than once"] = sum(r["attempts"] > 1 for r in deliveries)
    failed = sql(
        m,
        "SELECT coalesce(status::text, split_part(error, ':', 1)) AS why, count(*) AS n "
        "FROM gateway.delivery_attempts WHERE status IS NULL OR status >= 300 GROUP BY 1",
    )
    figures["failed delivery tries, so far"] = {r["why"]: r["n"] for r in failed}

    # this test's renames: 16 events per target, in order, and the snapshots show the last name
    renamed = sql(
        m,
        "SELECT aggregate_id, payload->>'name' AS name FROM rounds.outbox "
        "WHERE type = 'target.renamed' AND aggregate_id = ANY($1::text[]) ORDER BY seq",
        sc.targets,
    )
    assert len(renamed) == TARGETS * RENAMES
    for t in sc.targets:
        assert [r["name"] for r in renamed if r["aggregate_id"] == t] == [
            sc.name(t, n) for n in range(1, RENAMES + 1)
        ]
    after = sql(
        m,
        "SELECT id, target_id, target_name, status, version FROM findings.findings "
        "WHERE id = ANY($1::uuid[])",
        list(sc.findings),
    )
    assert len(after) == len(sc.findings)
    for f in after:
        fid = str(f["id"])
        assert f["target_name"] == sc.final_name(str(f["target_id"])), fid
        assert f["status"] == "handed_over", fid
        # each rename once, the hand-over once: no event applied twice, none skipped
        assert f["version"] == sc.versions[fid] + RENAMES + 1, fid

    # this test's items: one per finding (retried POSTs replayed), one event each, one hand-over
    made = sql(
        m,
        "SELECT f AS finding_id, count(*) AS n FROM referrals.rectification_items, "
        "unnest(finding_ids) AS f WHERE f = ANY($1::uuid[]) GROUP BY f",
        list(sc.findings),
    )
    assert {str(r["finding_id"]): r["n"] for r in made} == dict.fromkeys(sc.findings, 1)
    assigned = sql(
        m,
        "SELECT count(*) AS n FROM referrals.outbox "
        "WHERE type = 'rectification.assigned' AND aggregate_id = ANY($1::text[])",
        list(burst.items.values()),
    )
    assert assigned[0]["n"] == len(sc.findings)
    moved = sql(
        m,
        "SELECT finding_id, count(*) AS n FROM findings.finding_transitions "
        "WHERE to_status = 'handed_over' AND finding_id = ANY($1::uuid[]) GROUP BY finding_id",
        list(sc.findings),
    )
    assert {str(r["finding_id"]): r["n"] for r in moved} == dict.fromkeys(sc.findings, 1)
    handed = sql(
        m,
        "SELECT count(*) AS n FROM findings.outbox "
        "WHERE type = 'finding.handed_over' AND aggregate_id = ANY($1::text[])",
        list(sc.findings),
    )
    assert handed[0]["n"] == len(sc.findings)
    return figures


def log_sizes(m: Module) -> dict[Path, int]:
    return {log: log.stat().st_size for log in m.logs.glob("*.log")}


def errors_logged(since: dict[Path, int]) -> list[str]:
    """Lines logged at level error since `since` (the apps log JSON lines)."""
    found = []
    for log, size in since.items():
        with log.open("rb") as f:
            f.seek(size)
            found += [
                f"{log.stem}: {line[:300]!r}"
                for line in f.read().decode(errors="replace").splitlines()
                if '"level": "error"' in line or line.startswith("Traceback")
            ]
    return found


def survive(
    m: Module,
    faults: list[tuple[float, Callable[[], None]]],
    capsys: pytest.CaptureFixture[str],
    *,
    errors_expected: bool = False,
) -> None:
    """`errors_expected`: requests failing while the database is away are logged as errors;
    a peer that dies is an expected condition (retries and warnings), never an error."""
    logs = log_sizes(m)
    auth = login(m)
    started = time.monotonic()
    sc = prepare(m, auth)
    prepared = time.monotonic() - started
    burst = asyncio.run(run_burst(m, auth, sc, faults))
    assert len(burst.fault_log) == len(faults)
    assert burst.retries > 0, "the fault came when no request was in flight: nothing was tested"
    started = time.monotonic()
    eventually(lambda: drained(m, auth), timeout=120, every=0.5)
    settled = time.monotonic() - started
    figures = check_counts(m, sc, burst)
    errors = errors_logged(logs)
    if not errors_expected:
        assert not errors, "\n".join(errors[:20])
    figures["lines logged at level error"] = len(errors)
    with capsys.disabled():
        print(
            f"\n  prepared in {prepared:.1f}s; "
            f"{CHANGES} changes in {burst.seconds:.1f}s, {burst.retries} retried attempts "
            f"{burst.statuses}; {'; '.join(burst.fault_log)}; drained {settled:.1f}s after; "
            f"{figures}"
        )


def test_a_killed_service_loses_nothing(faults: Module, capsys: pytest.CaptureFixture[str]) -> None:
    """The producer (referrals) dies with items being made; later the consumer (findings) dies
    with deliveries being applied."""

    def kill_referrals() -> None:
        faults.stack.kill_app("referrals")
        faults.stack.restart_app("referrals")

    def kill_findings() -> None:
        faults.stack.kill_app("findings")
        faults.stack.restart_app("findings")

    survive(faults, [(0.25, kill_referrals), (0.6, kill_findings)], capsys)


def test_a_killed_gateway_loses_nothing(faults: Module, capsys: pytest.CaptureFixture[str]) -> None:
    """The hub dies with relays' batches arriving and deliveries claimed (leased) in flight."""

    def kill_gateway() -> None:
        faults.stack.kill_app("gateway")
        faults.stack.restart_app("gateway")

    survive(faults, [(0.3, kill_gateway)], capsys)


def test_a_postgres_restart_loses_nothing(
    faults: Module, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL stops as if it crashed (immediate: no checkpoint, recovery from the WAL), is
    down a second, comes back; the apps reconnect (pool_pre_ping) and carry on."""

    def restart_postgres() -> None:
        faults.db.restart(mode="immediate", down_seconds=1.0)
        faults.stack.wait_ready()

    survive(faults, [(0.3, restart_postgres)], capsys, errors_expected=True)
