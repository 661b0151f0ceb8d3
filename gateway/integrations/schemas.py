"""What the discipline inspection network platform reports about a lead, and what it is told.

The codes are the referrals service's (LeadStatus, Handling, PartySanction, GovernmentSanction,
OrganisationalHandling in `/api/v1/meta/enums`), kept here as the gateway's own copy of the
contract (the gateway imports no service): the platform's OpenAPI names every code, and a code
unknown here is refused before anything is forwarded."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

HandlingCode = Literal["talk_inquiry", "preliminary_verification", "shelved", "closed"]
PartySanctionCode = Literal[
    "warning", "serious_warning", "removal_from_party_post", "probation", "expulsion"
]
GovernmentSanctionCode = Literal[
    "warning", "demerit", "major_demerit", "demotion", "dismissal_from_post", "expulsion"
]
OrganisationalHandlingCode = Literal[
    "admonishment_talk",
    "criticism_education",
    "ordered_self_examination",
    "circulated_criticism",
    "adjusted_post",
    "ordered_resignation",
    "removal",
]
# The transition note also names the callback, within the referrals service's 4000 characters.
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=3000)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = Field(default="", description="说明, kept in the lead's history with the step")


class ReceivedReport(Report):
    """已接收: the discipline commission registered the lead (the body may be `{}`)."""


class HandlingReport(Report):
    """处置方式: one of the four handlings was chosen. A lead still waiting to be received is
    received first: choosing a handling implies receipt."""

    handling: HandlingCode = Field(description="处置方式 (Handling)")


class CaseFilingReport(Report):
    """立案: only after preliminary verification (初步核实)."""

    case_number: Reference = Field(description="立案编号")
    case_filed_on: date | None = Field(default=None, description="立案日期（默认今天，北京时间）")


class SubjectOutcome(BaseModel):
    """处理结果 of one subject (被反映人, by the id the lead's events carry)."""

    model_config = ConfigDict(extra="forbid")

    subject_id: uuid.UUID
    party_sanction: PartySanctionCode | None = Field(default=None, description="党纪处分")
    government_sanction: GovernmentSanctionCode | None = Field(default=None, description="政务处分")
    organisational_handling: OrganisationalHandlingCode | None = Field(
        default=None, description="组织处理"
    )
    judicial_transfer: bool = Field(default=False, strict=True, description="移送司法机关")
    not_substantiated: bool = Field(
        default=False, strict=True, description="问题不属实（查否），单独使用"
    )
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""


class OutcomesReport(Report):
    """办结: an outcome for every subject of the lead; sanctions need a filed case."""

    money_recovered: Decimal | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=2, description="追回资金（元）"
    )
    outcomes: list[SubjectOutcome] = Field(min_length=1, max_length=50)


class CallbackResult(BaseModel):
    lead_id: uuid.UUID
    status: str = Field(description="the lead's state now (LeadStatus code)")
    applied: bool = Field(
        description="false when the lead already stood so (a repeated report): nothing changed"
    )
    transitions: list[str] = Field(description="the states the lead moved through now, in order")
    webhook_id: str
