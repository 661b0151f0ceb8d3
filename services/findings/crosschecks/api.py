"""Routes of data cross-checks (大数据比对): datasets, rules, runs, hits and jobs.

Imports and runs are background jobs (see `jobs`): their POST answers 202 with the job, whose
`Location` (`/api/v1/crosschecks/jobs/{id}`) tells the progress and, at the end, the outcome.
The runner is started with the app (the `datasets` router's lifespan) unless
`FINDINGS_CROSSCHECK_WORKER=false`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Query, Request, Response, status

from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import (
    BadRequest,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    UnsupportedMediaType,
    ValidationFailed,
    problem_responses,
)
from services.common.lifecycle import bounded, cancelled
from services.common.pagination import Page, Paging, encode_cursor, make_page
from services.findings.api import Service
from services.findings.crosschecks.access import CurrentCrosscheckScope
from services.findings.crosschecks.enums import DatasetKind, Field, HitStatus, JobKind
from services.findings.crosschecks.errors import (
    ColumnsMissing,
    DatasetInUse,
    DatasetNotFound,
    HitDecided,
    HitNotFound,
    JobNotFound,
    NotCrosscheckUser,
    OfficeOnly,
    RuleExists,
    RuleInvalid,
    RuleNotFound,
    RunNotFound,
)
from services.findings.crosschecks.importer import inspect, run_import
from services.findings.crosschecks.jobs import JobRunner
from services.findings.crosschecks.kinds import ALIASES, KINDS
from services.findings.crosschecks.runs import run_crosscheck
from services.findings.crosschecks.schemas import (
    DatasetRowRead,
    DatasetVersionRead,
    HitConfirm,
    HitDismiss,
    HitRead,
    JobRead,
    KindField,
    KindRead,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    RunCreate,
    RunRead,
)
from services.findings.crosschecks.service import VERSION_REVISION, CrosscheckService
from services.findings.crosschecks.settings import CrosscheckSettings
from services.findings.crosschecks.upload import DatasetInbox
from services.findings.errors import ReferenceInvalid
from services.findings.evidence.storage import Store
from services.findings.schemas import FindingRead


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = CrosscheckSettings()
    app.state.crosscheck_settings = settings
    app.state.dataset_inbox = DatasetInbox(
        app.state.settings.evidence_dir / "tmp", settings.dataset_max_bytes
    )
    runner = JobRunner(
        app.state.db.sessions,
        {JobKind.dataset_import.value: run_import, JobKind.run.value: run_crosscheck},
        poll_seconds=settings.poll_seconds,
        lease_seconds=settings.lease_seconds,
        renew_seconds=settings.renew_seconds,
    )
    app.state.crosscheck_runner = runner
    task = asyncio.create_task(runner.run(), name="crosscheck-jobs") if settings.worker else None
    try:
        yield
    finally:
        if task is not None:  # (a job cut short is taken up again once its lease ends)
            await bounded("the cross-check jobs", cancelled(task))


datasets = APIRouter(prefix="/api/v1/datasets", tags=["datasets"], lifespan=lifespan)
crosschecks = APIRouter(prefix="/api/v1/crosschecks", tags=["crosschecks"])


def crosscheck_service(session: DbSession, scope: CurrentCrosscheckScope) -> CrosscheckService:
    scope.require()
    return CrosscheckService(session, scope)


Crosschecks = Annotated[CrosscheckService, Depends(crosscheck_service)]


def _wake(request: Request) -> Any:
    runner: JobRunner | None = getattr(request.app.state, "crosscheck_runner", None)
    return runner.wake if runner is not None else (lambda: None)


def _accepted(job: Any, response: Response) -> JobRead:
    response.headers["Location"] = f"/api/v1/crosschecks/jobs/{job.id}"
    return JobRead.model_validate(job)


# -- datasets --------------------------------------------------------------------------------


def _mapping(raw: str | None) -> dict[Field, str]:
    if not raw:
        return {}
    try:
        parsed = orjson.loads(raw)
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise ValueError("not an object of strings")
        return {Field.of(k): v for k, v in parsed.items()}
    except ValueError as exc:
        message = f"mapping: a JSON object field -> column header ({exc})"
        raise ValidationFailed(message, errors=[{"field": "query.mapping", "message": message,
                                                 "code": "invalid"}]) from None  # fmt: skip


@datasets.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="上传数据集 Upload a dataset (CSV or XLSX) to import",
    description="multipart/form-data, the file in the field `file` (streamed, never held whole "
    "in memory; SHA-256 computed on the way). CSV in UTF-8 (with or without BOM) or "
    "GB18030/GBK, comma or tab separated; or XLSX (first sheet). Columns are recognised by "
    "their headers (see `/api/v1/datasets/kinds`) or named by `mapping`. A file lacking a "
    "required column is 422 at once; otherwise the rows are checked and loaded by a job: 202 "
    "with the job (`Location`). By default one bad row rejects the file (the job fails with "
    "every bad row counted and the first 1,000 listed: row, column, reason) and nothing is "
    "stored; with `partial=true` the good rows are kept and the bad reported. The result "
    "names the new dataset version.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
    responses=problem_responses(ColumnsMissing, NotCrosscheckUser, BadRequest, PayloadTooLarge,
                                UnsupportedMediaType),
)  # fmt: skip
async def upload_dataset(
    request: Request,
    service: Crosschecks,
    response: Response,
    background: BackgroundTasks,
    dataset: Annotated[str, Query(min_length=1, max_length=200, description="数据集名称")],
    kind: DatasetKind,
    round_id: Annotated[
        uuid.UUID | None, Query(description="the round it serves; none: the office's own")
    ] = None,
    partial: Annotated[bool, Query(description="keep the good rows, report the bad")] = False,
    mapping: Annotated[
        str | None, Query(max_length=4000, description='JSON: {"id_number": "证件号码", ...}')
    ] = None,
) -> JobRead:
    service.may_upload(round_id)
    columns = _mapping(mapping)
    inbox: DatasetInbox = request.app.state.dataset_inbox
    job_id = uuid.uuid4()
    received = await inbox.receive(
        request.headers.get("content-type", ""),
        request.headers.get("content-length"),
        request.stream(),
        job_id,
    )
    try:
        await anyio.to_thread.run_sync(inspect, received.path, received.filename, kind, columns)
    except BaseException:
        await inbox.discard(received.path)
        raise
    inbox.remove_unless_committed(service.session, received.path)
    job = await service.new_job(
        job_id,
        JobKind.dataset_import,
        round_id,
        {
            "path": str(received.path),
            "filename": received.filename,
            "size": received.size,
            "sha256": received.sha256,
            "dataset": dataset.strip(),
            "kind": kind.value,
            "mapping": {f.value: c for f, c in columns.items()},
            "partial": partial,
        },
    )
    background.add_task(_wake(request))
    return _accepted(job, response)


@datasets.get("/kinds", summary="数据集类别与字段 Kinds of dataset, their fields and headers")
async def list_kinds() -> list[KindRead]:
    return [
        KindRead(
            kind=kind,
            label=kind.label,
            fields=[
                KindField(field=f.value, label=spec.label(f), required=f in spec.required,
                          headers=list(ALIASES[f]))
                for f in Field
            ],
        )
        for kind, spec in KINDS.items()
    ]  # fmt: skip


@datasets.get("", summary="数据集版本列表 Dataset versions you may use")
async def list_datasets(
    service: Crosschecks,
    paging: Paging,
    dataset: Annotated[str | None, Query(max_length=200)] = None,
    kind: DatasetKind | None = None,
    round_id: uuid.UUID | None = None,
) -> Page[DatasetVersionRead]:
    rows = await service.repo.versions(
        service.scope,
        paging,
        {"dataset": dataset, "kind": kind.value if kind else None, "round_id": round_id},
    )
    return make_page(rows, paging, DatasetVersionRead)


@datasets.get(
    "/{version_id}",
    summary="查看数据集版本 A dataset version: SHA-256, rows, who uploaded it",
    responses=problem_responses(DatasetNotFound),
)
async def get_dataset(
    version_id: uuid.UUID, service: Crosschecks, response: Response
) -> DatasetVersionRead:
    read = DatasetVersionRead.model_validate(await service.version(version_id))
    set_etag(response, VERSION_REVISION)
    return read


@datasets.delete(
    "/{version_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除数据集版本 Delete a dataset version and its rows (the office)",
    description="Requires `If-Match` with the ETag you read (428 without, 412 if it does not "
    "match). Refused with 409 while a run over the version is queued or running. Confirmed and "
    "dismissed hits that name its rows keep a copy of them (a confirmed hit's finding keeps its "
    "evidence file); open hits that name them are removed.",
    responses=problem_responses(
        DatasetNotFound, OfficeOnly, DatasetInUse, PreconditionFailed, PreconditionRequired
    ),
)
async def delete_dataset(
    version_id: uuid.UUID, service: Crosschecks, if_match: IfMatch = None
) -> None:
    await service.delete_version(version_id, if_match)


@datasets.get(
    "/{version_id}/rows",
    summary="数据集的行 Rows of a dataset version, normalised, by row number",
    responses=problem_responses(DatasetNotFound),
)
async def list_dataset_rows(
    version_id: uuid.UUID,
    service: Crosschecks,
    after: Annotated[int, Query(ge=0, description="rows after this row number")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DatasetRowRead]:
    version = await service.version(version_id)
    rows = await service.repo.rows(version.id, after, limit)
    return [DatasetRowRead.model_validate(r) for r in rows]


# -- rules -----------------------------------------------------------------------------------


@crosschecks.get("/rules", summary="比对规则 Built-in and user-defined rules")
async def list_rules(service: Crosschecks) -> list[RuleRead]:
    return await service.rules()


@crosschecks.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    summary="新建自定义规则 Create a user-defined rule (the office)",
    description="A declarative spec: roles (dataset kinds), joins and conditions over an "
    "allow-list of fields and operators, the fields a hit is grouped by. Never SQL.",
    responses=problem_responses(RuleExists, NotCrosscheckUser),
)
async def create_rule(body: RuleCreate, service: Crosschecks, response: Response) -> RuleRead:
    read = await service.create_rule(body)
    response.headers["Location"] = f"/api/v1/crosschecks/rules/{read.code}"
    set_etag(response, read.version)
    return read


@crosschecks.get(
    "/rules/{code}", summary="查看规则 A rule", responses=problem_responses(RuleNotFound)
)
async def get_rule(code: str, service: Crosschecks, response: Response) -> RuleRead:
    read = await service.rule(code)
    set_etag(response, read.version)
    return read


@crosschecks.patch(
    "/rules/{code}",
    summary="修改自定义规则 Change a user-defined rule (a new version)",
    responses=problem_responses(RuleNotFound, NotCrosscheckUser, PreconditionFailed),
)
async def update_rule(
    code: str, body: RuleUpdate, service: Crosschecks, response: Response, if_match: IfMatch = None
) -> RuleRead:
    from services.common.concurrency import check_if_match

    current = await service.rule(code)
    check_if_match(if_match, current.version)
    read = await service.update_rule(code, body)
    set_etag(response, read.version)
    return read


# -- runs ------------------------------------------------------------------------------------


@crosschecks.post(
    "/runs",
    status_code=status.HTTP_202_ACCEPTED,
    summary="运行比对 Run rules over dataset versions (a background job)",
    description="Each rule's roles take the chosen versions of the kinds they accept (or the "
    "ones named in the rule's `datasets`). Every version must belong to the round (or be the "
    "office's own). 202 with the run and its job; hits appear as each rule completes.",
    responses=problem_responses(RuleInvalid, NotCrosscheckUser),
)
async def create_run(
    body: RunCreate,
    request: Request,
    service: Crosschecks,
    response: Response,
    background: BackgroundTasks,
) -> RunRead:
    run = await service.create_run(body, uuid.uuid4())
    [read] = await service.run_reads([run])
    response.headers["Location"] = f"/api/v1/crosschecks/runs/{run.id}"
    background.add_task(_wake(request))
    return read


@crosschecks.get("/runs", summary="比对运行列表 Runs you may see")
async def list_runs(
    service: Crosschecks, paging: Paging, round_id: uuid.UUID | None = None
) -> Page[RunRead]:
    rows = await service.repo.runs(service.scope, paging, round_id)
    shown = rows[: paging.limit]
    more = len(rows) > paging.limit
    return Page[RunRead](
        items=await service.run_reads(shown),
        next_cursor=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
    )


@crosschecks.get(
    "/runs/{run_id}", summary="查看比对运行 A run", responses=problem_responses(RunNotFound)
)
async def get_run(run_id: uuid.UUID, service: Crosschecks) -> RunRead:
    [read] = await service.run_reads([await service.run(run_id)])
    return read


@crosschecks.get(
    "/runs/{run_id}/hits",
    summary="比对疑点 The run's hits, with their rows",
    responses=problem_responses(RunNotFound),
)
async def list_hits(
    run_id: uuid.UUID,
    service: Crosschecks,
    paging: Paging,
    hit_status: Annotated[HitStatus | None, Query(alias="status")] = None,
    rule_code: Annotated[str | None, Query(max_length=50)] = None,
) -> Page[HitRead]:
    run = await service.run(run_id)
    rows = await service.repo.hits(
        run.id, paging, hit_status.value if hit_status else None, rule_code
    )
    shown = rows[: paging.limit]
    more = len(rows) > paging.limit
    return Page[HitRead](
        items=await service.hit_reads(shown),
        next_cursor=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
    )


@crosschecks.get(
    "/hits/{hit_id}", summary="查看疑点 A hit", responses=problem_responses(HitNotFound)
)
async def get_hit(hit_id: uuid.UUID, service: Crosschecks, response: Response) -> HitRead:
    hit, _ = await service.hit(hit_id)
    [read] = await service.hit_reads([hit])
    set_etag(response, read.version)
    return read


@crosschecks.post(
    "/hits/{hit_id}/confirm",
    summary="确认疑点 Confirm a hit: it becomes a finding (source 大数据比对)",
    description="The finding is filed on `assignment_id` (of the run's round, one you may "
    "record on) under `category_id`; title, facts, money involved (the sum paid in the "
    "matched rows) and persons come from the hit unless given. The matched rows are attached "
    "as an XLSX evidence file. `If-Match` is honoured when sent.",
    responses=problem_responses(HitNotFound, HitDecided, ReferenceInvalid, PreconditionFailed),
)
async def confirm_hit(
    hit_id: uuid.UUID,
    body: HitConfirm,
    service: Crosschecks,
    findings: Service,
    store: Store,
    if_match: IfMatch = None,
) -> FindingRead:
    _, finding = await service.confirm(hit_id, body, findings, store, if_match)
    return finding


@crosschecks.post(
    "/hits/{hit_id}/dismiss",
    summary="排除疑点 Dismiss a hit, with the reason",
    description="The same match on the same data is not raised again by later runs; it comes "
    "back only if the matched rows' data changes.",
    responses=problem_responses(HitNotFound, HitDecided, PreconditionFailed),
)
async def dismiss_hit(
    hit_id: uuid.UUID, body: HitDismiss, service: Crosschecks, response: Response,
    if_match: IfMatch = None,
) -> HitRead:  # fmt: skip
    hit = await service.dismiss(hit_id, body.reason, if_match)
    [read] = await service.hit_reads([hit])
    set_etag(response, read.version)
    return read


# -- jobs ------------------------------------------------------------------------------------


@crosschecks.get(
    "/jobs/{job_id}",
    summary="任务进度 A job's progress and outcome (imports and runs)",
    responses=problem_responses(JobNotFound),
)
async def get_job(job_id: uuid.UUID, service: Crosschecks) -> JobRead:
    return JobRead.model_validate(await service.job(job_id))


@crosschecks.get("/jobs", summary="任务列表 Jobs you may see, oldest first")
async def list_jobs(service: Crosschecks, paging: Paging) -> Page[JobRead]:
    rows = await service.repo.jobs(service.scope, paging)
    return make_page(rows, paging, JobRead)


routers = [datasets, crosschecks]
