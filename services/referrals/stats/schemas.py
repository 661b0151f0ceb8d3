"""The statistics the office reports (统计), with the checks that the figures agree."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from services.common.enums import LabeledEnum
from services.referrals.enums import (
    Adoption,
    GovernmentSanction,
    Handling,
    LeadRecipient,
    OrganisationalHandling,
    PartySanction,
    RectificationStatus,
)

E = TypeVar("E", bound=LabeledEnum)


class Tally(BaseModel, Generic[E]):
    """One line of a breakdown: a code, its Chinese label, the count."""

    code: E
    label: str
    count: int


class RecipientFigures(BaseModel):
    recipient: LeadRecipient
    label: str
    handed_over: int = Field(description="移交线索（件）")
    received: int = Field(description="已接收（件）")
    handled: int = Field(description="已确定处置方式（件）")
    cases_filed: int = Field(description="立案（件）")
    sanctioned: int = Field(description="给予党政纪处分（人）")
    money_recovered: Decimal = Field(description="追回资金（元）")


class LeadFigures(BaseModel):
    handed_over: int = Field(description="移交问题线索（件）：已移交及以后各状态")
    received: int = Field(description="已接收（件）")
    awaiting_handling: int = Field(description="已接收、尚未确定处置方式（件）")
    handled: int = Field(description="已确定处置方式（件），即四类处置之和")
    handlings: list[Tally[Handling]] = Field(description="四类处置（件）")
    cases_filed: int = Field(description="立案（件）")
    concluded: int = Field(description="办结（件）")
    overdue: int = Field(description="逾期未办结（件）")
    by_recipient: list[RecipientFigures]
    money_recovered: Decimal = Field(description="追回资金（元），两位小数的十进制字符串")


class PersonFigures(BaseModel):
    """Counted per subject of a lead (被反映人); a person given both a party and a government
    sanction is one person sanctioned."""

    subjects: int = Field(description="移交线索涉及人员（人）")
    subjects_of_filed_cases: int = Field(description="立案涉及人员（人）")
    sanctioned: int = Field(description="给予党政纪处分（人），党纪、政务处分合并去重")
    party_sanctioned: int = Field(description="给予党纪处分（人）")
    party_sanctions: list[Tally[PartySanction]]
    government_sanctioned: int = Field(description="给予政务处分（人）")
    government_sanctions: list[Tally[GovernmentSanction]]
    organisational_handling: int = Field(description="组织处理（人）")
    organisational_handlings: list[Tally[OrganisationalHandling]]
    judicial_transfers: int = Field(description="移送司法机关（人）")
    not_substantiated: int = Field(description="问题不属实（人）")


class RectificationFigures(BaseModel):
    fed_back: int = Field(description="反馈整改事项（个）")
    signed_off: int = Field(description="已销号（个）")
    open: int = Field(description="未销号（个）")
    overdue: int = Field(description="逾期未销号（个）")
    by_status: list[Tally[RectificationStatus]]


class SuggestionFigures(BaseModel):
    total: int = Field(description="提出意见建议（条）")
    by_adoption: list[Tally[Adoption]]


class Check(BaseModel):
    """A reconciliation check: `ok` false means the records disagree and need correcting at
    the source; the figures are reported as they are, never adjusted."""

    check: str = Field(description="stable code of the check")
    ok: bool
    detail: str = Field(description="the figures compared, in the office's words")


class Stats(BaseModel):
    scope: str = Field(
        description="what was counted: `all` (every record) or `rounds` (the rounds listed)"
    )
    round_ids: list[uuid.UUID] = Field(
        description="the rounds counted (asked for, or those of the terms and jurisdiction "
        "asked for); empty with scope `all`. A lead or item of findings of several rounds (no "
        "round of its own) counts in each of them, once"
    )
    term_ids: list[uuid.UUID] = Field(description="the terms asked for")
    jurisdiction: str | None = Field(description="the jurisdiction asked for")
    as_of: date = Field(description="the day (Asia/Shanghai) overdue is judged on")
    leads: LeadFigures
    persons: PersonFigures
    rectification: RectificationFigures
    suggestions: SuggestionFigures
    rules: int = Field(description="建立健全制度（项）")
    summary: str = Field(description="the figures in the office's wording")
    checks: list[Check]
    consistent: bool = Field(description="every check passed")
