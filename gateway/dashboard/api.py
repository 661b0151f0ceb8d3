"""Routes of the dashboard (工作台), the statistical table, export packages and the results page
(成果展示). Served by the gateway's own app: /api/v1/dashboard and /api/v1/exports are not in the
proxy's route table, so they never reach a service."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.responses import FileResponse

from gateway.dashboard.clients import Services
from gateway.dashboard.errors import (
    ExportNotFound,
    ExportNotReady,
    NotAReportReader,
    RecipientNotAllowed,
    ReconciliationFailed,
    ScopeInvalid,
)
from gateway.dashboard.jobs import Exports
from gateway.dashboard.labels import EnumLabels
from gateway.dashboard.schemas import Dashboard, ExportCreate, ExportRead, StatisticalTable
from gateway.dashboard.service import DashboardService, Scope, assemble, count
from gateway.dashboard.table import issue, xlsx
from gateway.identity.errors import InvalidAccessToken
from gateway.identity.tokens import Caller, CurrentCaller
from gateway.proxy.handler import InternalTokens
from gateway.proxy.transport import Upstreams
from gateway.settings import GatewaySettings
from services.common.errors import BadGateway, GatewayTimeout, ServiceUnavailable
from services.common.errors import problem_responses as problems

STATIC = Path(__file__).parent / "static"
OFFICE = ("office", "admin")
READERS = (*OFFICE, "superior")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPSTREAM = (BadGateway, ServiceUnavailable, GatewayTimeout)


class Reports:
    """What the routes share: the services' client, the dashboard's cache, the export jobs."""

    def __init__(self, settings: GatewaySettings, tokens: InternalTokens, upstreams: Upstreams):
        self.settings = settings
        self.tokens = tokens
        self.upstreams = upstreams
        self.dashboard = DashboardService(settings.dashboard_cache_seconds)
        self.labels = EnumLabels()
        self.exports = Exports(settings, lambda: self.services(retries=3), self.labels)

    def services(self, accept_language: str | None = None, *, retries: int = 0) -> Services:
        return Services(self.upstreams, self.tokens, accept_language, retries=retries)


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


def reader(caller: CurrentCaller) -> Caller:
    if not any(r in READERS for r in caller.roles):
        raise NotAReportReader(f"requires one of the roles: {', '.join(READERS)}")
    return caller


ReportsDep = Annotated[Reports, Depends(_reports)]
Reader = Annotated[Caller, Depends(reader)]
TermIds = Annotated[list[uuid.UUID] | None, Query(max_length=50, description="届次（可重复）")]
RoundIds = Annotated[
    list[uuid.UUID] | None, Query(max_length=500, description="巡察轮次（可重复）")
]
Jurisdiction = Annotated[
    str | None, Query(min_length=1, max_length=100, description="辖区，如“赤壁市”")
]
SCOPE = (
    "Scope: terms (`term_id`), a jurisdiction (its terms) or rounds (`round_id`); given "
    "together they narrow each other; none is every record. An unknown term or round is 422 "
    "naming it. "
)

router = APIRouter(tags=["dashboard"])


@router.get(
    "/api/v1/dashboard",
    summary="工作台统计 The figures of all three services for a term, round or jurisdiction",
    description=SCOPE
    + "Rounds and their phases, groups, targets inspected against the coverage goal, findings "
    "by category and state, leads and their handling, cases, persons sanctioned, money "
    "recovered, rectification items (done, due, overdue), suggestions and rules established, "
    "with the reconciliation checks. The services count with aggregate queries on indexed "
    "columns; the figures of a scope are kept for `GATEWAY_DASHBOARD_CACHE_SECONDS` (10 s): "
    "send `Cache-Control: no-cache` to have them counted now. For the office and the "
    "higher-level office (no names in it).",
    response_model=Dashboard,
    responses=problems(InvalidAccessToken, NotAReportReader, ScopeInvalid, *UPSTREAM),
)
async def get_dashboard(
    request: Request,
    response: Response,
    reports: ReportsDep,
    _: Reader,
    term_id: TermIds = None,
    round_id: RoundIds = None,
    jurisdiction: Jurisdiction = None,
) -> Dashboard:
    scope = Scope.of(term_id, round_id, jurisdiction)
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    services = reports.services(request.headers.get("accept-language"))
    found = await reports.dashboard.dashboard(services, scope, fresh=fresh)
    response.headers["Cache-Control"] = "private, no-store"
    return found


@router.get(
    "/api/v1/dashboard/table",
    summary="统计表 The standard statistical table, as the office sends it upward",
    description=SCOPE
    + "Rows (序号, 指标, 数值, 单位) in the office's order and wording: 移交问题线索N件，立案N件，"
    "给予党政纪处分N人；反馈整改事项N个，提出意见建议N条，建立健全制度N项 and the rest. Counted "
    "afresh (never from the dashboard's cache), and issued only when every reconciliation "
    "check passes: otherwise 409 `reconciliation-failed` naming each failed check "
    "(`failed_checks`) and no table. `format=xlsx` gives the same table as an Excel sheet.",
    response_model=StatisticalTable,
    responses={
        **problems(
            InvalidAccessToken, NotAReportReader, ReconciliationFailed, ScopeInvalid, *UPSTREAM
        ),
        200: {"content": {XLSX: {}}, "description": "the table (JSON, or XLSX by `format`)"},
    },
)
async def get_table(
    request: Request,
    reports: ReportsDep,
    _: Reader,
    term_id: TermIds = None,
    round_id: RoundIds = None,
    jurisdiction: Jurisdiction = None,
    format: Annotated[Literal["json", "xlsx"], Query(description="json 或 xlsx")] = "json",
) -> StatisticalTable | Response:
    scope = Scope.of(term_id, round_id, jurisdiction)
    services = reports.services(request.headers.get("accept-language"))
    table = issue(scope, assemble(scope, await count(services, scope)))
    if format == "xlsx":
        name = f"巡察工作情况统计表-{table.as_of:%Y%m%d}.xlsx"
        return Response(
            xlsx(table),
            media_type=XLSX,
            headers={"Content-Disposition": _attachment(name, "statistical-table.xlsx")},
        )
    return table


def _attachment(name: str, ascii_name: str) -> str:
    """RFC 6266: the Chinese name for browsers, an ASCII one for older clients."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(name)}"


