from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    computed_field,
    field_validator,
)

from services.common.fields import Day
from services.rounds.enums import CategoryKind, RoundKind, RoundState, TargetKind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, pattern=r"^\S+$")
]
CoverageKinds = Annotated[list[TargetKind], Field(min_length=1, max_length=len(TargetKind))]


# ---- terms (届) ----


class TermCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortName = Field(description="届次名称", examples=["中共赤壁市第八届委员会"])
    starts_on: Day = Field(description="开始日期")
    ends_on: Day = Field(description="结束日期（须晚于开始日期）")
    coverage_kinds: CoverageKinds = Field(
        description="全覆盖目标：本届内须各巡察一次的对象类别",
        examples=[["department_party_group", "township_committee", "village", "community"]],
    )
    jurisdiction: ShortName = Field(description="所属辖区", examples=["赤壁市"])

    @field_validator("ends_on")
    @classmethod
    def _after_start(cls, ends_on: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None and ends_on <= starts_on:
            raise ValueError("ends_on must be after starts_on")
        return ends_on


class TermUpdate(BaseModel):
    """Only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: ShortName | None = None
    starts_on: Day | None = None
    ends_on: Day | None = None
    coverage_kinds: CoverageKinds | None = None
    jurisdiction: ShortName | None = None


class TermRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date
    coverage_kinds: list[TargetKind]
    jurisdiction: str
    version: int
    created_at: datetime
    updated_at: datetime


# ---- rounds (轮次) ----


class RoundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term_id: uuid.UUID = Field(description="所属届次")
    number: int = Field(
        ge=1, le=1000, strict=True, description="届内轮次序号（届内唯一）", examples=[2]
    )
    name: Name = Field(description="轮次名称", examples=["2018年第二轮 扶贫领域专项巡察"])
    kind: RoundKind
    theme: Note = Field(default="", description="巡察主题")
    checklist_template_id: uuid.UUID | None = Field(
        default=None, description="巡察内容模板；不填则用默认模板（3+7）"
    )


class RoundUpdate(BaseModel):
    """Only the fields sent are changed. The template can be changed until stationing starts."""

    model_config = ConfigDict(extra="forbid")

    number: int | None = Field(default=None, ge=1, le=1000, strict=True)
    name: Name | None = None
    kind: RoundKind | None = None
    theme: Note | None = None
    checklist_template_id: uuid.UUID | None = None


class PhaseDates(BaseModel):
    """Planned and actual dates of a phase. Fields left out keep their value; `null` clears.
    Actual dates are set by the transitions; send them only to correct or back-fill history."""

    model_config = ConfigDict(extra="forbid")

    planned_start: Day | None = None
    planned_end: Day | None = None
    actual_start: Day | None = None
    actual_end: Day | None = None


class PhaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    phase: RoundState
    planned_start: date | None = None
    planned_end: date | None = None
    actual_start: date | None = None
    actual_end: date | None = None


class RoundRead(BaseModel):
    id: uuid.UUID
    term_id: uuid.UUID
    number: int
    name: str
    kind: RoundKind
    theme: str
    state: RoundState
    next_states: list[RoundState] = Field(description="the states a transition may move to now")
    checklist_template_id: uuid.UUID | None
    phases: list[PhaseRead] = Field(description="every phase in order, with its dates")
    version: int
    created_at: datetime
    updated_at: datetime


class TransitionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: RoundState = Field(description="the next state (only one step forward is allowed)")
    note: Note = Field(default="", description="说明")


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    round_id: uuid.UUID
    from_state: RoundState
    to_state: RoundState
    note: str
    by: str = Field(description="who made the change (user id)")
    at: datetime


# ---- work plans (工作方案) ----


class WorkPlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(min_length=1, max_length=200_000)] = Field(
        description="方案正文"
    )
    note: Note = Field(default="", description="本次修改说明")


class WorkPlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    round_id: uuid.UUID
    version: int = Field(description="1, 2, 3 … in the order saved")
    body: str
    note: str
    created_by: str
    created_at: datetime


# ---- content checklists (巡察内容) ----


class ChecklistCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortName = Field(description="模板名称", examples=["2019年常规巡察内容"])


class ChecklistUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortName | None = None


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="编号，在其所属模板（或轮次）内唯一", examples=["S8"])
    name: Name = Field(description="问题类别名称", examples=["扶贫领域形式主义官僚主义"])
    kind: CategoryKind
    parent_id: uuid.UUID | None = Field(default=None, description="上级类别（细化某一类问题）")
    position: int = Field(default=0, ge=0, le=10_000, strict=True, description="同级排序")


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    kind: CategoryKind
    parent_id: uuid.UUID | None
    position: int
    template_id: uuid.UUID | None = Field(description="set when the category is a template's")
    round_id: uuid.UUID | None = Field(description="set when a round added it for itself")
    version: int
    created_at: datetime
    updated_at: datetime


class RoundCategoryRead(CategoryRead):
    @computed_field(description="from the round's template, or added by the round itself")  # type: ignore[prop-decorator]
    @property
    def source(self) -> Literal["template", "round"]:
        return "template" if self.round_id is None else "round"


class CategoryNode(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: CategoryKind
    position: int
    children: list[CategoryNode] = Field(default_factory=list)


class ChecklistRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    is_default: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ChecklistDetail(ChecklistRead):
    categories: list[CategoryNode] = Field(description="the categories as a tree")
