"""Request and response bodies of the findings service."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from services.common.errors import FieldError
from services.common.fields import Day, Yuan
from services.common.pagination import Page
from services.findings import idnumber
from services.findings.enums import BatchOutcome, DutyType, FindingSource, FindingStatus, Severity

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_BATCH = 500
Money = Yuan
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Facts = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def _not_future(value: date) -> date:
    if value > datetime.now(SHANGHAI).date():
        raise ValueError("discovered_on is in the future (Asia/Shanghai)")
    return value


MICRO_DEGREE = Decimal("0.000001")
LATITUDE_TEXT = r"^-?(90(\.0{1,6})?|[1-8]?[0-9](\.[0-9]{1,6})?)$"
LONGITUDE_TEXT = r"^-?(180(\.0{1,6})?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]{1,6})?)$"


def _coordinate(limit: int, text: str) -> BeforeValidator:
    """A WGS 84 coordinate within ±`limit`: a JSON number, rounded to six places (about 0.1 m;
    a phone's GPS gives more), or a decimal string with at most six places, as it is read."""
    pattern = re.compile(text)

    def parse(value: Any) -> Any:
        if isinstance(value, Decimal):  # from the database
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not -limit <= value <= limit:
                raise ValueError(f"must be between -{limit} and {limit}")
            return Decimal(repr(float(value))).quantize(MICRO_DEGREE)
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        raise ValueError(f"a number between -{limit} and {limit}, or one as text, six places")

    return BeforeValidator(parse)


def _sent_as(limit: int, text: str) -> WithJsonSchema:
    number = {"type": "number", "minimum": -limit, "maximum": limit}
    return WithJsonSchema({"anyOf": [number, {"type": "string", "pattern": text}]}, "validation")


Latitude = Annotated[
    Decimal,
    _coordinate(90, LATITUDE_TEXT),
    Field(ge=-90, le=90, max_digits=9, decimal_places=6),
    _sent_as(90, LATITUDE_TEXT),
    WithJsonSchema({"type": "string", "pattern": LATITUDE_TEXT}, mode="serialization"),
]
Longitude = Annotated[
    Decimal,
    _coordinate(180, LONGITUDE_TEXT),
    Field(ge=-180, le=180, max_digits=9, decimal_places=6),
    _sent_as(180, LONGITUDE_TEXT),
    WithJsonSchema({"type": "string", "pattern": LONGITUDE_TEXT}, mode="serialization"),
]


class GeoPoint(BaseModel):
    """GPS 位置（WGS 84）"""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    latitude: Latitude
    longitude: Longitude


class PersonIn(BaseModel):
    """涉及人员"""

    model_config = ConfigDict(extra="forbid")

    name: Name
    position: Short = Field(default="", description="职务")
    rank: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = Field(
        default="", description="职级"
    )
    id_number: str | None = Field(
        default=None,
        description="居民身份证号码（GB 11643，校验码按 ISO 7064 MOD 11-2 校验）；空白即未填",
        pattern=r"^\s*([0-9]{17}[0-9Xx])?\s*$",
    )

    @field_validator("id_number")
    @classmethod
    def valid_id_number(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else idnumber.validate(value)


class PersonRead(BaseModel):
    name: str
    position: str
    rank: str
    id_number: str | None = Field(
        description="masked (4201**********123X) unless you are the office or the group's leader"
    )


class FindingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignment_id: uuid.UUID = Field(description="巡察任务（rounds 服务）；决定轮次、巡察组和对象")
    category_id: uuid.UUID = Field(description="问题类别，须属于该轮次的巡察内容")
    title: Title
    facts: Facts
    money_involved: Money = Field(
        default=Decimal("0.00"), description="涉及金额（元，两位小数的十进制字符串）"
    )
    source: FindingSource
    severity: Severity = Severity.minor
    discovered_on: Day = Field(description="发现日期（北京时间，不晚于今天）")
    location: GeoPoint | None = None
    persons: list[PersonIn] = Field(default_factory=list, max_length=100)

    _discovered = field_validator("discovered_on")(_not_future)


class FindingUpdate(BaseModel):
    """Only a draft can change; `persons`, when given, replaces the list."""

    model_config = ConfigDict(extra="forbid")

    category_id: uuid.UUID | None = None
    title: Title | None = None
    facts: Facts | None = None
    money_involved: Money | None = None
    source: FindingSource | None = None
    severity: Severity | None = None
    discovered_on: Day | None = None
    location: GeoPoint | None = None
    persons: list[PersonIn] | None = Field(default=None, max_length=100)

    @field_validator("discovered_on")
    @classmethod
    def not_future(cls, value: date | None) -> date | None:
        return None if value is None else _not_future(value)


class FindingRead(BaseModel):
    id: uuid.UUID
    assignment_id: uuid.UUID
    round_id: uuid.UUID
    group_id: uuid.UUID
    target_id: uuid.UUID
    target_name: str
    category_id: uuid.UUID
    category_code: str
    category_name: str
    title: str
    facts: str
    money_involved: Decimal
    source: FindingSource
    severity: Severity
    discovered_on: date
    location: GeoPoint | None
    status: FindingStatus
    # the default reads batch results stored before the flag existed (all new drafts: False)
    recurrent: bool = Field(default=False, description="屡查屡犯：同一对象此前已发现同类问题")
    recurrence_of: uuid.UUID | None = Field(
        description="the earlier finding it repeats, when you may see that finding (else null, "
        "though `recurrent` is still true)"
    )
    persons: list[PersonRead]
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


FindingPage = Page[FindingRead]


class TransitionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: FindingStatus
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = Field(
        default="", description="required when reopening a handed-over or closed finding"
    )


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: FindingStatus | None
    to_status: FindingStatus
    reason: str
    by: str
    at: datetime


class ConsultationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expert_id: uuid.UUID = Field(description="the expert's user id at the gateway")


class ConsultationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    finding_id: uuid.UUID
    expert_id: str
    added_by: str
    created_at: datetime


class BatchRequest(BaseModel):
    """Each item is a finding plus its own `idempotency_key`; items are checked one by one so a
    bad item is reported without spoiling the others."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class BatchItem(FindingCreate):
    idempotency_key: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,200}$")]


class BatchResult(BaseModel):
    index: int
    idempotency_key: str | None
    outcome: BatchOutcome
    status: int = Field(description="201 created or replayed, 422 rejected")
    finding: FindingRead | None = None
    errors: list[FieldError] | None = None


class BatchResponse(BaseModel):
    created: int
    replayed: int
    rejected: int
    results: list[BatchResult]


class EvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    finding_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    created_at: datetime


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body_id: uuid.UUID = Field(description="负有责任的单位（rounds 服务的巡察对象）")
    duty: DutyType
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    finding_id: uuid.UUID
    body_id: uuid.UUID
    body_name: str
    duty: DutyType
    note: str
    created_by: str
    created_at: datetime


class TracedFinding(LinkRead):
    """A link with the finding it starts from: what `?body_id=` answers, across rounds."""

    round_id: uuid.UUID
    target_id: uuid.UUID
    target_name: str
    category_code: str
    category_name: str
    title: str
    status: FindingStatus
    severity: Severity
    money_involved: Decimal


TracedPage = Page[TracedFinding]


class CategoryCount(BaseModel):
    category_code: str
    category_name: str
    severity: Severity
    count: int
    money_involved: Decimal


class DutyCount(BaseModel):
    duty: DutyType
    count: int
    findings: list[uuid.UUID]


class Portrait(BaseModel):
    """单位素描像: what the inspections found at a unit and what traces back to it."""

    target_id: uuid.UUID
    target_name: str | None
    rounds: int
    findings: int
    open: int = Field(description="草稿、已确认、已移交")
    closed: int
    recurrences: int
    money_involved: Decimal
    by_category: list[CategoryCount]
    by_severity: dict[str, int]
    responsibility: list[DutyCount]


CommentText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=5000),
    Field(description="评论内容：1–5000 字（首尾空白去掉后），不可为空白"),
]


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: CommentText


class CommentUpdate(BaseModel):
    """`body` is required, unlike the all-optional updates elsewhere: it is all a comment has to
    change, so a PATCH without it could only be a mistake."""

    model_config = ConfigDict(extra="forbid")

    body: CommentText


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    finding_id: uuid.UUID
    author: str = Field(description="the author's user id")
    author_name: str | None = Field(description="the author's name when the comment was written")
    body: str
    version: int
    created_at: datetime
    updated_at: datetime


CommentPage = Page[CommentRead]
