"""The job runner: a job whose worker went away is claimed again (a run resumes at its first
rule not done), a worker that lost its job cannot finish it, a job that keeps failing is given
up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from ops.stack import Database
from services.findings.crosschecks.jobs import MAX_ATTEMPTS, JobContext, JobLost, JobRunner
from services.findings.crosschecks.models import (
    CrosscheckHit,
    CrosscheckJob,
    CrosscheckRun,
    CrosscheckRunRule,
)
from tests.findings.conftest import World
from tests.findings.crosschecks.conftest import csv_bytes, hits, imported, person_id, run

J = CrosscheckJob
KIND = "import"


@pytest.fixture
async def sessions(database: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(database.urls["findings"])
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _job(sessions: async_sessionmaker[AsyncSession], **values: object) -> uuid.UUID:
    """A job only this module's runners (host "test") claim: an import is bound to the host
    that received its file, so the findings service of the end-to-end tests, on the same
    database, leaves it alone (it claimed these jobs when they were runs, without a run id)."""
    job_id = uuid.uuid4()
    async with sessions() as s, s.begin():
        await s.execute(insert(J).values(id=job_id, kind=KIND, payload={}, host="test",
                                         created_by="test", **values))  # fmt: skip
    return job_id


async def _state(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> J:
    async with sessions() as s:
        return (await s.execute(select(J).where(J.id == job_id))).scalar_one()


async def _settle(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> J:
    for _ in range(200):
        job = await _state(sessions, job_id)
        if job.state in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not end")


async def test_a_job_whose_lease_ran_out_is_claimed_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[int] = []

    async def handler(ctx: JobContext) -> None:
        seen.append(ctx.attempt)
        async with ctx.sessions() as s, s.begin():
            await ctx.finish(s, {"ok": True})

    job_id = await _job(sessions, state="running", attempts=1)
    async with sessions() as s, s.begin():  # its worker went away a while ago
        await s.execute(update(J).where(J.id == job_id).values(
            lease_until=func.now() - timedelta(seconds=5)))  # fmt: skip
    runner = JobRunner(sessions, {KIND: handler}, poll_seconds=0.05, host="test")
    task = asyncio.create_task(runner.run())
    try:
        job = await _settle(sessions, job_id)
    finally:
        task.cancel()
    assert (job.state, job.attempts, job.result) == ("done", 2, {"ok": True})
    assert 2 in seen


async def test_a_worker_that_lost_its_job_cannot_finish_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    job_id = await _job(sessions, state="running", attempts=2)
    stale = JobContext(job_id, 1, "run", {}, "test", None, sessions)
    async with sessions() as s, s.begin():
        with pytest.raises(JobLost):
            await stale.finish(s, {"ok": True})
    assert (await _state(sessions, job_id)).state == "running"


async def test_a_job_that_keeps_crashing_its_worker_is_given_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    job_id = await _job(sessions, state="running", attempts=MAX_ATTEMPTS)
    async with sessions() as s, s.begin():
        await s.execute(update(J).where(J.id == job_id).values(
            lease_until=func.now() - timedelta(seconds=5)))  # fmt: skip

    async def never(ctx: JobContext) -> None:
        raise AssertionError("a job given up is not run again")

    runner = JobRunner(sessions, {KIND: never}, poll_seconds=0.05, host="test")
    task = asyncio.create_task(runner.run())
    try:
        job = await _settle(sessions, job_id)
    finally:
        task.cancel()
    assert job.state == "failed"
    assert job.error is not None
    assert job.error["type"] == "/problems/job-abandoned"


async def test_a_worker_shut_down_mid_job_gives_the_lease_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(60)

    job_id = await _job(sessions)
    runner = JobRunner(sessions, {KIND: slow}, poll_seconds=0.05, host="test")
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    job = await _state(sessions, job_id)
    # claimable again at once, and the interrupted attempt does not count
    assert job.state == "running"
    assert job.attempts == 0
    async with sessions() as s:
        assert await s.scalar(select(J.lease_until <= func.now()).where(J.id == job_id))


@pytest.mark.usefixtures("fast_jobs")
async def test_an_interrupted_run_resumes_at_its_first_rule_not_done(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = person_id(301), person_id(302)
    loans = await imported(world, csv_bytes(["姓名", "身份证号", "金额", "银行账号"], [
        ["甲", a, "900000", "62220009"], ["乙", b, "1000", "62220009"],
    ]), kind="loan_recipients")  # fmt: skip
    done = await run(world, [loans], [
        {"code": "amount_over_cap", "params": {"cap": "100000"}},
        {"code": "shared_account", "params": {"min_recipients": 2}},
    ])  # fmt: skip
    assert len(await hits(world, done["id"])) == 2
    # as if the worker died after the first rule: its hits kept, the second rule's not
    async with sessions() as s, s.begin():
        rule = CrosscheckRunRule
        query = select(rule).where(rule.run_id == uuid.UUID(done["id"]), rule.ordinal == 1)
        second = (await s.execute(query)).scalar_one()
        await s.execute(delete(CrosscheckHit).where(CrosscheckHit.run_rule_id == second.id))
        await s.execute(update(CrosscheckRunRule).where(CrosscheckRunRule.id == second.id)
                        .values(done_at=None, hit_count=None))  # fmt: skip
        await s.execute(update(CrosscheckRun).where(CrosscheckRun.id == uuid.UUID(done["id"]))
                        .values(hit_count=1))  # fmt: skip
        expired = func.now() - timedelta(seconds=1)
        await s.execute(update(J).where(J.id == uuid.UUID(done["job"]["id"])).values(
            state="running", lease_until=expired, result=None))  # fmt: skip
    job = await _settle(sessions, uuid.UUID(done["job"]["id"]))
    assert job.state == "done"
    assert job.result == {"run_id": done["id"], "hits": 2}
    found = await hits(world, done["id"])
    assert sorted(h["rule_code"] for h in found) == ["amount_over_cap", "shared_account"]
