"""The hand-over statistics (GET /api/v1/leads/stats) at the scale of a city's records: 100,000
leads with their subjects and 300,000 rectification items over 20 rounds. Run by hand (not by
CI), about 15 minutes:

    make install
    PYTHONPATH=. .venv/bin/python bench/referrals_stats.py [--runs 7] [--explain]

It starts an embedded PostgreSQL in a temporary directory, migrates it, and loads the referrals
schema straight with set-based SQL (one INSERT … SELECT FROM generate_series per table; every
value a hash of the row number, so each run loads the same records; the CHECK constraints and
the statistics' own reconciliation checks hold):

  finding_snapshots   200,000  (10,000 findings per round, 10 groups, 3,000 inspected units)
  leads               100,000  (later rounds bigger: round k holds (2k+1)/400 of them; 5% made
                                from findings of two rounds, `round_id` null; statuses from draft
                                to concluded, 30% of the concluded ones after a filed case)
  lead_subjects      ~160,000  (1-3 per lead; an outcome for every subject of a concluded lead)
  rectification_items 300,000  (the same spread of rounds, 3% from two rounds; 55% signed off)
  suggestions 6,000, rules 3,000 (uniform over the rounds)

then VACUUM (ANALYZE), and calls the referrals app in-process (ASGI, an office internal token
minted here):

  reference  GET /api/v1/leads?limit=1                (a trivial indexed read, same app)
  all        GET /api/v1/leads/stats                  (every record)
  one round  GET /api/v1/leads/stats?round_id=…       (the latest round, the biggest: ~9.8%)
  5 rounds   GET /api/v1/leads/stats?round_id=…×5     (the five latest: ~44%)

1. custom plans: the service's role set to plan_cache_mode = force_custom_plan in this
   throwaway database, a warm-up, then --runs calls of each case, interleaved; the medians, and
   each as a multiple of the reference;
2. as deployed (plan_cache_mode auto): --deployed-calls calls of each case in a row on one
   pooled connection. asyncpg prepares the statement once per connection, and from its sixth
   execution PostgreSQL may use a generic plan (one not made for the round ids given); a call
   over --timeout seconds is cancelled.

`--explain` prints EXPLAIN (ANALYZE, BUFFERS) of the statement the app sends for each case
(captured from its engine, run again with the same parameters) as a per-scan summary, with the
generic plan's scans (EXPLAIN only), and the whole custom plan of the heaviest. PostgreSQL and
this process share the machine's cores: the figures are for this machine, in this run, and
each run reports how many cores other work kept busy meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.keys import Signer  # noqa: E402
from ops.pg import free_port  # noqa: E402
from ops.stack import Database  # noqa: E402
from services.common.auth import KeySet  # noqa: E402
from services.referrals.app import create_app  # noqa: E402
from services.referrals.settings import ReferralsSettings  # noqa: E402

RESULTS = Path(__file__).parent / "results"
ROUNDS = 20
FINDINGS_PER_ROUND = 10_000
GROUPS_PER_ROUND = 10
TARGETS = 3_000
LEADS = 100_000
ITEMS = 300_000
SUGGESTIONS_PER_ROUND = 300
RULES_PER_ROUND = 150
ONE_ROUND = [ROUNDS - 1]  # the latest round, the biggest
FIVE_ROUNDS = list(range(ROUNDS - 5, ROUNDS))


def round_id(k: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{k:012d}")


def _id(prefix: str, n: str) -> str:
    """A uuid made of a fixed prefix and a number (SQL)."""
    return f"('{prefix}-0000-4000-8000-' || lpad(({n})::text, 12, '0'))::uuid"


def h(seed: int, n: int, of: str = "g") -> str:
    """A number in [0, n) from a hash of `of` (SQL): the same for the same row in every run."""
    return f"((hashint8extended(({of})::bigint, {seed}) & 9223372036854775807) % {n})::int"


def ht(seed: int, n: int, of: str) -> str:
    """The same for a text expression."""
    return f"((hashtextextended(({of})::text, {seed}) & 9223372036854775807) % {n})::int"


def pick(hashed: str, choices: list[tuple[int, str]]) -> str:
    """CASE over cumulative percentages: [(40, "'a'"), (100, "'b'")]."""
    whens = " ".join(f"WHEN {hashed} < {upto} THEN {value}" for upto, value in choices[:-1])
    return f"CASE {whens} ELSE {choices[-1][1]} END"


TODAY = "(timezone('Asia/Shanghai', now()))::date"
FPR = FINDINGS_PER_ROUND


def finding(round_expr: str, n_expr: str) -> str:
    """The id of finding `n` of round `round_expr` (SQL)."""
    return _id("10000000", f"({round_expr}) * {FPR} + ({n_expr})")


def skewed_round(seed: int) -> str:
    """Round k with probability (2k+1)/ROUNDS²: later rounds hold more records."""
    u = f"({h(seed, 1_000_000)} / 1000000.0)"
    return f"least({ROUNDS - 1}, floor({ROUNDS} * sqrt({u}))::int)"


def enum_pick(seed: int, of: str, weights: dict[str, int], hash_text: bool = False) -> str:
    """One of the codes, with the given percentages (they add up to 100)."""
    assert sum(weights.values()) == 100, weights
    cumulative, total = [], 0
    for code, pct in weights.items():
        total += pct
        cumulative.append((total, f"'{code}'"))
    return pick(ht(seed, 100, of) if hash_text else h(seed, 100, of), cumulative)


# -- finding_snapshots: every finding the leads and items are made from ----------------------

SNAP_ID = finding(f"f / {FPR}", f"f % {FPR}")
SNAP_TARGET = _id("30000000", h(1, TARGETS, "f"))
SNAP_ROUND = _id("00000000", f"f / {FPR}")
SNAP_GROUP = _id("20000000", f"(f / {FPR}) * {GROUPS_PER_ROUND} + f % {GROUPS_PER_ROUND}")
SNAPSHOTS = f"""
INSERT INTO referrals.finding_snapshots (finding_id, title, target_id, round_id, group_id)
SELECT {SNAP_ID}, '问题' || f || '：村集体资金管理不规范，未按规定公开',
       {SNAP_TARGET}, {SNAP_ROUND}, {SNAP_GROUP}