# ---- export packages ----

exports = APIRouter(prefix="/api/v1/exports", tags=["exports"])
EXPORT_PROBLEMS = (InvalidAccessToken, NotAReportReader, ExportNotFound)


@exports.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="生成导出包 Start an export package of a round or a term",
    description="A ZIP for the higher-level office: `registers.xlsx` (one sheet per register: "
    "findings, leads, rectification items, suggestions, rules; Chinese headers, dates as "
    "dates, money as numbers with two decimals, frozen header row), a CSV (UTF-8 with BOM) and "
    "a JSON per register, the statistical table (`statistics.xlsx`, `statistics.json`), and "
    "`manifest.json` with each file's SHA-256 and row count. Built as a job: 202 with its "
    "`Location`; follow `GET /api/v1/exports/{id}` (progress) and download when `done`. The "
    "leads register follows the receiving office's rights (`recipient`): `superior` gets no "
    "lead title, summary or subject's name. A package is only made when the reconciliation "
    "checks pass (else the job fails naming them).",
    response_model=ExportRead,
    responses=problems(*EXPORT_PROBLEMS, RecipientNotAllowed),
)
async def start_export(
    body: ExportCreate, reports: ReportsDep, caller: Reader, response: Response
) -> ExportRead:
    office = any(r in OFFICE for r in caller.roles)
    recipient = body.recipient or ("office" if office else "superior")
    if recipient == "office" and not office:
        raise RecipientNotAllowed("the higher-level office receives packages without names")
    job = reports.exports.start(
        caller.subject, caller.username, body.round_id, body.term_id, recipient
    )
    response.headers["Location"] = f"/api/v1/exports/{job.id}"
    return job.read(reports.exports.keep_seconds)


@exports.get("", summary="我的导出任务 Your export jobs", responses=problems(*EXPORT_PROBLEMS))
async def list_exports(reports: ReportsDep, caller: Reader) -> list[ExportRead]:
    return [j.read(reports.exports.keep_seconds) for j in reports.exports.mine(caller.subject)]


@exports.get(
    "/{export_id}",
    summary="导出进度 An export job: progress, then its files",
    responses=problems(*EXPORT_PROBLEMS),
)
async def get_export(export_id: uuid.UUID, reports: ReportsDep, caller: Reader) -> ExportRead:
    return reports.exports.find(export_id, caller.subject).read(reports.exports.keep_seconds)


@exports.get(
    "/{export_id}/download",
    summary="下载导出包 Download the ZIP",
    description="409 `export-not-ready` until the job is done.",
    response_class=FileResponse,
    responses={
        **problems(*EXPORT_PROBLEMS, ExportNotReady),
        200: {"content": {"application/zip": {}}, "description": "the package"},
    },
)
async def download_export(
    export_id: uuid.UUID, reports: ReportsDep, caller: Reader
) -> FileResponse:
    job = reports.exports.find(export_id, caller.subject)
    if job.status != "done" or job.path is None or not job.path.exists():
        raise ExportNotReady(f"the export is {job.status}")
    name = f"巡察数据导出包-{job.created_at:%Y%m%d}-{job.id.hex[:8]}.zip"
    return FileResponse(
        job.path,
        media_type="application/zip",
        headers={"Content-Disposition": _attachment(name, f"export-{job.id.hex[:8]}.zip")},
    )


@exports.delete(
    "/{export_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除导出任务 Cancel an export or delete its package",
    responses=problems(*EXPORT_PROBLEMS),
)
async def delete_export(export_id: uuid.UUID, reports: ReportsDep, caller: Reader) -> None:
    await reports.exports.cancel(reports.exports.find(export_id, caller.subject))


# ---- the results page (成果展示) ----

page = APIRouter(include_in_schema=False)
ASSETS = {"results.js": "text/javascript", "results.css": "text/css"}
# Everything the page uses is its own: no inline script, no other origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@page.get("/results")
async def results_page() -> FileResponse:
    return FileResponse(STATIC / "results.html", media_type="text/html", headers=PAGE_HEADERS)


@page.get("/results/{asset}")
async def results_asset(asset: str) -> FileResponse:
    media = ASSETS.get(asset)
    if media is None:
        raise ExportNotFound("no such file")  # a 404 like any other
    return FileResponse(STATIC / asset, media_type=media, headers=PAGE_HEADERS)


def install(api: FastAPI, upstreams: Upstreams) -> None:
    """Adds the routes to the gateway's own app; they call the services through `upstreams`."""
    settings: GatewaySettings = api.state.settings
    tokens = InternalTokens(api.state.signer, settings.internal_token_ttl_seconds)
    api.state.reports = Reports(settings, tokens, upstreams)
    api.include_router(router)
    api.include_router(exports)
    api.include_router(page)
