from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.fields import Day
from services.referrals.enums import (
    GovernmentSanction,
    Handling,
    LeadRecipient,
    LeadStatus,
    OrganisationalHandling,
    PartySanction,
    Rank,
)
from services.referrals.schemas import (
    Body,
    FindingIds,
    FindingSummary,
    Money,
    Name,
    Note,
    Reference,
    Text,
    Title,
)


class SubjectIn(BaseModel):
    """被反映人"""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="姓名（保密）")
    position: Note = Field(default="", max_length=200, description="职务")
    rank: Rank
    party_member: bool = Field(strict=True, description="是否中共党员")


class LeadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    summary: Text = Field(description="线索摘要")
    finding_ids: FindingIds
    recipient: LeadRecipient
    round_id: uuid.UUID | None = Field(
        default=None, description="巡察轮次；不填则取来源问题共同的轮次"
    )
    subjects: list[SubjectIn] = Field(default_factory=list, max_length=50)


class LeadUpdate(BaseModel):
    """Only the fields sent are changed. Title and summary until transfer; recipient and
    subjects (replaced as a whole) while a draft; the feedback deadline once transferred
    (an extension granted by the office)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    summary: Text | None = None
    recipient: LeadRecipient | None = None
    subjects: list[SubjectIn] | None = Field(default=None, max_length=50)
    feedback_due: Day | None = None


class SubjectOutcome(BaseModel):
    """处理结果 of one subject: any of the sanctions and handlings that apply, or not
    substantiated (查否) alone."""

    model_config = ConfigDict(extra="forbid")

    subject_id: uuid.UUID
    party_sanction: PartySanction | None = Field(default=None, description="党纪处分")
    government_sanction: GovernmentSanction | None = Field(default=None, description="政务处分")
    organisational_handling: OrganisationalHandling | None = Field(
        default=None, description="组织处理"
    )
    judicial_transfer: bool = Field(default=False, strict=True, description="移送司法机关")
    not_substantiated: bool = Field(default=False, strict=True, description="问题不属实（查否）")
    note: Note = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        acted = (
            self.party_sanction is not None
            or self.government_sanction is not None
            or self.organisational_handling is not None
            or self.judicial_transfer
        )
        if self.not_substantiated and acted:
            raise ValueError("not_substantiated excludes every sanction and handling")
        if not self.not_substantiated and not acted:
            raise ValueError("give a sanction, a handling, judicial_transfer or not_substantiated")
        return self


class LeadTransitionCreate(BaseModel):
    """Fields needed by the state moved to: `transferred` needs `transfer_letter_no`
    (`transferred_on` defaults to today); `handling` needs `handling`; `case_filed` needs
    `case_number`; `concluded` needs `outcomes` for every subject (and `money_recovered`)."""

    model_config = ConfigDict(extra="forbid")

    to: LeadStatus
    note: Note = Field(default="", description="说明")
    transfer_letter_no: Reference | None = Field(default=None, description="移交函文号")
    transferred_on: Day | None = Field(default=None, description="移交日期（默认今天）")
    handling: Handling | None = Field(default=None, description="处置方式")
    case_number: Reference | None = Field(default=None, description="立案编号")
    case_filed_on: Day | None = Field(default=None, description="立案日期（默认今天）")
    outcomes: list[SubjectOutcome] | None = Field(default=None, max_length=50)
    money_recovered: Money | None = Field(default=None, description="追回资金（元）")


class SubjectRead(BaseModel):
    """A subject and their outcome; only ever shown to those who handle the lead."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    position: str
    rank: Rank
    party_member: bool
    party_sanction: PartySanction | None
    government_sanction: GovernmentSanction | None
    organisational_handling: OrganisationalHandling | None
    judicial_transfer: bool
    not_substantiated: bool
    outcome_note: str


WITHHELD = "withheld (null) in the follow-up view"


class LeadRead(BaseModel):
    """A lead in one of two read models (`view`):

    - `full`, for those who handle the lead: the office, and a receiver of its recipient body
      once it is transferred: every field;
    - `follow_up`, for a group leader following the leads made from their group's findings:
      where the lead stands and nothing of whom it is about or what came of it. Only `id`,
      `finding_ids`/`findings`, `round_id`, `recipient`, `status`, `next_states`, the dates
      (`transferred_on`, `feedback_due`, `case_filed_on`, `concluded_on`), `overdue`,
      `subject_count`, `version` and the timestamps are given; `title`, `summary`, `subjects`,
      `approved_by`, `transfer_letter_no`, `handling`, `case_number`, `money_recovered` and
      `created_by` are null, and the notes of its transitions are null too.
    """

    id: uuid.UUID
    view: Literal["full", "follow_up"] = Field(description="which read model this is")
    title: str | None = Field(description=WITHHELD)
    summary: str | None = Field(description=WITHHELD)
    finding_ids: list[uuid.UUID]
    findings: list[FindingSummary]
    round_id: uuid.UUID | None
    recipient: LeadRecipient
    status: LeadStatus
    next_states: list[LeadStatus] = Field(description="the states a transition may move to now")
    approved_by: str | None = Field(description=f"who approved; {WITHHELD}")
    transfer_letter_no: str | None = Field(description=f"移交函文号; {WITHHELD}")
    transferred_on: date | None
    feedback_due: date | None = Field(description="反馈期限")
    overdue: bool = Field(description="逾期未办结：期限已过（北京时间）而未办结")
    handling: Handling | None = Field(description=f"处置方式; {WITHHELD}")
    case_number: str | None = Field(description=f"立案编号; {WITHHELD}")
    case_filed_on: date | None
    concluded_on: date | None
    money_recovered: Decimal | None = Field(description=f"追回资金（元）; {WITHHELD}")
    subject_count: int = Field(description="被反映人数")
    subjects: list[SubjectRead] | None = Field(
        description=f"被反映人 and their outcomes; {WITHHELD}"
    )
    subject_names_hidden: bool = Field(description="true exactly in the follow-up view")
    created_by: str | None = Field(description=WITHHELD)
    version: int
    created_at: datetime
    updated_at: datetime


class ReceiverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: LeadRecipient
    name: Body = Field(description="承办人或部门名称", examples=["市纪委监委信访室"])


class ReceiverRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    recipient: LeadRecipient
    name: str
    version: int
    created_at: datetime
    updated_at: datetime
