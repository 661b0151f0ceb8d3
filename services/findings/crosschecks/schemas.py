"""Request and response bodies of data cross-checks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.findings.crosschecks.enums import DatasetKind, HitStatus, JobKind, JobState
from services.findings.crosschecks.spec import RuleSpec
from services.findings.enums import Severity

Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{2,49}$")]


class JobRead(BaseModel):
    """后台任务：导入或比对运行的进度与结果"""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: JobKind
    state: JobState
    percent: int = Field(description="0-100; 100 only when done")
    processed: int = Field(description="rows read (import) or rules run (run) so far")
    total: int | None = Field(description="what `processed` counts towards, when known")
    result: dict[str, Any] | None = Field(
        description="when done: the import's report (dataset_version_id, rows, rejected_rows, "
        "errors) or the run's summary (run_id, hits)"
    )
    error: dict[str, Any] | None = Field(
        description="when failed: problem details; an import rejected lists its bad rows in "
        "`errors` (row, column, field, message; the first 1,000) and counts them all in "
        "`rejected_rows`"
    )
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class DatasetVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    dataset: str
    version: int
    kind: DatasetKind
    round_id: uuid.UUID | None
    filename: str
    size: int
    sha256: str
    row_count: int
    bad_rows: int = Field(description="rows left out (partial import)")
    columns: dict[str, Any] = Field(description="the file's header, mapping and encoding")
    job_id: uuid.UUID
    uploaded_by: str
    created_at: datetime


class KindField(BaseModel):
    field: str
    label: str
    required: bool
    headers: list[str] = Field(description="column headers recognised for it")


class KindRead(BaseModel):
    kind: DatasetKind
    label: str
    fields: list[KindField]


class DatasetRowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int
    id_number: str | None
    name: str | None
    related_id: str | None
    org: str | None
    account: str | None
    amount: Decimal | None
    date1: date | None
    date2: date | None
    programme: str | None
    relation: str | None
    extra: dict[str, Any] | None


class RoleRead(BaseModel):
    name: str
    label: str
    kinds: list[DatasetKind]


class RuleRead(BaseModel):
    code: str
    version: int
    title: str
    description: str
    builtin: bool
    roles: list[RoleRead]
    params: dict[str, Any] = Field(description="JSON Schema of the rule's parameters")
    spec: RuleSpec | None = None


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="小写字母、数字、下划线；不得与内置规则重名")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    spec: RuleSpec


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    spec: RuleSpec | None = None


class RuleChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=50)
    params: dict[str, Any] = Field(default_factory=dict)
    datasets: dict[str, list[uuid.UUID]] | None = Field(
        default=None,
        description="role -> dataset versions; default: every chosen version of a kind the "
        "role accepts",
    )


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    round_id: uuid.UUID = Field(description="the round the run (and its hits) belongs to")
    title: Title = ""
    dataset_version_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    rules: list[RuleChoice] = Field(min_length=1, max_length=30)


class RunRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ordinal: int
    rule_code: str
    rule_version: int
    title: str
    params: dict[str, Any]
    datasets: dict[str, Any]
    hit_count: int | None
    done_at: datetime | None


class RunRead(BaseModel):
    id: uuid.UUID
    round_id: uuid.UUID
    title: str
    dataset_version_ids: list[uuid.UUID]
    hit_count: int
    rules: list[RunRuleRead]
    job: JobRead
    created_by: str
    created_at: datetime


class HitRowRead(BaseModel):
    role: str
    dataset_version_id: uuid.UUID
    dataset: str
    version: int
    kind: DatasetKind
    line: int
    id_number: str | None
    name: str | None
    related_id: str | None
    org: str | None
    account: str | None
    amount: Decimal | None
    date1: date | None
    date2: date | None
    programme: str | None
    relation: str | None
    extra: dict[str, Any] | None


class HitRead(BaseModel):
    """疑点：规则、参数、数据集版本与匹配到的行（出处）"""

    id: uuid.UUID
    run_id: uuid.UUID
    rule_code: str
    rule_version: int
    rule_title: str
    params: dict[str, Any]
    subject: str
    match_key: str
    content_hash: str
    status: HitStatus
    reason: str
    finding_id: uuid.UUID | None
    decided_by: str | None
    decided_at: datetime | None
    rows: list[HitRowRead]
    version: int
    created_at: datetime


class HitConfirm(BaseModel):
    """确认疑点：登记为问题（来源“大数据比对”），疑点的行作为证据附上"""

    model_config = ConfigDict(extra="forbid")

    assignment_id: uuid.UUID = Field(
        description="the assignment (of the run's round) to file it on"
    )
    category_id: uuid.UUID
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    facts: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20000)] | None = None
    severity: Severity = Severity.minor
    discovered_on: date | None = Field(default=None, description="default today (Beijing)")


class HitDismiss(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
