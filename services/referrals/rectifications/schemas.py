from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.common.fields import Day
from services.referrals.enums import NoticeRecipient, OwnerType, RectificationStatus
from services.referrals.schemas import Body, FindingIds, FindingSummary, Name, Note, Text, Title


class RectificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    duties: Text = Field(description="整改任务与要求")
    finding_ids: FindingIds
    round_id: uuid.UUID | None = Field(
        default=None, description="巡察轮次；不填则取来源问题共同的轮次"
    )
    owner_type: OwnerType
    owner_name: Body = Field(description="整改责任人或责任单位")
    owner_user_id: uuid.UUID | None = Field(default=None, description="责任人的用户 id（可选）")
    leader_name: Name | None = Field(default=None, description="分管领导")
    leader_user_id: uuid.UUID | None = None
    unit_head_name: Name | None = Field(default=None, description="单位主要负责人（一把手）")
    unit_head_user_id: uuid.UUID | None = None
    deadline: Day = Field(description="整改期限（北京时间，不早于今天）")


class RectificationUpdate(BaseModel):
    """Only the fields sent are changed; not once signed off."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    duties: Text | None = None
    owner_type: OwnerType | None = None
    owner_name: Body | None = None
    owner_user_id: uuid.UUID | None = None
    leader_name: Name | None = None
    leader_user_id: uuid.UUID | None = None
    unit_head_name: Name | None = None
    unit_head_user_id: uuid.UUID | None = None
    deadline: Day | None = None


class RectificationRead(BaseModel):
    id: uuid.UUID
    title: str
    duties: str
    finding_ids: list[uuid.UUID]
    findings: list[FindingSummary]
    round_id: uuid.UUID | None
    owner_type: OwnerType
    owner_name: str
    owner_user_id: uuid.UUID | None
    leader_name: str | None
    leader_user_id: uuid.UUID | None
    unit_head_name: str | None
    unit_head_user_id: uuid.UUID | None
    deadline: date
    overdue: bool = Field(description="逾期未销号（北京时间）")
    status: RectificationStatus
    next_states: list[RectificationStatus]
    signed_off_on: date | None
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


class ProgressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text = Field(description="整改进展")


class ProgressRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    item_id: uuid.UUID
    note: str
    by: str
    at: datetime


class RectificationTransitionCreate(BaseModel):
    """`sent_back` and `reopened` need a reason in `note`; `reopened` may set a new
    `deadline`."""

    model_config = ConfigDict(extra="forbid")

    to: RectificationStatus
    note: Note = ""
    deadline: Day | None = Field(default=None, description="回头看重新整改的新期限")


class EscalationRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: Day | None = Field(
        default=None,
        description="the day to check for (Asia/Shanghai); default today. Never later than "
        "today (422 naming `on`); an earlier day catches up a missed run.",
    )


class NoticeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    item_id: uuid.UUID
    recipient: NoticeRecipient
    recipient_name: str | None
    recipient_user_id: uuid.UUID | None
    days_before: int = Field(description="the rung: days before the deadline (negative: after)")
    deadline: date
    issued_on: date
    reason: str
    created_at: datetime


class EscalationResult(BaseModel):
    on: date
    created: list[NoticeRead] = Field(description="the notices this run issued (none twice)")
