"""Running a rule (issue 7): `recipient_in_roster` over 1,000,000 loan recipients and a
100,000-person staff roster, against the same join written by hand in SQL. See
bench/README.md for the figures.

    make install
    PYTHONPATH=. .venv/bin/python bench/crosscheck_run.py [--recipients 1000000]
        [--roster 100000] [--planted 10000] [--runs 3]

It starts an embedded PostgreSQL in a temporary directory, writes the two CSV files (the
roster holds --planted people who also took a loan, the rest took none) and imports them with
the import job (`crosscheck_import.our_import`). Then, --runs times, order alternating:

  by hand   `INSERT INTO hand SELECT r.id_number, array_agg(r.line), array_agg(s.line) FROM
            dataset_rows r JOIN dataset_rows s ON s.id_number = r.id_number WHERE
            r.version_id = $1 AND s.version_id = $2 GROUP BY r.id_number`: the matches, one row
            per person with the lines of both files, stored (as the run stores hits), with
            PostgreSQL's default planner settings;
  tuned     the same statement with the planner settings a run gives its rules
            (`runs.PLANNER`: work_mem 64MB, no merge join, no presorted aggregates);
  the run   the run job itself (`services.findings.crosschecks.runs.run_crosscheck`) on a run
            made as `POST /api/v1/crosschecks/runs` makes it: the rule compiled to one
            INSERT INTO crosscheck_hits ... SELECT (subject, match key and content hash per
            person, the rows as JSON, dismissed matches left out), and the run's bookkeeping.

Each in a fresh child process (peak resident memory, VmHWM, is its own); PostgreSQL's CPU time
for the statement is read from /proc of its backend. Every run must find exactly --planted
hits. Medians; the ratio is the run / by hand (and / tuned). Results go to bench/results/ as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(Path(__file__).parent)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from crosscheck_import import (  # noqa: E402
    RESULTS,
    cpu_seconds,
    our_import,
    peak_rss_mib,
    quiet_url,
    start_database,
    write_loans,
    write_roster,
)

BY_HAND = (
    "INSERT INTO hand SELECT r.id_number, array_agg(r.line), array_agg(s.line)"
    " FROM findings.dataset_rows r JOIN findings.dataset_rows s ON s.id_number = r.id_number"
    " WHERE r.version_id = $1 AND s.version_id = $2 GROUP BY r.id_number"
)


async def by_hand(url: str, what: str, loans: str, roster: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(quiet_url(url))
    try:
        from services.findings.crosschecks.runs import PLANNER

        backend = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute(
            "CREATE TEMP TABLE hand (id_number text, recipient_lines int[], roster_lines int[])"
        )
        cpu = cpu_seconds(backend)
        started = time.perf_counter()
        async with conn.transaction():
            if what == "tuned":
                for key, value in PLANNER.items():
                    await conn.execute("SELECT set_config($1, $2, true)", key, value)
            await conn.execute(BY_HAND, uuid.UUID(loans), uuid.UUID(roster))
        seconds = time.perf_counter() - started
        postgres_cpu = cpu_seconds(backend) - cpu
        count = await conn.fetchval("SELECT count(*) FROM hand")
        return {"seconds": seconds, "postgres_cpu": postgres_cpu, "hits": count}
    finally:
        await conn.close()


async def the_run(url: str, loans: str, roster: str) -> dict[str, Any]:
    """A run of one rule, made as the API makes it, run by the job handler."""
    from sqlalchemy import insert, select, text
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from services.findings.crosschecks.jobs import JobContext
    from services.findings.crosschecks.models import (
        CrosscheckJob,
        CrosscheckRun,
        CrosscheckRunRule,
    )
    from services.findings.crosschecks.runs import run_crosscheck

    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    job_id, run_id = uuid.uuid4(), uuid.uuid4()
    async with sessions() as s, s.begin():
        # the last run's hits gone without dead rows left in the table and its indexes (as if
        # each run were the first: hits are never deleted in the system)
        await s.execute(text("TRUNCATE findings.crosscheck_hits"))
        await s.execute(insert(CrosscheckJob).values(
            id=job_id, kind="run", state="running", attempts=1, payload={"run_id": str(run_id)},
            host="bench", created_by="bench"))  # fmt: skip
        await s.execute(insert(CrosscheckRun).values(
            id=run_id, round_id=uuid.uuid4(), dataset_version_ids=[loans, roster], job_id=job_id,
            created_by="bench"))  # fmt: skip
        await s.execute(insert(CrosscheckRunRule).values(
            run_id=run_id, ordinal=0, rule_code="recipient_in_roster", rule_version=1,
            title="领取人为财政供养人员", params={"match_on": "id_number"},
            datasets={"recipients": [loans], "roster": [roster]}))  # fmt: skip
    async with engine.connect() as probe:
        backend = (await probe.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
    ctx = JobContext(job_id, 1, "run", {"run_id": str(run_id)}, "bench", None, sessions)
    cpu = cpu_seconds(backend)
    started = time.perf_counter()
    await run_crosscheck(ctx)
    seconds = time.perf_counter() - started
    postgres_cpu = cpu_seconds(backend) - cpu
    async with sessions() as s:
        hits = (
            await s.execute(select(CrosscheckRun.hit_count).where(CrosscheckRun.id == run_id))
        ).scalar_one()
    await engine.dispose()
    return {"seconds": seconds, "postgres_cpu": postgres_cpu, "hits": hits}


def child(argv: list[str]) -> None:
    what, url, loans, roster = argv
    if what == "run":
        out = asyncio.run(the_run(url, loans, roster))
    else:
        out = asyncio.run(by_hand(url, what, loans, roster))
    out["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(out))


def measure(what: str, url: str, loans: str, roster: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", what, url, loans, roster],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--roster", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {"by hand": [], "tuned": [], "run": []}
    with tempfile.TemporaryDirectory(prefix="bench-crosscheck-run-") as tmp_name:
        tmp = Path(tmp_name)
        db = start_database(tmp)
        try:
            url = db.urls["findings"]
            loans_csv, roster_csv = tmp / "loans.csv", tmp / "roster.csv"
            write_loans(loans_csv, args.recipients)
            step = max(args.recipients // args.planted, 1)
            planted = list(range(0, step * args.planted, step))[: args.planted]
            others = range(args.recipients, args.recipients + args.roster - len(planted))
            write_roster(roster_csv, sorted([*planted, *others]))
            loans = asyncio.run(our_import(url, loans_csv))["version_id"]
            roster = asyncio.run(our_import(url, roster_csv, "staff_roster", "roster"))[
                "version_id"
            ]
            print(f"imported {args.recipients:,} recipients and {args.roster:,} staff", flush=True)
            for n in range(args.runs):
                order = ["by hand", "tuned", "run"]
                if n % 2:
                    order.reverse()
                for what in order:
                    got = measure(what, url, loans, roster)
                    results[what].append(got)
                    print(f"run {n + 1} {what:9s} {got['seconds']:6.2f}s  postgres "
                          f"{got['postgres_cpu']:5.2f}s cpu  hits {got['hits']:,}  peak "
                          f"{got['peak_rss_mib']:.0f} MiB", flush=True)  # fmt: skip
                    assert got["hits"] == len(planted), got
        finally:
            db.stop()

    def median(what: str, key: str) -> float:
        return statistics.median(r[key] for r in results[what])

    summary = {
        "recipients": args.recipients,
        "roster": args.roster,
        "planted": len(planted),
        "runs": args.runs,
        **{f"{w.replace(' ', '_')}_seconds": median(w, "seconds") for w in results},
        **{f"{w.replace(' ', '_')}_postgres_cpu": median(w, "postgres_cpu") for w in results},
        "ratio": median("run", "seconds") / median("by hand", "seconds"),
        "ratio_to_tuned": median("run", "seconds") / median("tuned", "seconds"),
        "run_peak_rss_mib": max(r["peak_rss_mib"] for r in results["run"]),
        "by_hand_peak_rss_mib": max(r["peak_rss_mib"] for r in results["by hand"]),
        "all": results,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load": os.getloadavg(),
        },
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "all"}, indent=2))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"crosscheck_run-{stamp}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