FROM generate_series(0, {ROUNDS * FPR - 1}) f
"""  # noqa: S608 - built from constants

# -- leads --------------------------------------------------------------------------------------
# Per lead: its round k, whether it is made from findings of two rounds (5%), the status, and a
# registration day 30 days to three years ago; 30% of concluded leads went through a case.

LEAD_STATUS = pick(
    "st",
    [(3, "'draft'"), (5, "'approved'"), (10, "'transferred'"), (15, "'received'"),
     (30, "'handling'"), (40, "'case_filed'"), (100, "'concluded'")],
)  # fmt: skip
HANDLING = enum_pick(
    10,
    "g",
    {"talk_inquiry": 40, "preliminary_verification": 20, "shelved": 15, "closed": 25},
)
RECIPIENT = enum_pick(
    7,
    "g",
    {"discipline_commission": 60, "organisation_department": 25,
     "stationed_discipline_group": 10, "other": 5},
)  # fmt: skip
OTHER_ROUND = f"(k + {ROUNDS - 1}) % {ROUNDS}"
LEAD_MIXED = f"ARRAY[{finding('k', h(4, FPR))}, {finding(OTHER_ROUND, h(5, FPR))}]"
LEAD_FINDING = finding("k", h(4, FPR, "g * 8 + j"))
LEAD_ONE_ROUND = f"ARRAY(SELECT {LEAD_FINDING} FROM generate_series(1, 1 + {h(3, 3)}) j)"  # noqa: S608
SENT = "status NOT IN ('draft', 'approved')"
CASE = "(status = 'case_filed' OR (status = 'concluded' AND has_case))"
MONEY = f"({h(15, 5_000_000)} / 100.0)::numeric(14, 2)"
LEADS_SQL = f"""
WITH b AS (
  SELECT g, k, mixed, st, d, has_case, {TODAY} - d + {h(9, 20)} AS transferred
  FROM (
    SELECT g, {skewed_round(1)} AS k, {h(2, 100)} < 5 AS mixed,
           {h(6, 100)} AS st, 30 + {h(8, 1065)} AS d, {h(11, 100)} < 30 AS has_case
    FROM generate_series(1, __LEADS__) g
  ) s
), c AS (
  SELECT b.*, {LEAD_STATUS} AS status, {HANDLING} AS any_handling FROM b
)
INSERT INTO referrals.leads (
  id, title, summary, finding_ids, round_id, recipient, status, approved_by, transfer_letter_no,
  transferred_on, feedback_due, handling, case_number, case_filed_on, concluded_on,
  money_recovered, created_by, created_at, updated_at)
