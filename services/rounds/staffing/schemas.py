"""Request and response bodies of staffing: people, groups, members, assignments."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.common.fields import Day, omit_null
from services.rounds.enums import (
    AssignmentMode,
    GroupKind,
    MemberRole,
    RelationKind,
    Speciality,
)
from services.rounds.staffing.enums import AvoidanceRule

Name100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Name200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Position = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
OverrideReason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]

OVERRIDE_DESCRIPTION = (
    "强制执行理由：存在回避情形时，由巡察办写明理由后仍予安排；理由与操作人将被记录。"
    " Written reason to override an avoidance conflict; recorded with who overrode it."
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def end_not_before(value: date | None, info: ValidationInfo, start_field: str) -> date | None:
    """An end date is not before its start date (declared, hence validated, before it)."""
    start = info.data.get(start_field)
    if value is not None and start is not None and value < start:
        raise ValueError(f"must not be before {start_field}")
    return value


def not_null(value: Any) -> Any:
    """PATCH bodies may omit a required attribute but not set it to null (and the field's
    schema, by `omit_null`, does not offer null)."""
    if value is None:
        raise ValueError("cannot be null")
    return value


# ---- people ---------------------------------------------------------------------------------


class PersonCreate(Strict):
    name: Name100 = Field(description="姓名", examples=["王某某"])
    unit: Name200 = Field(description="工作单位", examples=["赤壁市纪委监委"])
    position: Position = Field(default="", description="职务", examples=["第一纪检监察室主任"])
    specialities: list[Speciality] = Field(
        default_factory=list, max_length=len(Speciality), description="专业特长"
    )
    user_id: uuid.UUID | None = Field(
        default=None, description="关联的平台用户（网关用户 id），每个用户至多关联一名干部"
    )


class PersonUpdate(Strict):
    name: Name100 | None = Field(default=None, json_schema_extra=omit_null)
    unit: Name200 | None = Field(default=None, json_schema_extra=omit_null)
    position: Position | None = Field(default=None, json_schema_extra=omit_null)
    specialities: list[Speciality] | None = Field(
        default=None, max_length=len(Speciality), json_schema_extra=omit_null
    )
    user_id: uuid.UUID | None = None

    _required = field_validator("name", "unit", "position", "specialities")(not_null)


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    unit: str
    position: str
    specialities: list[Speciality]
    user_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class PostingCreate(Strict):
    """任职经历: a unit the person worked in."""

    target_id: uuid.UUID = Field(description="任职单位（巡察对象）")
    position: Position = Field(default="", description="所任职务", examples=["副镇长"])
    from_date: Day | None = Field(default=None, description="任职起始日期")
    to_date: Day | None = Field(default=None, description="任职结束日期")

    @field_validator("to_date")
    @classmethod
    def _to_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        return end_not_before(value, info, "from_date")


class PostingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    target_id: uuid.UUID
    position: str
    from_date: date | None
    to_date: date | None


class RelationCreate(Strict):
    """回避关系: a relative (or other interest) declared in a unit."""

    target_id: uuid.UUID = Field(description="亲属所在单位（巡察对象）")
    relative_name: Name100 = Field(description="亲属姓名")
    relation: RelationKind
    note: Note = Field(default="", description="备注")


class RelationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    target_id: uuid.UUID
    relative_name: str
    relation: RelationKind
    note: str


# ---- groups and members ----------------------------------------------------------------------


class GroupCreate(Strict):
    round_id: uuid.UUID = Field(description="所属轮次")
    kind: GroupKind
    name: Name200 = Field(description="组名，本轮内唯一", examples=["赤壁市委第一巡察组"])
    owning_organisation: Name200 = Field(description="派出单位", examples=["中共赤壁市委"])
    lead_group_id: uuid.UUID | None = Field(
        default=None, description="乡镇巡察小组所协助的本轮市委巡察组"
    )
    higher_level_group: Name200 | None = Field(
        default=None,
        description="联合巡察的上级巡察组（联合巡察组必填）",
        examples=["咸宁市委第二巡察组"],
    )
    capacity: int = Field(
        default=8, ge=1, le=1000, strict=True, description="本轮可承担的巡察对象数（规划用）"
    )


class GroupUpdate(Strict):
    kind: GroupKind | None = Field(default=None, json_schema_extra=omit_null)
    name: Name200 | None = Field(default=None, json_schema_extra=omit_null)
    owning_organisation: Name200 | None = Field(default=None, json_schema_extra=omit_null)
    lead_group_id: uuid.UUID | None = None
    higher_level_group: Name200 | None = None
    capacity: int | None = Field(
        default=None, ge=1, le=1000, strict=True, json_schema_extra=omit_null
    )

    _required = field_validator("kind", "name", "owning_organisation", "capacity")(not_null)


class GroupRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    round_id: uuid.UUID
    kind: GroupKind
    name: str
    owning_organisation: str
    lead_group_id: uuid.UUID | None
    higher_level_group: str | None
    capacity: int
    version: int
    created_at: datetime
    updated_at: datetime


class MemberCreate(Strict):
    person_id: uuid.UUID = Field(description="巡察干部")
    role: MemberRole
    seconded_from: Name200 | None = Field(
        default=None, description="抽调单位", examples=["赤壁市纪委监委"]
    )
    starts_on: Day | None = Field(
        default=None, description="进驻起始日期；缺省为本轮进驻阶段的计划起始日期"
    )
    ends_on: Day | None = Field(
        default=None, description="进驻结束日期；缺省为本轮进驻阶段的计划结束日期"
    )
    override_reason: OverrideReason | None = Field(default=None, description=OVERRIDE_DESCRIPTION)

    @field_validator("ends_on")
    @classmethod
    def _ends_on(cls, value: date | None, info: ValidationInfo) -> date | None:
        return end_not_before(value, info, "starts_on")


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    person_unit: str
    role: MemberRole
    seconded_from: str | None
    starts_on: date | None
    ends_on: date | None
    created_at: datetime


# ---- avoidance -------------------------------------------------------------------------------


class AvoidanceReason(BaseModel):
    """One reason a person must not inspect a target."""

    person_id: uuid.UUID
    person_name: str
    group_id: uuid.UUID
    target_id: uuid.UUID = Field(description="被巡察单位")
    target_name: str
    rule: AvoidanceRule
    via_target_id: uuid.UUID = Field(description="任职或亲属所在单位（被巡察单位或其上级）")
    via_target_name: str
    detail: str = Field(description="任职职务或亲属关系")
    assignment_id: uuid.UUID | None = Field(
        default=None, description="加入成员时：与之冲突的本组巡察任务"
    )


class OverlappingStation(BaseModel):
    group_id: uuid.UUID
    group_name: str
    round_id: uuid.UUID
    starts_on: date | None = Field(description="该组进驻起始（空表示不限）")
    ends_on: date | None = Field(description="该组进驻结束（空表示不限）")


class Override(BaseModel):
    """An avoidance conflict the office overrode, as recorded."""

    reason: str
    overridden_by: str
    conflicts: list[AvoidanceReason]


class MemberCreated(MemberRead):
    override: Override | None = Field(
        default=None,
        description="强制执行的回避情形；理由记入相关巡察任务的 override_reason",
    )


# ---- assignments -----------------------------------------------------------------------------


class AssignmentFields(Strict):
    round_id: uuid.UUID = Field(description="轮次")
    group_id: uuid.UUID = Field(description="巡察组（须属于该轮次）")
    target_id: uuid.UUID = Field(description="巡察对象")
    mode: AssignmentMode
    stationing_start: Day | None = Field(
        default=None, description="进驻起始日期；缺省为本轮进驻阶段的计划起始日期"
    )
    stationing_end: Day | None = Field(
        default=None, description="进驻结束日期；缺省为本轮进驻阶段的计划结束日期"
    )

    @field_validator("stationing_end")
    @classmethod
    def _stationing_end(cls, value: date | None, info: ValidationInfo) -> date | None:
        return end_not_before(value, info, "stationing_start")


class AssignmentCreate(AssignmentFields):
    override_reason: OverrideReason | None = Field(default=None, description=OVERRIDE_DESCRIPTION)


class AssignmentBatchCreate(Strict):
    """All or nothing: every item is checked and either all are created or none."""

    items: list[AssignmentFields] = Field(min_length=1, max_length=1000)
    override_reason: OverrideReason | None = Field(default=None, description=OVERRIDE_DESCRIPTION)


class AssignmentUpdate(Strict):
    mode: AssignmentMode | None = Field(default=None, json_schema_extra=omit_null)
    stationing_start: Day | None = None
    stationing_end: Day | None = None

    _required = field_validator("mode")(not_null)

    @field_validator("stationing_end")
    @classmethod
    def _stationing_end(cls, value: date | None, info: ValidationInfo) -> date | None:
        return end_not_before(value, info, "stationing_start")


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    round_id: uuid.UUID
    group_id: uuid.UUID
    target_id: uuid.UUID
    mode: AssignmentMode
    stationing_start: date | None
    stationing_end: date | None
    override_reason: str | None = Field(description="强制执行理由（存在回避情形时）")
    overridden_by: str | None = Field(description="强制执行人")
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


class AssignmentCreated(AssignmentRead):
    overridden: list[AvoidanceReason] = Field(
        default_factory=list, description="本次强制执行的回避情形"
    )


class AssignmentBatchCreated(BaseModel):
    items: list[AssignmentCreated]


class Membership(BaseModel):
    """A signed-in user's place in a group: what other services use to scope what they show."""

    model_config = ConfigDict(from_attributes=True)

    group_id: uuid.UUID
    round_id: uuid.UUID
    group_kind: GroupKind
    group_name: str
    role: MemberRole
    starts_on: date | None
    ends_on: date | None


class AvoidanceOverrideRead(BaseModel):
    """回避例外登记: one reason the office chose to override, with its written reason."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_id: uuid.UUID
    person_id: uuid.UUID
    target_id: uuid.UUID
    assignment_id: uuid.UUID | None
    rule: AvoidanceRule
    via_target_id: uuid.UUID
    detail: str
    reason: str
    overridden_by: str
    at: datetime
