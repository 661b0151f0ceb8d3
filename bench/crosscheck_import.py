"""Importing a dataset (issue 7): our import of a 1,000,000-row loan-recipient CSV against a raw
COPY of the same file, and the peak memory of both. See bench/README.md for the figures.

    make install
    PYTHONPATH=. .venv/bin/python bench/crosscheck_import.py [--rows 1000000] [--runs 3]

It starts an embedded PostgreSQL in a temporary directory (migrated as `make run` does),
writes the CSV (UTF-8, Chinese headers, dates as offices write them: 2018-05-01, 2018/5/1,
2018年5月1日; amounts with and without ¥ and thousands separators), and then, --runs times,
alternating:

  raw COPY  `COPY <a table of text columns, one per column of the file> FROM STDIN (FORMAT csv,
            HEADER)` of the file, as the findings role, streamed by asyncpg from the file: what
            PostgreSQL alone does with the bytes, nothing checked or normalised;
  import    the import job itself (`services.findings.crosschecks.importer.run_import`), as the
            findings service runs it: every row checked (ID check digit, dates, amounts) and
            normalised, COPY into a new table for the version, its block range index built,
            the table attached as the version's partition of `dataset_rows`, ANALYZE, the
            dataset version recorded; all in one transaction.

Each measurement runs in a fresh child process, so its peak resident memory (ru_maxrss) is its
own; the import is also run on a file a tenth of the size: memory that does not grow with the
file is the goal. Timings are medians; the ratio is import / raw COPY. PostgreSQL and Python
share the machine's two cores (the import's Python work runs alongside PostgreSQL's, which is
how it keeps up). Results go to bench/results/ as JSON (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = Path(__file__).parent / "results"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文斌辉鹏飞云峰"
CPU = ("postgres_cpu", "python_cpu")
HEADER = ["序号", "姓名", "身份证号", "贷款金额", "发放日期", "银行账号", "贷款类别", "经办银行"]
CHECK = "10X98765432"


def person_id(n: int) -> str:
    """A distinct valid resident ID number for each n < 20,160,000 (n -> birth date, sequence)."""
    day, seq = divmod(n, 1000)
    year, rest = divmod(day, 336)
    month, mday = divmod(rest, 28)
    first = f"421281{1940 + year:04d}{month + 1:02d}{mday + 1:02d}{seq:03d}"
    return first + CHECK[2 * int(first, 13) % 11]


def write_loans(path: Path, rows: int, people: range | None = None, seed: int = 1) -> None:
    """`rows` loans; the recipients are `people` (person numbers), in order, repeating."""
    rng = random.Random(seed)
    people = people or range(rows)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        for i in range(rows):
            n = people[i % len(people)]
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else "")
            yuan = rng.randrange(1000, 300_000)
            if i % 10 == 0:
                amount = f'"¥{yuan:,}.00"'  # quoted: it holds the delimiter
            elif i % 10 == 1:
                amount = f"{yuan}元"
            else:
                amount = f"{yuan}.{i % 100:02d}"
            y, m, d = 2016 + i % 3, 1 + i % 12, 1 + i % 28
            style = i % 10  # mostly ISO, some as typed by hand
            paid = (f"{y}年{m}月{d}日" if style == 7 else f"{y}/{m}/{d}" if style == 8
                    else f"{y}-{m:02d}-{d:02d}")  # fmt: skip
            f.write(f"{i + 1},{name},{person_id(n)},{amount},{paid},6228{i:015d},创业担保贷款,"
                    f"农行赤壁支行\n")  # fmt: skip


def write_roster(path: Path, people: list[int], seed: int = 2) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("姓名,身份证号,工作单位,入职日期\n")
        for n in people:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            f.write(f"{name},{person_id(n)},赤壁市某局,2010-0{1 + n % 9}-01\n")


def quiet_url(url: str) -> str:
    return url.replace("+asyncpg", "")


# -- the measurements, each in a child process -------------------------------------------------


async def raw_copy(url: str, path: Path) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(quiet_url(url))
    try:
        columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
        await conn.execute(f"DROP TABLE IF EXISTS findings.bench_raw; "
                           f"CREATE TABLE findings.bench_raw ({columns})")  # fmt: skip
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        cpu = cpu_seconds(backend), time.process_time()
        started = time.perf_counter()
        with path.open("rb") as f:
            await conn.copy_to_table(
                "bench_raw", schema_name="findings", source=f, format="csv", header=True
            )
        seconds = time.perf_counter() - started
        postgres_cpu, python_cpu = cpu_seconds(backend) - cpu[0], time.process_time() - cpu[1]
        await conn.execute("DROP TABLE findings.bench_raw")
        return {"seconds": seconds, "postgres_cpu": postgres_cpu, "python_cpu": python_cpu}
    finally:
        await conn.close()


async def our_import(
    url: str, path: Path, kind: str = "loan_recipients", dataset: str = "bench"
) -> dict[str, Any]:
    """The job handler, on a job row made for it (what the upload request would have made)."""
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from services.findings.crosschecks.importer import run_import
    from services.findings.crosschecks.jobs import JobContext
    from services.findings.crosschecks.models import CrosscheckJob

    engine = create_async_engine(
        url,
        pool_size=1,
        max_overflow=0,
        connect_args={"server_settings": {"search_path": "findings"}},
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    job_id = uuid.uuid4()
    copy = path.with_name(f"{path.stem}-{job_id.hex[:8]}{path.suffix}")
    os.link(path, copy)  # the job removes its file when it ends
    size = os.stat(path).st_size
    payload = {"path": str(copy), "filename": path.name, "size": size, "sha256": "0" * 64,
               "dataset": dataset, "kind": kind, "mapping": {}, "partial": False}  # fmt: skip
    async with sessions() as s, s.begin():
        await s.execute(insert(CrosscheckJob).values(
            id=job_id, kind="import", state="running", attempts=1, payload=payload,
            host="bench", created_by="bench"))  # fmt: skip
    ctx = JobContext(job_id, 1, "import", payload, "bench", None, sessions)
    # the import's connection is the pool's only one: its backend is the one that works
    async with engine.connect() as probe:
        backend = (await probe.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
    cpu = cpu_seconds(backend), time.process_time()
    started = time.perf_counter()
    await run_import(ctx)
    seconds = time.perf_counter() - started
    postgres_cpu, python_cpu = cpu_seconds(backend) - cpu[0], time.process_time() - cpu[1]
    async with sessions() as s:
        from sqlalchemy import select

        result = (
            await s.execute(select(CrosscheckJob.result).where(CrosscheckJob.id == job_id))
        ).scalar_one()
    await engine.dispose()
    return {"seconds": seconds, "postgres_cpu": postgres_cpu, "python_cpu": python_cpu,
            "rows": result["rows"], "version_id": result["dataset_version_id"]}  # fmt: skip


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across
    exec from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(argv: list[str]) -> None:
    what, url, path = argv[0], argv[1], Path(argv[2])
    if what == "raw":
        out = asyncio.run(raw_copy(url, path))
    else:
        out = asyncio.run(our_import(url, path, *argv[3:]))
    out["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(out))


def measure(what: str, url: str, path: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", what, url, str(path), *extra],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def truncate(url: str) -> None:
    """Every dataset version and its rows gone, so runs start alike (the same table size for
    ANALYZE, the same block ranges to summarise)."""
    import asyncpg

    conn = await asyncpg.connect(quiet_url(url))
    try:
        partitions = await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'findings.dataset_rows'::regclass"
        )
        for p in partitions:  # a version's rows, as deleting the version does
            await conn.execute(f"DROP TABLE findings.{p['relname']}")
        for table in ("crosscheck_hits", "crosscheck_run_rules", "crosscheck_runs",
                      "dataset_versions", "crosscheck_jobs"):  # fmt: skip
            await conn.execute(f"DELETE FROM findings.{table}")  # noqa: S608 - our names
    finally:
        await conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_database(tmp: Path) -> Any:
    from ops.pg import free_port
    from ops.stack import Database

    db = Database(data_dir=tmp / "data", pg_port=free_port())
    db.start()
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-crosscheck-") as tmp_name:
        tmp = Path(tmp_name)
        db = start_database(tmp)
        try:
            url = db.urls["findings"]
            big, small = tmp / "loans.csv", tmp / "loans-small.csv"
            started = time.perf_counter()
            write_loans(big, args.rows)
            write_loans(small, args.rows // 10)
            print(f"wrote {args.rows:,} rows ({big.stat().st_size / 2**20:.0f} MiB) in "
                  f"{time.perf_counter() - started:.0f}s", flush=True)  # fmt: skip
            raw: list[dict[str, Any]] = []
            ours: list[dict[str, Any]] = []
            for n in range(args.runs):
                order = ("raw", "import") if n % 2 == 0 else ("import", "raw")
                for what in order:
                    asyncio.run(truncate(url))
                    got = measure(what, url, big)
                    (raw if what == "raw" else ours).append(got)
                    print(f"run {n + 1} {what:6s} {got['seconds']:6.1f}s  cpu: postgres "
                          f"{got['postgres_cpu']:5.1f}s python {got['python_cpu']:5.1f}s  "
                          f"peak {got['peak_rss_mib']:.0f} MiB", flush=True)  # fmt: skip
            asyncio.run(truncate(url))
            tenth = measure("import", url, small)
            print(f"import of {args.rows // 10:,} rows: {tenth['seconds']:.1f}s peak "
                  f"{tenth['peak_rss_mib']:.0f} MiB", flush=True)  # fmt: skip
        finally:
            db.stop()
    raw_s = statistics.median(r["seconds"] for r in raw)
    ours_s = statistics.median(r["seconds"] for r in ours)
    summary = {
        "rows": args.rows,
        "runs": args.runs,
        "raw_copy_seconds": raw_s,
        "import_seconds": ours_s,
        "ratio": ours_s / raw_s,
        "raw_copy_cpu": {k: statistics.median(r[k] for r in raw) for k in CPU},
        "import_cpu": {k: statistics.median(r[k] for r in ours) for k in CPU},
        "cpu_ratio": sum(statistics.median(r[k] for r in ours) for k in CPU)
        / sum(statistics.median(r[k] for r in raw) for k in CPU),
        "raw_copy_peak_rss_mib": max(r["peak_rss_mib"] for r in raw),
        "import_peak_rss_mib": max(r["peak_rss_mib"] for r in ours),
        "import_tenth_peak_rss_mib": tenth["peak_rss_mib"],
        "import_tenth_seconds": tenth["seconds"],
        "all": {"raw": raw, "import": ours},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load": os.getloadavg(),
        },
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "all"}, indent=2))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"crosscheck_import-{stamp}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