SELECT
  {_id("40000000", "g")},
  '关于某村党支部书记问题线索（' || g || '）',
  repeat('反映该村党支部书记在扶贫项目资金使用中优亲厚友、违规发放补贴，涉及金额较大。', 3),
  CASE WHEN mixed THEN {LEAD_MIXED} ELSE {LEAD_ONE_ROUND} END,
  CASE WHEN mixed THEN NULL ELSE {_id("00000000", "k")} END,
  {RECIPIENT},
  status,
  CASE WHEN status <> 'draft' THEN 'office-head' END,
  CASE WHEN {SENT} THEN '赤巡移〔' || g || '〕号' END,
  CASE WHEN {SENT} THEN transferred END,
  CASE WHEN {SENT} THEN (transferred + interval '3 months')::date END,
  CASE WHEN {CASE} THEN 'preliminary_verification'
       WHEN status IN ('handling', 'concluded') THEN any_handling END,
  CASE WHEN {CASE} THEN '立案' || g END,
  CASE WHEN {CASE} THEN least({TODAY}, transferred + {h(12, 25)}) END,
  CASE WHEN status = 'concluded' THEN least({TODAY}, transferred + 30 + {h(13, 150)}) END,
  CASE WHEN status = 'concluded' AND {h(14, 100)} < 20 THEN {MONEY} ELSE 0 END,
  'bench', now() - d * interval '1 day', now() - d * interval '1 day'
FROM c
"""  # noqa: S608 - built from constants

# -- lead_subjects --------------------------------------------------------------------------
# 1 subject (55%), 2 (30%) or 3; 85% party members. Every subject of a concluded lead has an
# outcome: sanctions only after a filed case, party sanctions only for members, "not
# substantiated" alone (the CHECKs and the reconciliation checks of the statistics).

SUBJECT_COUNT = pick(ht(20, 100, "l.id"), [(55, "1"), (85, "2"), (100, "3")])
RANK = enum_pick(
    21,
    "key",
    {"village": 35, "section_deputy": 20, "section": 20, "division_deputy": 7, "division": 4,
     "bureau_deputy": 1, "bureau": 1, "none": 7, "other": 5},
    hash_text=True,
)  # fmt: skip
PARTY = enum_pick(
    24,
    "key",
    {"warning": 45, "serious_warning": 25, "removal_from_party_post": 10, "probation": 10,
     "expulsion": 10},
    hash_text=True,
)  # fmt: skip
GOVERNMENT = enum_pick(
    25,
    "key",
    {"warning": 40, "demerit": 25, "major_demerit": 15, "demotion": 10,
     "dismissal_from_post": 6, "expulsion": 4},
    hash_text=True,
)  # fmt: skip
ORGANISATIONAL = enum_pick(
    26,
    "key",
    {"admonishment_talk": 30, "criticism_education": 25, "ordered_self_examination": 15,
     "circulated_criticism": 15, "adjusted_post": 8, "ordered_resignation": 4, "removal": 3},
    hash_text=True,
)  # fmt: skip
# o, per subject of a concluded lead with a case: < 50 party sanction (government if not a
# member), 50-74 government sanction (and party too for half the members), 75-84 organisational
# handling, 85-89 judicial transfer (and party sanction if a member), >= 90 not substantiated.
# Without a case: < 60 organisational handling, else not substantiated.
WITH_PARTY = "(o < 50 OR (o < 75 AND o % 2 = 0) OR (o >= 85 AND o < 90))"
WITH_GOVERNMENT = "((o < 50 AND NOT member) OR (o >= 50 AND o < 75))"
WITH_ORGANISATIONAL = "((has_case AND o >= 75 AND o < 85) OR (NOT has_case AND o < 60))"
SUBJECTS_SQL = f"""
WITH s AS (
  SELECT l.id AS lead_id, l.status, l.case_number IS NOT NULL AS has_case, p,
         l.id::text || p AS key
  FROM referrals.leads l CROSS JOIN LATERAL generate_series(1, {SUBJECT_COUNT}) p
), t AS (
  SELECT s.*, {ht(22, 100, "key")} < 85 AS member, {ht(23, 100, "key")} AS o,
         status = 'concluded' AS done
  FROM s
)
INSERT INTO referrals.lead_subjects (
  lead_id, position_no, name, position, rank, party_member, party_sanction,
  government_sanction, organisational_handling, judicial_transfer, not_substantiated)
