"""Running a rule set: each rule is one `INSERT INTO crosscheck_hits ... SELECT`, in its own
transaction with the rule marked done, so a run interrupted by a restart resumes at the first
rule not done (see `jobs`). The job row is share-locked while a rule runs: no other worker can
take the run over in the middle of a rule."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import UUID, Select, exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.findings.crosschecks.jobs import JobContext, JobLost
from services.findings.crosschecks.models import (
    CrosscheckDismissal,
    CrosscheckHit,
    CrosscheckJob,
    CrosscheckRun,
    CrosscheckRunRule,
    DatasetVersion,
)
from services.findings.crosschecks.rules import BUILTIN, Bindings, const
from services.findings.crosschecks.spec import RuleSpec, compile_spec

# The planner settings of a rule's statement. A rule groups the matched rows per person: left
# alone, the planner sorts both datasets whole for a merge join that hands the groups over in
# order (and sorts the million rows by the aggregates' keys as well), where hashing the smaller
# dataset and sorting only the matches is several times cheaper. Memory for that hash, per
# statement, is what work_mem grants.
PLANNER = {"work_mem": "64MB", "enable_mergejoin": "off", "enable_presorted_aggregate": "off"}
HIT_COLUMNS = ["run_id", "run_rule_id", "rule_code", "subject", "match_key", "content_hash", "rows"]


def rule_select(rule: CrosscheckRunRule, rows: dict[str, int] | None = None) -> Select[Any]:
    """The rule's SELECT; `rows`: how many rows each role's versions hold."""
    bindings = Bindings(
        {role: [uuid.UUID(v) for v in vs] for role, vs in rule.datasets.items()}, rows
    )
    if rule.spec is not None:
        return compile_spec(rule.rule_code, RuleSpec.model_validate(rule.spec), bindings)
    builtin = BUILTIN[rule.rule_code]
    return builtin.build(rule.rule_code, builtin.params.model_validate(rule.params), bindings)


def hits_insert(
    run_id: uuid.UUID,
    rule: CrosscheckRunRule,
    dismissed: bool = True,
    rows: dict[str, int] | None = None,
) -> Any:
    """The rule's matches, less those dismissed before on the same data (`dismissed`: the
    rule has dismissals to leave out)."""
    m = rule_select(rule, rows).subquery("m")
    d = CrosscheckDismissal
    new = select(
        literal(run_id, UUID),
        literal(rule.id, UUID),
        const(rule.rule_code),
        m.c.subject,
        m.c.match_key,
        m.c.content_hash,
        m.c.rows,
    )
    if dismissed:
        new = new.where(
            ~exists().where(
                d.rule_code == rule.rule_code,
                d.match_key == m.c.match_key,
                d.content_hash == m.c.content_hash,
            )
        )
    return insert(CrosscheckHit).from_select(HIT_COLUMNS, new)


async def run_crosscheck(ctx: JobContext) -> None:
    run_id = uuid.UUID(ctx.payload["run_id"])
    async with ctx.sessions() as session:
        rules = list(
            await session.scalars(
                select(CrosscheckRunRule)
                .where(CrosscheckRunRule.run_id == run_id)
                .order_by(CrosscheckRunRule.ordinal)
            )
        )
    total = len(rules)
    done = sum(r.done_at is not None for r in rules)
    ctx.progress(done, total)
    for rule in rules:
        if rule.done_at is not None:
            continue
        async with ctx.sessions() as session, session.begin():
            await hold(session, ctx)
            await session.execute(
                select(*(func.set_config(k, v, True) for k, v in PLANNER.items()))
            )
            dismissed = await session.scalar(
                select(exists().where(CrosscheckDismissal.rule_code == rule.rule_code))
            )
            rows = await role_rows(session, rule)
            result = await session.execute(hits_insert(run_id, rule, bool(dismissed), rows))
            count = int(result.rowcount)  # type: ignore[attr-defined]
            await session.execute(
                update(CrosscheckRunRule)
                .where(CrosscheckRunRule.id == rule.id)
                .values(hit_count=count, done_at=func.now())
            )
            await session.execute(
                update(CrosscheckRun)
                .where(CrosscheckRun.id == run_id)
                .values(hit_count=CrosscheckRun.hit_count + count)
            )
            done += 1
            ctx.progress(done, total)
            if done == total:
                hits = await session.scalar(
                    select(CrosscheckRun.hit_count).where(CrosscheckRun.id == run_id)
                )
                await ctx.finish(session, {"run_id": str(run_id), "hits": hits})
                return
    async with ctx.sessions() as session, session.begin():  # nothing was left to run
        hits = await session.scalar(
            select(CrosscheckRun.hit_count).where(CrosscheckRun.id == run_id)
        )
        await ctx.finish(session, {"run_id": str(run_id), "hits": hits or 0})


async def role_rows(session: AsyncSession, rule: CrosscheckRunRule) -> dict[str, int]:
    """How many rows each of the rule's roles has in its versions."""
    ids = {uuid.UUID(v) for vs in rule.datasets.values() for v in vs}
    found = await session.execute(
        select(DatasetVersion.id, DatasetVersion.row_count).where(DatasetVersion.id.in_(ids))
    )
    counts: dict[uuid.UUID, int] = dict(found.all())
    return {
        role: sum(counts.get(uuid.UUID(v), 0) for v in vs) for role, vs in rule.datasets.items()
    }


async def hold(session: AsyncSession, ctx: JobContext) -> None:
    """Renews the lease of our job, if it is still ours, and keeps its row locked until this
    transaction ends: nobody takes the job over in the middle of a rule (a claim skips locked
    rows); the runner's own renewals wait meanwhile."""
    ours = await session.scalar(
        update(CrosscheckJob)
        .where(
            CrosscheckJob.id == ctx.job_id,
            CrosscheckJob.attempts == ctx.attempt,
            CrosscheckJob.state == "running",
        )
        .values(lease_until=func.now() + ctx.lease)
        .returning(CrosscheckJob.id)
    )
    if ours is None:
        raise JobLost(f"job {ctx.job_id} was taken over")
