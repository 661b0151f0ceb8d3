"""Background jobs of cross-checks (imports and runs), with their progress in
`crosscheck_jobs`, run by a `JobRunner` inside each findings process.

The table is the queue. A request that starts work inserts a `queued` job in its own
transaction and wakes the local runner once that has committed (a background task after the
response); every runner also polls. A runner claims the oldest job it can run with
`FOR UPDATE SKIP LOCKED`, sets it `running` with a lease (`lease_until`) and bumps `attempts`,
which is the fencing token of that claim: the lease is renewed every few seconds (with the
progress) only while `attempts` is still ours, and the job's outcome is written in the same
transaction as its work, again only if it is still ours. So a stalled worker whose lease was
taken over can neither renew it nor commit.

What a restart does (or a crash, or a replica going away): the job's open transaction rolls
back with its connection, and once the lease has run out the job is claimed again:

- a **run** resumes: each rule's hits were committed with the rule marked done, so the next
  attempt starts at the first rule not done;
- an **import** starts over from its uploaded file, which is kept (under the evidence store's
  `tmp/`) until the job ends. Only a runner on the host that received the file claims it; if
  that host never comes back, any runner fails the job after `ORPHAN_AFTER`.

A job that has been claimed `MAX_ATTEMPTS` times (it keeps crashing its worker) is failed.
On a clean shutdown the runner gives its lease up at once, so the restarted process resumes
without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.errors import Problem
from services.findings.crosschecks.enums import JobKind, JobState
from services.findings.crosschecks.models import CrosscheckJob

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
ORPHAN_AFTER = timedelta(hours=1)
HOST = socket.gethostname()[:255]
J = CrosscheckJob


class JobLost(Exception):
    """The job was claimed by another worker meanwhile (our lease ran out)."""


@dataclass
class JobContext:
    """What a job's handler gets: the job as claimed, a way to report progress, and the
    fencing check for its final write."""

    job_id: uuid.UUID
    attempt: int
    kind: str
    payload: dict[str, Any]
    created_by: str
    round_id: uuid.UUID | None
    sessions: async_sessionmaker[AsyncSession]
    lease: timedelta = timedelta(seconds=30)
    processed: int = 0
    total: int | None = None
    percent: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def progress(self, processed: int, total: int | None, percent: float | None = None) -> None:
        """Recorded with the next lease renewal (every `RENEW_SECONDS`), never per row."""
        self.processed, self.total = processed, total
        if percent is None and total:
            percent = 100 * processed / total
        if percent is not None:
            self.percent = max(0, min(99, int(percent)))  # 100 only when it is done

    async def finish(self, session: AsyncSession, result: dict[str, Any]) -> None:
        """Marks the job done inside the handler's own transaction (so the outcome commits
        with the work, or neither does); raises `JobLost` if it is no longer ours."""
        done = await session.execute(
            update(J)
            .where(J.id == self.job_id, J.attempts == self.attempt, J.state == "running")
            .values(
                state=JobState.done.value,
                percent=100,
                processed=self.processed,
                total=self.total,
                result=result,
                lease_until=None,
                finished_at=func.now(),
                updated_at=func.now(),
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise JobLost(f"job {self.job_id} was taken over")


Handler = Callable[[JobContext], Awaitable[None]]


class JobRunner:
    """Claims and runs jobs one at a time in this process until cancelled."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        handlers: dict[str, Handler],
        *,
        poll_seconds: float = 1.0,
        lease_seconds: float = 30.0,
        renew_seconds: float = 1.0,
        host: str = HOST,
    ) -> None:
        self.sessions = sessions
        self.handlers = handlers
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.renew_seconds = renew_seconds
        self.host = host
        self._wake = asyncio.Event()
        self.current: JobContext | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                ctx = await self.claim()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: try again later
                log.exception("claiming a cross-check job failed")
                ctx = None
            if ctx is not None:
                await self.execute(ctx)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def claim(self) -> JobContext | None:
        async with self.sessions() as session, session.begin():
            await self._fail_abandoned(session)
            pending = (
                select(J.id)
                .where(
                    (J.state == JobState.queued.value)
                    | ((J.state == JobState.running.value) & (J.lease_until < func.now())),
                    (J.kind != JobKind.dataset_import.value) | (J.host == self.host),
                )
                .order_by(J.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            job = (
                await session.execute(
                    update(J)
                    .where(J.id == pending)
                    .values(
                        state=JobState.running.value,
                        attempts=J.attempts + 1,
                        lease_until=func.now() + self.lease,
                        started_at=func.coalesce(J.started_at, func.now()),
                        updated_at=func.now(),
                    )
                    .returning(J)
                )
            ).scalar_one_or_none()
            if job is None:
                return None
            ctx = JobContext(
                job_id=job.id,
                attempt=job.attempts,
                kind=job.kind,
                payload=job.payload,
                created_by=job.created_by,
                round_id=job.round_id,
                sessions=self.sessions,
                lease=self.lease,
                processed=job.processed,
                total=job.total,
                percent=job.percent,
            )
            if job.attempts > MAX_ATTEMPTS:
                message = (
                    f"任务多次中断，已放弃 the job was interrupted {MAX_ATTEMPTS} times; "
                    "start it again"
                )
                await self._fail(session, ctx, _error("job-abandoned", message))
                return None
            return ctx

    async def _fail_abandoned(self, session: AsyncSession) -> None:
        """Imports left by a host that has not come back for `ORPHAN_AFTER`."""
        await session.execute(
            update(J)
            .where(
                J.kind == JobKind.dataset_import.value,
                J.state.in_([JobState.queued.value, JobState.running.value]),
                J.host != self.host,
                func.coalesce(J.lease_until, J.created_at) < func.now() - ORPHAN_AFTER,
            )
            .values(
                state=JobState.failed.value,
                error=_error("job-abandoned", "接收文件的服务器未恢复，请重新上传 the host "
                             "that received the file is gone; upload it again"),
                finished_at=func.now(),
                updated_at=func.now(),
                lease_until=None,
            )
        )  # fmt: skip

    async def execute(self, ctx: JobContext) -> None:
        self.current = ctx
        work: asyncio.Task[None] = asyncio.ensure_future(self.handlers[ctx.kind](ctx))
        renewer = asyncio.create_task(self._renew(ctx, work))
        try:
            await work
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                # shutting down: give the lease up so that the next start resumes at once
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._release(ctx))
                raise
            # else the renewal found the job taken over, and cancelled the work
            log.warning("job %s was taken over by another worker", ctx.job_id)
        except JobLost:
            log.warning("job %s was taken over by another worker", ctx.job_id)
        except Problem as problem:
            await self._fail_quietly(ctx, _problem(problem))
        except Exception:
            log.exception("cross-check job %s failed", ctx.job_id)
            await self._fail_quietly(ctx, _error("internal-error", "任务执行出错 the job failed"))
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            self.current = None

    async def _renew(self, ctx: JobContext, work: asyncio.Task[None]) -> None:
        """Every `renew_seconds`: the lease extended and the progress recorded, while the job
        is ours; if it is not any more, the work is cancelled."""
        while True:
            await asyncio.sleep(self.renew_seconds)
            try:
                async with self.sessions() as session, session.begin():
                    renewed = await session.execute(
                        update(J)
                        .where(J.id == ctx.job_id, J.attempts == ctx.attempt, J.state == "running")
                        .values(
                            lease_until=func.now() + self.lease,
                            processed=ctx.processed,
                            total=ctx.total,
                            percent=ctx.percent,
                            updated_at=func.now(),
                        )
                    )
            except Exception:  # the database is away for a moment: the lease has slack
                log.warning("could not renew the lease of job %s", ctx.job_id, exc_info=True)
                continue
            if renewed.rowcount != 1:  # type: ignore[attr-defined]
                work.cancel()
                return

    async def _release(self, ctx: JobContext) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(J)
                .where(J.id == ctx.job_id, J.attempts == ctx.attempt, J.state == "running")
                .values(lease_until=func.now(), attempts=J.attempts - 1)
            )

    async def _fail_quietly(self, ctx: JobContext, error: dict[str, Any]) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await self._fail(session, ctx, error)
        except Exception:
            log.exception("could not record the failure of job %s", ctx.job_id)

    @staticmethod
    async def _fail(session: AsyncSession, ctx: JobContext, error: dict[str, Any]) -> None:
        await session.execute(
            update(J)
            .where(J.id == ctx.job_id, J.attempts == ctx.attempt)
            .values(
                state=JobState.failed.value,
                error=error,
                processed=ctx.processed,
                total=ctx.total,
                lease_until=None,
                finished_at=func.now(),
                updated_at=func.now(),
            )
        )


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"type": f"/problems/{code}", "status": 500 if code == "internal-error" else 409,
            "title": detail, "detail": detail}  # fmt: skip


def _problem(problem: Problem) -> dict[str, Any]:
    """The problem+json the request would have answered, had the job run inside it."""
    body: dict[str, Any] = {
        "type": problem.type_uri(),
        "title": problem.title_zh,
        "status": problem.status,
    }
    if problem.detail:
        body["detail"] = problem.detail
    body.update(problem.extensions)
    return body
