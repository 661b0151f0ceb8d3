"""The figures of the findings: counts and money involved, by state, category and severity."""

from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import BaseModel, Field

from services.findings.enums import FindingStatus, Severity


class StatusCount(BaseModel):
    code: FindingStatus
    label: str
    count: int


class SeverityCount(BaseModel):
    code: Severity
    label: str
    count: int


class CategoryFigures(BaseModel):
    """One category of the checklist (by code: the same code in several rounds is one line)."""

    code: str = Field(description="问题类别编码")
    name: str = Field(description="问题类别名称")
    count: int = Field(description="问题（个）")
    money_involved: Decimal = Field(description="涉及金额（元）")
    by_status: list[StatusCount]


class RoundFigures(BaseModel):
    round_id: uuid.UUID
    count: int = Field(description="问题（个）")
    confirmed_or_later: int = Field(description="已确认、已移交或已办结（个）")


class FindingStats(BaseModel):
    scope: str = Field(description="`all` (every finding) or `rounds` (the rounds listed)")
    round_ids: list[uuid.UUID]
    total: int = Field(description="发现问题（个），草稿在内")
    confirmed_or_later: int = Field(description="已确认的问题（个）：已确认、已移交、已办结")
    money_involved: Decimal = Field(description="涉及金额（元），两位小数，草稿在内")
    confirmed_money_involved: Decimal = Field(description="已确认问题的涉及金额（元）")
    by_status: list[StatusCount]
    by_severity: list[SeverityCount]
    by_category: list[CategoryFigures] = Field(description="by checklist code, in code order")
    by_round: list[RoundFigures]
