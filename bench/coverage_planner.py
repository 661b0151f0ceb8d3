"""Coverage and the planner at the scale of a province's city: 5,000 targets, 100 groups,
20,000 past assignments. Run by hand (not by CI):

    make install
    PYTHONPATH=. .venv/bin/python bench/coverage_planner.py [--runs 7]

It starts an embedded PostgreSQL in a temporary directory, migrates it, loads the data with
COPY-sized multi-row INSERTs, then times through the rounds service's ASGI app in-process:

  reference  GET /api/v1/targets?limit=1                (a trivial indexed read, same stack)
  coverage   GET /api/v1/coverage?term_id=…              (goal: under 100 ms)
  planner    POST /api/v1/coverage/plans                  (goal: a plan in under 5 s)

and reports the median of `--runs` calls of each, and coverage as a multiple of the reference.
The machine's cores are shared with PostgreSQL; figures are for this machine, in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert

from gateway.keys import Signer
from ops.pg import free_port
from ops.stack import Database
from services.common.auth import KeySet
from services.common.db import Database as Engine
from services.rounds.app import create_app
from services.rounds.models import (
    Assignment,
    Group,
    GroupMember,
    Person,
    PersonPosting,
    Round,
    Target,
    Term,
)
from services.rounds.settings import RoundsSettings

TOWNSHIPS = 200
VILLAGES_PER_TOWNSHIP = 22  # 200 + 4,400 villages + 400 departments = 5,000 targets
DEPARTMENTS = 400
PAST_ROUNDS = 10
GROUPS_PER_ROUND = 10  # 100 groups in the ten past rounds
PAST_ASSIGNMENTS = 20_000
OPEN_ROUNDS = 2
OPEN_GROUPS = 50  # the groups the planner fills (25 per open round)


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


async def load(url: str, rng: random.Random) -> tuple[uuid.UUID, list[uuid.UUID]]:
    engine = Engine(RoundsSettings(database_url=url))
    j = "赤壁市"
    async with engine.sessions() as s:
        term = Term(
            name="第八届",
            starts_on=date(2016, 10, 1),
            ends_on=date(2021, 9, 30),
            coverage_kinds=["township_committee", "village", "department_party_group"],
            jurisdiction=j,
        )
        old = Term(
            name="第七届",
            starts_on=date(2011, 10, 1),
            ends_on=date(2016, 9, 30),
            coverage_kinds=["township_committee"],
            jurisdiction=j,
        )
        s.add_all([term, old])
        await s.flush()
        towns = ids(TOWNSHIPS)
        rows = [
            {
                "id": t,
                "name": f"镇{i}",
                "kind": "township_committee",
                "jurisdiction": j,
                "created_by": "bench",
            }
            for i, t in enumerate(towns)
        ]
        villages = []
        for i, t in enumerate(towns):
            for v in range(VILLAGES_PER_TOWNSHIP):
                vid = uuid.uuid4()
                villages.append(vid)
                rows.append(
                    {
                        "id": vid,
                        "name": f"镇{i}村{v}",
                        "kind": "village",
                        "jurisdiction": j,
                        "parent_id": t,
                        "created_by": "bench",
                        "risk_class": rng.choice(["low", "medium", "high"]),
                    }
                )
        depts = ids(DEPARTMENTS)
        rows += [
            {
                "id": d,
                "name": f"局{i}",
                "kind": "department_party_group",
                "jurisdiction": j,
                "created_by": "bench",
            }
            for i, d in enumerate(depts)
        ]
        await s.execute(
            insert(Target), [{"parent_id": None, "risk_class": "medium", **r} for r in rows]
        )
        all_targets = [r["id"] for r in rows]

        rounds = []
        for n in range(PAST_ROUNDS + OPEN_ROUNDS):
            rid = uuid.uuid4()
            past = n < PAST_ROUNDS
            rounds.append(rid)
            await s.execute(
                insert(Round).values(
                    id=rid,
                    term_id=(term.id if n >= PAST_ROUNDS - 3 else old.id),
                    number=n + 1,
                    name=f"第{n + 1}轮",
                    kind="regular",
                    state="archived" if past else "preparation",
                )
            )
        groups: list[tuple[uuid.UUID, uuid.UUID]] = []
        for n, rid in enumerate(rounds):
            count = GROUPS_PER_ROUND if n < PAST_ROUNDS else OPEN_GROUPS // OPEN_ROUNDS
            for g in range(count):
                gid = uuid.uuid4()
                groups.append((rid, gid))
                await s.execute(
                    insert(Group).values(
                        id=gid,
                        round_id=rid,
                        kind="municipal",
                        name=f"第{g + 1}组",
                        owning_organisation="市委",
                        capacity=60,
                    )
                )
        past_groups = [(r, g) for r, g in groups if r in rounds[:PAST_ROUNDS]]
        seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
        assignments = []
        # Past assignments, a third of the goal covered in this term's past rounds.
        while len(assignments) < PAST_ASSIGNMENTS:
            rid, gid = rng.choice(past_groups)
            tid = rng.choice(all_targets)
            if (rid, tid) in seen:
                continue
            seen.add((rid, tid))
            assignments.append(
                {
                    "round_id": rid,
                    "group_id": gid,
                    "target_id": tid,
                    "mode": "linked",
                    "created_by": "bench",
                }
            )
        await s.execute(insert(Assignment), assignments)
        open_groups = [g for r, g in groups if r in rounds[PAST_ROUNDS:]]
        people = ids(len(open_groups) * 6)
        await s.execute(
            insert(Person),
            [{"id": p, "name": f"干部{i}", "unit": "市直单位"} for i, p in enumerate(people)],
        )
        await s.execute(
            insert(GroupMember),
            [
                {
                    "group_id": open_groups[i // 6],
                    "person_id": p,
                    "role": "leader" if i % 6 == 0 else "member",
                }
                for i, p in enumerate(people)
            ],
        )
        await s.execute(
            insert(PersonPosting),
            [{"person_id": p, "target_id": rng.choice(towns + depts)} for p in people],
        )
        await s.commit()
    await engine.dispose()
    return term.id, rounds[PAST_ROUNDS:]


async def timed(
    client: httpx.AsyncClient, method: str, url: str, runs: int, **kw: object
) -> tuple[float, httpx.Response]:
    times, last = [], None
    for _ in range(runs):
        started = time.perf_counter()
        last = await client.request(method, url, **kw)  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
        assert last.status_code < 300, last.text
    assert last is not None
    return statistics.median(times), last


def main(runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(data_dir=Path(tmp), pg_port=free_port())
        db.start()  # provisions and migrates: outside the event loop
        try:
            return asyncio.run(measure(db, runs))
        finally:
            db.stop()


async def measure(db: Database, runs: int) -> dict[str, object]:
    rng = random.Random(20181)
    started = time.perf_counter()
    term_id, open_rounds = await load(db.urls["rounds"], rng)
    load_s = time.perf_counter() - started
    signer = Signer(Ed25519PrivateKey.generate(), [], issuer="inspection-gateway")
    keys = KeySet(None)
    keys.load(signer.jwks)
    token = signer.sign(
        {
            "sub": str(uuid.uuid4()),
            "name": "bench",
            "roles": ["office"],
            "groups": [],
            "rid": "bench",
        },
        audience="rounds",
        ttl=3600,
    )
    app = create_app(RoundsSettings(database_url=db.urls["rounds"]), keys=keys)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as client:
            await client.get("/api/v1/targets", params={"limit": 1})  # warm up
            ref_ms, _ = await timed(client, "GET", "/api/v1/targets?limit=1", runs)
            cov_ms, cov = await timed(client, "GET", f"/api/v1/coverage?term_id={term_id}", runs)
            body = {
                "term_id": str(term_id),
                "round_ids": [str(r) for r in open_rounds],
                "mode": "linked",
            }
            plan_ms, plan = await timed(
                client, "POST", "/api/v1/coverage/plans", max(3, runs // 2), json=body
            )
    result = {
        "targets": TOWNSHIPS * (1 + VILLAGES_PER_TOWNSHIP) + DEPARTMENTS,
        "groups": PAST_ROUNDS * GROUPS_PER_ROUND + OPEN_GROUPS,
        "past_assignments": PAST_ASSIGNMENTS,
        "load_seconds": round(load_s, 1),
        "reference_ms": round(ref_ms, 2),
        "coverage_ms": round(cov_ms, 2),
        "coverage_vs_reference": round(cov_ms / ref_ms, 1),
        "plan_ms": round(plan_ms, 1),
        "coverage_overall": cov.json()["overall"],
        "plan_placed": plan.json()["placed"],
        "plan_unplaced": len(plan.json()["unplaced"]),
    }
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    out = main(args.runs)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (results / f"coverage_planner-{stamp}.json").write_text(
        json.dumps(out, ensure_ascii=False, indent=2)
    )