SELECT lead_id, p, '某某' || p, '村党支部书记', {RANK}, member,
  CASE WHEN done AND has_case AND member AND {WITH_PARTY} THEN {PARTY} END,
  CASE WHEN done AND has_case AND {WITH_GOVERNMENT} THEN {GOVERNMENT} END,
  CASE WHEN done AND {WITH_ORGANISATIONAL} THEN {ORGANISATIONAL} END,
  done AND has_case AND o >= 85 AND o < 90,
  done AND ((has_case AND o >= 90) OR (NOT has_case AND o >= 60))
FROM t
"""  # noqa: S608 - built from constants

# -- rectification_items ----------------------------------------------------------------------
# Open 25%, completion requested 10%, sent back 5%, signed off 55%, reopened 5%; a deadline 30 to
# 210 days after a creation day up to three years ago (so some open items are overdue); 3% made
# from findings of two rounds.

ITEM_STATUS = enum_pick(
    35,
    "g",
    {"open": 25, "completion_requested": 10, "sent_back": 5, "signed_off": 55, "reopened": 5},
)
OWNER_TYPE = enum_pick(
    40,
    "g",
    {"city_leader": 15, "party_head": 25, "stationed_discipline_group": 10,
     "responsible_unit": 50},
)  # fmt: skip
F1, F2 = finding("k", h(36, FPR)), finding("k", h(39, FPR))
ITEM_MIXED = f"ARRAY[{F1}, {finding(OTHER_ROUND, h(37, FPR))}]"
ITEMS_SQL = f"""
WITH b AS (
  SELECT g, {skewed_round(31)} AS k, {h(32, 100)} < 3 AS mixed, {h(33, 1095)} AS d,
         {ITEM_STATUS} AS status
  FROM generate_series(1, __ITEMS__) g
)
INSERT INTO referrals.rectification_items (
  id, title, duties, finding_ids, round_id, owner_type, owner_name, owner_user_id, leader_name,
  leader_user_id, unit_head_name, unit_head_user_id, deadline, status, signed_off_on,
  created_by, created_at, updated_at)
SELECT
  {_id("50000000", "g")},
  '整改事项' || g || '：规范村级财务管理',
  repeat('建立村级资金收支台账，每季度公开一次，由乡镇经管站审核。', 2),
  CASE WHEN mixed THEN {ITEM_MIXED}
       WHEN {h(38, 100)} < 70 THEN ARRAY[{F1}] ELSE ARRAY[{F1}, {F2}] END,
  CASE WHEN mixed THEN NULL ELSE {_id("00000000", "k")} END,
  {OWNER_TYPE},
  '责任单位' || (g % 500),
  CASE WHEN {h(41, 100)} < 60 THEN {_id("60000000", h(42, 2000))} END,
  CASE WHEN {h(43, 100)} < 50 THEN '分管领导' || (g % 200) END,
  CASE WHEN {h(43, 100)} < 50 THEN {_id("60000000", h(44, 2000))} END,
  CASE WHEN {h(45, 100)} < 50 THEN '主要负责人' || (g % 500) END,
  CASE WHEN {h(45, 100)} < 50 THEN {_id("60000000", h(46, 2000))} END,
  {TODAY} - d + 30 + {h(47, 180)},
  status,
  CASE WHEN status = 'signed_off' THEN least({TODAY}, {TODAY} - d + {h(48, 200)}) END,
  'bench', now() - d * interval '1 day', now() - d * interval '1 day'
