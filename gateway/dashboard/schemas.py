"""What the dashboard, the statistical table and the export jobs answer. The gateway's own
models: the services' figures are read from their JSON, never from their code."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Count(BaseModel):
    """One line of a breakdown: a code, its Chinese label, the count."""

    code: str
    label: str
    count: int


class DashboardScope(BaseModel):
    everything: bool = Field(description="no term, round or jurisdiction was asked: every record")
    term_ids: list[uuid.UUID] = Field(description="the terms shown (asked for, or found)")
    round_ids: list[uuid.UUID] = Field(description="the rounds counted")
    jurisdiction: str | None


class RoundLine(BaseModel):
    id: uuid.UUID
    term_id: uuid.UUID
    number: int
    name: str
    kind: str
    kind_label: str
    state: str
    state_label: str = Field(description="当前阶段")
    groups: int = Field(description="巡察组（个）")
    members: int = Field(description="组内人员（人）")
    targets: int = Field(description="巡察对象（个）")
    findings: int = Field(description="发现问题（个），草稿在内")


class RoundFigures(BaseModel):
    total: int = Field(description="巡察轮次（轮）")
    by_state: list[Count] = Field(description="by current phase (准备 … 归档)")
    by_kind: list[Count]
    items: list[RoundLine]


class GroupFigures(BaseModel):
    total: int = Field(description="巡察组（个）")
    members: int = Field(description="组内人员（人次）")
    by_kind: list[Count]


class Coverage(BaseModel):
    goal: int = Field(description="全覆盖目标对象（个）")
    inspected: int = Field(description="已巡察（个）：所在轮次已进驻")
    planned: int = Field(description="已安排（个）")
    remaining: int = Field(description="未覆盖（个）")
    inspected_percent: float = Field(description="已巡察占目标的百分比，一位小数")


class TermCoverage(Coverage):
    term_id: uuid.UUID
    name: str
    jurisdiction: str


class TargetFigures(BaseModel):
    inspected: int = Field(description="本范围各轮次巡察的对象（个，去重）")
    assignments: int = Field(description="任务分配（组×对象）")
    by_mode: list[Count]
    coverage: Coverage = Field(description="全覆盖：所示各届的目标合计")
    terms: list[TermCoverage]


class CategoryLine(BaseModel):
    code: str
    name: str
    count: int
    money_involved: Decimal = Field(description="涉及金额（元）")


class FindingFigures(BaseModel):
    total: int = Field(description="问题（个），草稿在内")
    confirmed: int = Field(description="已确认的问题（个）：已确认、已移交、已办结")
    money_involved: Decimal = Field(description="涉及金额（元），草稿在内")
    confirmed_money_involved: Decimal = Field(description="已确认问题的涉及金额（元）")
    by_status: list[Count]
    by_severity: list[Count]
    by_category: list[CategoryLine]


class RecipientLine(BaseModel):
    code: str
    label: str
    handed_over: int
    cases_filed: int
    sanctioned: int
    money_recovered: Decimal


class LeadFigures(BaseModel):
    handed_over: int = Field(description="移交问题线索（件）")
    received: int = Field(description="已接收（件）")
    awaiting_handling: int = Field(description="已接收、尚未确定处置方式（件）")
    handled: int = Field(description="已确定处置方式（件）")
    handlings: list[Count] = Field(description="四类处置（件）")
    cases_filed: int = Field(description="立案（件）")
    concluded: int = Field(description="办结（件）")
    overdue: int = Field(description="逾期未办结（件）")
    by_recipient: list[RecipientLine]


class CaseFigures(BaseModel):
    filed: int = Field(description="立案（件）")
    subjects: int = Field(description="立案涉及人员（人）")


class PersonFigures(BaseModel):
    subjects: int = Field(description="移交线索涉及人员（人）")
    sanctioned: int = Field(description="给予党政纪处分（人）")
    party_sanctioned: int = Field(description="党纪处分（人）")
    government_sanctioned: int = Field(description="政务处分（人）")
    organisational_handling: int = Field(description="组织处理（人）")
    judicial_transfers: int = Field(description="移送司法机关（人）")
    not_substantiated: int = Field(description="问题不属实（人）")


class OverdueItem(BaseModel):
    id: uuid.UUID
    title: str
    owner_name: str
    deadline: date
    days_overdue: int
    status: str
    status_label: str


class RectificationFigures(BaseModel):
    fed_back: int = Field(description="反馈整改事项（个）")
    done: int = Field(description="已销号（个）")
    due: int = Field(description="未销号、未到期（个）")
    overdue: int = Field(description="逾期未销号（个）")
    by_status: list[Count]
    overdue_items: list[OverdueItem] = Field(
        description="up to ten overdue items, longest overdue first (of the first ones recorded "
        "in each round)"
    )


class SuggestionFigures(BaseModel):
    total: int = Field(description="提出意见建议（条）")
    by_adoption: list[Count]


class FunnelStep(BaseModel):
    step: str
    label: str
    count: int


class Check(BaseModel):
    check: str
    ok: bool
    detail: str


class Dashboard(BaseModel):
    scope: DashboardScope
    as_of: date = Field(description="the day (Asia/Shanghai) overdue is judged on")
    generated_at: datetime = Field(description="when these figures were counted")
    rounds: RoundFigures
    groups: GroupFigures
    targets: TargetFigures
    findings: FindingFigures
    leads: LeadFigures
    cases: CaseFigures
    persons: PersonFigures
    money_recovered: Decimal = Field(description="追回资金（元）")
    rectification: RectificationFigures
    suggestions: SuggestionFigures
    rules: int = Field(description="建立健全制度（项）")
    funnel: list[FunnelStep] = Field(
        description="问题线索漏斗: confirmed findings → leads handed over → received → handled → "
        "cases filed → concluded"
    )
    summary: str = Field(description="the figures in the office's wording")
    checks: list[Check] = Field(description="the reconciliation checks (referrals service)")
    consistent: bool


class TableRow(BaseModel):
    """One row of the statistical table, keyed as the form is headed."""

    model_config = ConfigDict(populate_by_name=True)

    number: str = Field(alias="序号")
    indicator: str = Field(alias="指标")
    value: int | Decimal = Field(alias="数值", description="a count, or yuan as a decimal string")
    unit: str = Field(alias="单位")


class StatisticalTable(BaseModel):
    title: str
    scope: DashboardScope
    scope_label: str = Field(description="统计范围, in words")
    as_of: date
    generated_at: datetime
    rows: list[TableRow]
    summary: str
    checks: list[Check] = Field(description="every check passed; the table is issued")


# ---- export packages ----

Recipient = Literal["office", "superior"]


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    round_id: uuid.UUID | None = Field(default=None, description="巡察轮次")
    term_id: uuid.UUID | None = Field(default=None, description="届次（其全部轮次）")
    recipient: Recipient | None = Field(
        default=None,
        description="whose rights the package follows: `office` (lead subjects named) or "
        "`superior` (the higher-level office: no subject's name, no lead title or summary). "
        "Default: the caller's own; only the office may ask for `office`",
    )

    @model_validator(mode="after")
    def _one_scope(self) -> ExportCreate:
        if (self.round_id is None) == (self.term_id is None):
            raise ValueError("give exactly one of round_id and term_id")
        return self


class ExportProgress(BaseModel):
    current: str | None = Field(description="the register being written")
    rows_written: int
    rows_expected: int = Field(description="from the figures counted at the start")
    percent: float


class ManifestFile(BaseModel):
    path: str
    format: str
    content: str | None = Field(default=None, description="the register it holds")
    title: str | None = None
    rows: int | None = Field(default=None, description="data rows (CSV, JSON) or all sheets")
    bytes: int
    sha256: str


class ExportRead(BaseModel):
    id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    round_id: uuid.UUID | None
    term_id: uuid.UUID | None
    recipient: Recipient
    progress: ExportProgress
    files: list[ManifestFile] = Field(description="the manifest's files, once done")
    error: str | None = Field(description="why it failed")
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="the package is deleted after this")
    download: str | None = Field(description="where to fetch the ZIP, once done")
    package_bytes: int | None = Field(description="the ZIP's size, once done")
    package_sha256: str | None = Field(description="the ZIP's SHA-256, once done")
