"""Export packages as jobs: `POST /api/v1/exports` queues one and answers 202; it runs in the
gateway (at most `export_concurrency` at a time), pages through the services' lists with their
keyset cursors and writes each page as it comes (package.py, in a worker thread so the event
loop keeps serving), then the leads and items of several rounds (registers.py) when the
statistics count more than the rounds' own; `GET /api/v1/exports/{id}` tells its progress,
`…/download` streams the ZIP from disk. A finished package is kept `export_keep_seconds`, then
deleted.

The jobs are held in this gateway process (a package is a file on its disk): behind several
gateway replicas, the export routes need session affinity (by job id), and a restart
forgets the jobs it was running (the client asks again)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from gateway.dashboard import table as statistical_table
from gateway.dashboard.clients import Services
from gateway.dashboard.errors import ExportNotFound
from gateway.dashboard.labels import EnumLabels
from gateway.dashboard.package import PackageWriter, RegisterWriter, sha256_of
from gateway.dashboard.registers import REGISTERS, Context, Register, of_rounds
from gateway.dashboard.schemas import (
    ExportProgress,
    ExportRead,
    ManifestFile,
    Recipient,
    RoundLine,
)
from gateway.dashboard.service import Scope, assemble, count
from gateway.settings import GatewaySettings
from services.common.errors import Problem

log = logging.getLogger("exports")
Status = Literal["queued", "running", "done", "failed"]
RECIPIENTS = {"office": "市委巡察办", "superior": "上级巡察办"}
REDACTION = {
    "office": "问题线索含被反映人姓名及处理结果；问题台账不含涉及人员姓名和身份证号码。",
    "superior": "问题线索不含线索标题、摘要和被反映人姓名，处理结果按人数统计；"
    "问题台账不含涉及人员姓名和身份证号码。",
}
# Services on different database servers may disagree on the time by this much at most.
CLOCK_MARGIN = timedelta(days=1)


@dataclass
class Job:
    id: uuid.UUID
    owner: str
    username: str
    round_id: uuid.UUID | None
    term_id: uuid.UUID | None
    recipient: Recipient
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: Status = "queued"
    register: str | None = None
    written: int = 0
    expected: int = 0
    files: list[ManifestFile] = field(default_factory=list)
    error: str | None = None
    finished_at: datetime | None = None
    path: Path | None = None
    package_bytes: int | None = None
    package_sha256: str | None = None
    task: asyncio.Task[None] | None = None

    @property
    def scope(self) -> Scope:
        return Scope.of(
            term_ids=[self.term_id] if self.term_id else None,
            round_ids=[self.round_id] if self.round_id else None,
        )

    def read(self, keep_seconds: int) -> ExportRead:
        done = self.status == "done"
        expected = max(self.expected, self.written)
        return ExportRead(
            id=self.id,
            status=self.status,
            round_id=self.round_id,
            term_id=self.term_id,
            recipient=self.recipient,
            progress=ExportProgress(
                current=self.register,
                rows_written=self.written,
                rows_expected=expected,
                percent=100.0
                if done
                else round(100 * self.written / expected, 1)
                if expected
                else 0.0,
            ),
            files=self.files,
            error=self.error,
            created_at=self.created_at,
            finished_at=self.finished_at,
            expires_at=(
                self.finished_at + timedelta(seconds=keep_seconds) if self.finished_at else None
            ),
            download=f"/api/v1/exports/{self.id}/download" if done else None,
            package_bytes=self.package_bytes,
            package_sha256=self.package_sha256,
        )


def write_page(
    writer: RegisterWriter, register: Register, items: list[dict[str, Any]], ctx: Context
) -> int:
    rows = [row for item in items if (row := register.row(item, ctx)) is not None]
    writer.write(rows)
    return len(rows)


async def first_finding(services: Services, rounds: list[RoundLine]) -> datetime | None:
    """When the first finding of the rounds was recorded (the lists are oldest first)."""
    pages = await asyncio.gather(
        *(
            services.get("findings", "/api/v1/findings", [("round_id", str(r.id)), ("limit", "1")])
            for r in rounds
        )
    )
    found = [datetime.fromisoformat(p["items"][0]["created_at"]) for p in pages if p["items"]]
    return min(found, default=None)


class Exports:
    def __init__(
        self,
        settings: GatewaySettings,
        services: Callable[[], Services],
        labels: EnumLabels,
    ) -> None:
        self.root = settings.export_dir
        self.keep_seconds = settings.export_keep_seconds
        self.page_size = settings.export_page_size
        self.services = services
        self.labels = labels
        self.jobs: dict[uuid.UUID, Job] = {}
        self.slots = asyncio.Semaphore(settings.export_concurrency)
        self._swept = False

    def start(
        self,
        owner: str,
        username: str,
        round_id: uuid.UUID | None,
        term_id: uuid.UUID | None,
        recipient: Recipient,
    ) -> Job:
        self.purge()
        job = Job(uuid.uuid4(), owner, username, round_id, term_id, recipient)
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job), name=f"export-{job.id}")
        return job

    def find(self, job_id: uuid.UUID, owner: str) -> Job:
        self.purge()
        job = self.jobs.get(job_id)
        if job is None or job.owner != owner:
            raise ExportNotFound(f"no export {job_id} of yours")
        return job

    def mine(self, owner: str) -> list[Job]:
        self.purge()
        return sorted(
            (j for j in self.jobs.values() if j.owner == owner),
            key=lambda j: j.created_at,
            reverse=True,
        )

    async def cancel(self, job: Job) -> None:
        if job.task is not None and not job.task.done():
            job.task.cancel()
            await asyncio.gather(job.task, return_exceptions=True)
        self._forget(job)

    def _forget(self, job: Job) -> None:
        self.jobs.pop(job.id, None)
        if job.path is not None:
            job.path.unlink(missing_ok=True)

    def purge(self) -> None:
        """Drops the packages kept long enough; once, what an earlier process left behind."""
        now = datetime.now(UTC)
        for job in list(self.jobs.values()):
            if job.finished_at and now - job.finished_at > timedelta(seconds=self.keep_seconds):
                self._forget(job)
        if not self._swept:
            self._swept = True
            if self.root.exists():
                cutoff = time.time() - self.keep_seconds
                for leftover in self.root.iterdir():
                    if leftover.stat().st_mtime < cutoff:
                        if leftover.is_dir():
                            shutil.rmtree(leftover, ignore_errors=True)
                        else:
                            leftover.unlink(missing_ok=True)

    async def _run(self, job: Job) -> None:
        async with self.slots:
            job.status = "running"
            try:
                await self._build(job, self.services())
            except asyncio.CancelledError:
                job.status, job.error = "failed", "cancelled"
                raise
            except Problem as problem:
                job.status, job.error = "failed", problem.detail or problem.title_zh
            except Exception:
                log.exception("export %s failed", job.id)
                job.status, job.error = "failed", "导出失败（内部错误），请稍后重试"
            else:
                job.status = "done"
            finally:
                job.register = None
                job.finished_at = datetime.now(UTC)

    async def _build(self, job: Job, services: Services) -> None:
        scope = job.scope
        dashboard = assemble(scope, await count(services, scope))
        # the registers go out with their statistics, and only when these agree
        issued = statistical_table.issue(scope, dashboard)
        rounds = dashboard.rounds.items
        ctx = Context(
            recipient=job.recipient,
            rounds={str(r.id): f"第{r.number}轮 {r.name}" for r in rounds},
        )
        for r in rounds:
            async for groups in services.pages(
                "rounds", "/api/v1/groups", [("round_id", str(r.id))]
            ):
                ctx.groups.update({g["id"]: g["name"] for g in groups})
        ctx.findings_labels, ctx.referrals_labels = await asyncio.gather(
            self.labels.of(services, "findings"), self.labels.of(services, "referrals")
        )
        job.expected = sum(register.counted(dashboard) for register in REGISTERS)
        folder = self.root / job.id.hex
        package = await asyncio.to_thread(PackageWriter, folder)
        try:
            for register in REGISTERS:
                job.register = register.name
                writer = await asyncio.to_thread(package.register, register, register.columns(ctx))
                own = 0
                for r in rounds:
                    async for items in services.pages(
                        register.service,
                        register.path,
                        [("round_id", str(r.id))],
                        limit=self.page_size,
                    ):
                        written = await asyncio.to_thread(write_page, writer, register, items, ctx)
                        own += written
                        job.written += written
                # the statistics count more than the rounds' own records: some have none
                if register.several_rounds and own < register.counted(dashboard):
                    job.written += await self._of_several_rounds(
                        services, register, writer, ctx, rounds
                    )
            package.add_file(
                "statistics.json",
                orjson.dumps(
                    {
                        "table": issued.model_dump(mode="json", by_alias=True),
                        "figures": dashboard.model_dump(mode="json"),
                    },
                    option=orjson.OPT_INDENT_2,
                ),
                "json",
            )
            package.add_file("statistics.xlsx", statistical_table.xlsx(issued), "xlsx")
            meta = {
                "title": "巡察数据导出包",
                "format_version": 1,
                "scope": {
                    "round_id": str(job.round_id) if job.round_id else None,
                    "term_id": str(job.term_id) if job.term_id else None,
                    "label": issued.scope_label,
                    "round_ids": [str(r.id) for r in rounds],
                },
                "recipient": job.recipient,
                "recipient_label": RECIPIENTS[job.recipient],
                "redaction": REDACTION[job.recipient],
                "summary": issued.summary,
                "generated_at": datetime.now(UTC).isoformat(),
                "generated_by": job.username,
            }
            zipped, job.files = await asyncio.to_thread(package.finish, meta)
            job.package_sha256 = await asyncio.to_thread(sha256_of, zipped)
            job.package_bytes = zipped.stat().st_size
            job.path = zipped
        except BaseException:
            await asyncio.shield(asyncio.to_thread(package.abandon))
            raise

    async def _of_several_rounds(
        self,
        services: Services,
        register: Register,
        writer: RegisterWriter,
        ctx: Context,
        rounds: list[RoundLine],
    ) -> int:
        """Writes the records of `register` that have no round of their own and a finding of
        `rounds`, once each. The services' lists filter on a record's own round only, so these
        are picked from the whole list, but only from the records changed since the rounds'
        first finding was recorded: a record is made after its findings."""
        first = await first_finding(services, rounds)
        if first is None:
            return 0
        round_ids = {str(r.id) for r in rounds}
        written = 0
        async for items in services.pages(
            register.service,
            register.path,
            [("updated_since", (first - CLOCK_MARGIN).isoformat())],
            limit=self.page_size,
        ):
            if mine := [item for item in items if of_rounds(item, round_ids)]:
                written += await asyncio.to_thread(write_page, writer, register, mine, ctx)
        return written