FROM b
"""  # noqa: S608 - built from constants

# -- suggestions and rules established (uniform over the rounds) ------------------------------

ADOPTION = enum_pick(
    51, "g", {"pending": 20, "adopted": 50, "partially_adopted": 15, "not_adopted": 15}
)
SUGGESTIONS_SQL = f"""
INSERT INTO referrals.suggestions (
  round_id, target_id, addressed_to, content, adoption, finding_ids, created_by)
SELECT {_id("00000000", f"g % {ROUNDS}")}, {_id("30000000", h(50, TARGETS))}, '市农业农村局',
  '建议加强对村级财务的日常监督，完善“三资”管理制度。', {ADOPTION},
  ARRAY[{finding(f"g % {ROUNDS}", h(52, FPR))}], 'bench'
FROM generate_series(0, {ROUNDS * SUGGESTIONS_PER_ROUND - 1}) g
"""  # noqa: S608 - built from constants

RULES_SQL = f"""
INSERT INTO referrals.rules (
  round_id, target_id, unit, title, document_no, issued_on, finding_ids, created_by)
SELECT {_id("00000000", f"g % {ROUNDS}")}, {_id("30000000", h(60, TARGETS))}, '某镇人民政府',
  '村级财务管理办法（' || g || '）', '镇政发〔' || g || '〕号', {TODAY} - {h(61, 1000)},
  ARRAY[{finding(f"g % {ROUNDS}", h(62, FPR))}], 'bench'
FROM generate_series(0, {ROUNDS * RULES_PER_ROUND - 1}) g
"""  # noqa: S608 - built from constants


TABLES = [
    f"referrals.{t}"
    for t in ("finding_snapshots", "leads", "lead_subjects", "rectification_items",
              "suggestions", "rules")
]  # fmt: skip


async def load(url: str, leads: int, items: int) -> dict[str, float]:
    """Each table in one statement; seconds per step."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    steps: dict[str, float] = {}
    try:
        for name, sql in (
            ("finding_snapshots", SNAPSHOTS),
            ("leads", LEADS_SQL.replace("__LEADS__", str(leads))),
            ("lead_subjects", SUBJECTS_SQL),
            ("rectification_items", ITEMS_SQL.replace("__ITEMS__", str(items))),
            ("suggestions", SUGGESTIONS_SQL),
            ("rules", RULES_SQL),
        ):
            started = time.perf_counter()
            status = await conn.execute(sql)
            steps[name] = time.perf_counter() - started
            print(f"  {name:20} {status:>16}  {steps[name]:6.1f} s", flush=True)
        # The steady state of a live database (all-visible pages, fresh statistics), and no
        # autovacuum changing the plans halfway through the measurements.
        started = time.perf_counter()
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        steps["VACUUM (ANALYZE)"] = time.perf_counter() - started
        print(f"  {'VACUUM (ANALYZE)':20} {'':>16}  {steps['VACUUM (ANALYZE)']:6.1f} s", flush=True)
        sizes = await conn.fetch(
            "SELECT c.relname, c.reltuples::bigint AS rows, "
            "pg_total_relation_size(c.oid) AS bytes FROM pg_class c "
            "WHERE c.relnamespace = 'referrals'::regnamespace AND c.relkind = 'r' "
            "AND c.reltuples > 0 ORDER BY bytes DESC"
        )
        for r in sizes:
            print(f"  {r['relname']:20} {r['rows']:>10} rows {r['bytes'] / 2**20:8.1f} MiB")
    finally:
        await conn.close()
    return steps


class OtherLoad:
    """How many cores something other than this process and PostgreSQL kept busy since it was
    made (other people's tests on a shared machine spoil a run)."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster
        self.tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self.t0, self.busy0, self.ours0 = time.monotonic(), self._busy(), self._ours()

    @staticmethod
    def _busy() -> int:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values[:3]) + sum(values[5:8])  # user nice system, irq softirq steal

    def _ours(self) -> int:
        """utime + stime of this process, the postmaster and its live backends, and the
        postmaster's cutime + cstime: the backends and parallel workers that have exited."""
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2 :].split()
            pid, ppid = int(entry), int(fields[1])
            if pid in (os.getpid(), self.postmaster) or ppid == self.postmaster:
                total += int(fields[11]) + int(fields[12])
            if pid == self.postmaster:
                total += int(fields[13]) + int(fields[14])
        return total

    def other_cores(self) -> float:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        other = (self._busy() - self.busy0) - (self._ours() - self.ours0)
        return max(other, 0) * self.tick_s / elapsed


@dataclass
class Case:
    name: str
    path: str
    rounds: list[uuid.UUID] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)  # custom plans, interleaved runs
    deployed_ms: list[float | None] = field(default_factory=list)  # None: timed out
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return float(statistics.median(self.times_ms))

    def deployed(self, first: int, last: int | None = None) -> list[float | None]:
        return self.deployed_ms[first - 1 : last]


class App:
    """The referrals app in-process (ASGI) with an office internal token minted here."""

    def __init__(self, url: str) -> None:
        signer = Signer(Ed25519PrivateKey.generate(), [], issuer="inspection-gateway")
        keys = KeySet(None)
        keys.load(signer.jwks)
        claims = {"sub": str(uuid.uuid4()), "name": "bench", "roles": ["office"], "groups": []}
        self.token = signer.sign({**claims, "rid": "bench"}, audience="referrals", ttl=3600)
        self.app = create_app(ReferralsSettings(database_url=url), keys=keys)
        for name in ("access", "httpx"):  # a JSON line per request would drown the figures
            logging.getLogger(name).setLevel(logging.WARNING)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[httpx.AsyncClient]:
        async with (
            self.app.router.lifespan_context(self.app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {self.token}"},
            ) as client,
        ):
            yield client

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.app.state.db.engine
        return engine


async def call(client: httpx.AsyncClient, case: Case) -> float:
    """One request; milliseconds."""
    params = httpx.QueryParams([("round_id", str(r)) for r in case.rounds])
    if case.name == "reference":
        params = httpx.QueryParams({"limit": 1})
    started = time.perf_counter()
    resp = await client.get(case.path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"{case.name}: {resp.status_code} {resp.text[:500]}")
    case.body = resp.json()
    return elapsed


async def plan_cache_mode(url: str, mode: str) -> None:
    """The service role's default for new connections (only in this throwaway database)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if mode == "auto":
            await conn.execute("ALTER ROLE CURRENT_USER RESET plan_cache_mode")
        else:
            await conn.execute(f"ALTER ROLE CURRENT_USER SET plan_cache_mode = {mode}")
    finally:
        await conn.close()


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def explain(url: str, engine: AsyncEngine, call: Callable[[], Awaitable[Any]]) -> Any:
    """EXPLAIN (ANALYZE, BUFFERS) of the heaviest statement the app sends during `call()`
    (captured from its engine, then run again on it with the same parameters, as a custom plan),
    and EXPLAIN of the generic plan PostgreSQL switches to from the sixth execution of a
    prepared statement (not run: it can take minutes)."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await call()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    heaviest: dict[str, Any] | None = None
    async with engine.connect() as conn:
        for statement, params in captured:
            plans = {}
            for fmt in ("JSON", "TEXT"):
                res = await conn.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS, FORMAT {fmt}) {statement}", params
                )
                plans[fmt] = [r[0] for r in res.all()]
            doc = plans["JSON"][0]
            tree = (json.loads(doc) if isinstance(doc, str) else doc)[0]
            if heaviest is None or tree["Execution Time"] > heaviest["execution_ms"]:
                heaviest = {
                    "execution_ms": tree["Execution Time"],
                    "planning_ms": tree["Planning Time"],
                    "scans": scans(tree["Plan"]),
                    "text": "\n".join(plans["TEXT"]),
                    "statement": statement,
                    "params": params,
                }
        await conn.rollback()
    if heaviest is None:
        return None
    raw = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await raw.execute(f"PREPARE bench_stats AS {heaviest.pop('statement')}")
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        args = ", ".join(_literal(v) for v in heaviest.pop("params"))
        doc = await raw.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE bench_stats({args})")
        generic = (json.loads(doc) if isinstance(doc, str) else doc)[0]
        heaviest["generic_scans"] = scans(generic["Plan"])
    finally:
        await raw.close()
    return heaviest


def scans(node: dict[str, Any], found: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The plan's scans and joins, depth first: what each read and how long it took."""
    found = [] if found is None else found
    kind = node["Node Type"]
    if "Scan" in kind or "Join" in kind or kind in ("Nested Loop", "BitmapOr", "BitmapAnd"):
        found.append(
            {
                "node": kind,
                "relation": node.get("Relation Name", ""),
                "index": node.get("Index Name", ""),
                "rows": node.get("Actual Rows", node.get("Plan Rows", 0)),
                "loops": node.get("Actual Loops", 1),
                "ms": round(node.get("Actual Total Time", 0.0), 1),
                "shared_hit": node.get("Shared Hit Blocks", 0),
                "shared_read": node.get("Shared Read Blocks", 0),
                "filter": node.get("Filter", node.get("Index Cond", "")),
            }
        )
    for child in node.get("Plans", []):
        scans(child, found)
    return found


def print_explain(plans: dict[str, dict[str, Any]]) -> None:
    for name, plan in plans.items():
        print(
            f"\nEXPLAIN (ANALYZE, BUFFERS) {name}, custom plan: execution "
            f"{plan['execution_ms']:.1f} ms, planning {plan['planning_ms']:.1f} ms"
        )
        for s in plan["scans"]:
            where = s["relation"] + (f" using {s['index']}" if s["index"] else "")
            print(
                f"  {s['node']:22} {where:56} rows {s['rows']:>8.0f} x{s['loops']:<3.0f} "
                f"{s['ms']:>8.1f} ms  hit {s['shared_hit']:>6} read {s['shared_read']:>6}"
            )
            if s["filter"] and s["relation"] in ("leads", "rectification_items"):
                print(f"      {s['filter'][:160]}")
        print("  generic plan (from the 6th execution on a connection; estimated rows):")
        for s in plan.get("generic_scans", []):
            where = s["relation"] + (f" using {s['index']}" if s["index"] else "")
            print(f"  {s['node']:22} {where:56} rows {s['rows']:>8.0f}  {s['filter'][:70]}")
    heaviest = max(plans, key=lambda n: plans[n]["execution_ms"])
    print(f"\nThe heaviest, {heaviest} (custom plan):\n{plans[heaviest]['text']}")


async def measure_custom(
    url: str, runs: int, cases: list[Case], with_plans: bool, postmaster: int
) -> dict[str, dict[str, Any]]:
    """The service's role set to plan_cache_mode = force_custom_plan: every call planned for
    its parameters. Warm-up, then `runs` rounds of calls, the cases interleaved (order
    alternating)."""
    await plan_cache_mode(url, "force_custom_plan")
    app = App(url)
    plans: dict[str, dict[str, Any]] = {}
    async with app.running() as client:
        for case in cases:
            await call(client, case)
        for rep in range(runs):
            order = cases if rep % 2 == 0 else list(reversed(cases))
            meter = OtherLoad(postmaster)
            for case in order:
                case.times_ms.append(await call(client, case))
            print(
                f"  run {rep + 1}: "
                + "  ".join(f"{c.name} {c.times_ms[-1]:.0f} ms" for c in cases)
                + f"  (other work: {meter.other_cores():.2f} cores)",
                flush=True,
            )
        for case in cases[1:] if with_plans else []:
            plan = await explain(url, app.engine, functools.partial(call, client, case))
            if plan is not None:
                plans[case.name] = plan
    await plan_cache_mode(url, "auto")
    return plans


async def measure_deployed(url: str, calls: int, limit_s: float, cases: list[Case]) -> None:
    """As deployed (plan_cache_mode auto): `calls` calls of each case in a row on one pooled
    connection, as the office repeating a report; a call over `limit_s` seconds is cancelled
    and ends that case."""
    app = App(url)
    async with app.running() as client:
        for case in cases[1:]:
            for n in range(1, calls + 1):
                ms: float | None = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(limit_s):
                        ms = await call(client, case)
                case.deployed_ms.append(ms)
                shown = f"{ms:.0f} ms" if ms is not None else f"> {limit_s:.0f} s, cancelled"
                print(f"  {case.name:10} call {n}: {shown}", flush=True)
                if ms is None:
                    break


def fmt_ms(values: list[float | None]) -> str:
    if not values:
        return "-"
    return ", ".join("timeout" if v is None else f"{v:.0f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="calls of each case (median)")
    parser.add_argument(
        "--deployed-calls", type=int, default=7, help="calls in a row, as deployed (0: skip)"
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds, as deployed")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS)")
    parser.add_argument("--leads", type=int, default=LEADS)
    parser.add_argument("--items", type=int, default=ITEMS)
    args = parser.parse_args()

    cases = [
        Case("reference", "/api/v1/leads"),
        Case("all", "/api/v1/leads/stats"),
        Case("one round", "/api/v1/leads/stats", [round_id(k) for k in ONE_ROUND]),
        Case("5 rounds", "/api/v1/leads/stats", [round_id(k) for k in FIVE_ROUNDS]),
    ]
    plans: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-referrals-") as tmp:
        db = Database(data_dir=Path(tmp), pg_port=free_port())
        print(f"starting PostgreSQL under {tmp} …", flush=True)
        db.start()  # provisions and migrates: outside the event loop
        try:
            url = db.urls["referrals"]
            print(f"loading {args.leads} leads and {args.items} rectification items …", flush=True)
            started = time.perf_counter()
            steps = asyncio.run(load(url, args.leads, args.items))
            load_s = time.perf_counter() - started
            pidfile = Path(tmp) / "pg" / "pgdata" / "postmaster.pid"
            postmaster = int(pidfile.read_text().split()[0]) if pidfile.exists() else -1
            print(f"custom plans: {args.runs} runs of each case, interleaved …", flush=True)
            plans = asyncio.run(measure_custom(url, args.runs, cases, args.explain, postmaster))
            if args.deployed_calls:
                print(f"as deployed: {args.deployed_calls} calls of each case in a row …")
                asyncio.run(measure_deployed(url, args.deployed_calls, args.timeout, cases))
        finally:
            db.stop()

    ref = cases[0].median
    print(
        f"\nGET /api/v1/leads/stats, {args.leads} leads, {args.items} rectification items "
        f"(in-process ASGI, office token)\n"
        f"custom plans: median of {args.runs} calls; as deployed: ms of each call in a row"
    )
    print(
        f"{'case':10} {'median ms':>10} {'x reference':>12}   {'as deployed, calls 1-5':>28}   "
        f"{'calls 6-':>16}   figures"
    )
    for case in cases:
        b = case.body
        figures = (
            f"leads {b['leads']['handed_over']}, items {b['rectification']['fed_back']}, "
            f"rules {b['rules']}, consistent {b['consistent']}"
            if "leads" in b
            else ""
        )
        print(
            f"{case.name:10} {case.median:>10.1f} {case.median / ref:>12.1f}   "
            f"{fmt_ms(case.deployed(1, 5)):>28}   {fmt_ms(case.deployed(6)):>16}   {figures}"
        )
    print(f"load {load_s:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()) + ")")
    if plans:
        print_explain(plans)
    for case in cases[1:]:
        failed = [c for c in case.body.get("checks", []) if not c["ok"]]
        if failed:
            print(f"\n{case.name}: checks failed: {failed}")

    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = RESULTS / f"referrals_stats-{stamp}.json"
    result = {
        "leads": args.leads,
        "items": args.items,
        "rounds": ROUNDS,
        "load_seconds": round(load_s, 1),
        "load_steps": {k: round(v, 2) for k, v in steps.items()},
        "runs": args.runs,
        "cases": {
            c.name: {
                "median_ms": round(c.median, 2),
                "x_reference": round(c.median / ref, 1),
                "times_ms": [round(t, 2) for t in c.times_ms],
                "deployed_ms": [None if t is None else round(t, 2) for t in c.deployed_ms],
                "round_ids": [str(r) for r in c.rounds],
                "summary": c.body.get("summary"),
                "consistent": c.body.get("consistent"),
            }
            for c in cases
        },
        "explain": plans,
    }
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
