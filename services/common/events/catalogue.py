"""The event catalogue: every integration event, in one place. Names are past tense
(`<aggregate>.<what happened>`), each has a version, a Chinese description and a payload
model whose JSON schema is the contract (`GET /api/v1/events/catalogue` at the gateway serves
them all). A change that breaks a consumer is a new version, never an edit of the old one.

Consumers keep their own copy of the fields they need (the snapshot fields named here); they
never call back for more on delivery.

Confidential fields (names of lead subjects) are listed per event: the hub leaves them out of
every delivery except to a subscriber registered to receive them (the discipline inspection
network platform)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- rounds ----


class RoundPublished(Payload):
    round_id: uuid.UUID
    term_id: uuid.UUID
    number: int
    name: str
    kind: str


class AssignmentCreated(Payload):
    assignment_id: uuid.UUID
    round_id: uuid.UUID
    group_id: uuid.UUID
    target_id: uuid.UUID
    mode: str


class TargetRenamed(Payload):
    target_id: uuid.UUID
    name: str
    previous_name: str


# ---- findings ----


class FindingConfirmed(Payload):
    finding_id: uuid.UUID
    round_id: uuid.UUID
    group_id: uuid.UUID
    target_id: uuid.UUID
    category_id: uuid.UUID
    severity: str
    money_involved: Decimal | None = Field(description="yuan, two places")
    recurrent: bool


class FindingHandedOver(Payload):
    finding_id: uuid.UUID
    round_id: uuid.UUID
    target_id: uuid.UUID
    reason: str


# ---- referrals ----


class LeadRegistered(Payload):
    lead_id: uuid.UUID
    finding_ids: list[uuid.UUID]
    round_id: uuid.UUID | None
    recipient: str


class Subject(Payload):
    subject_id: uuid.UUID
    name: str
    position: str | None
    rank: str
    party_member: bool


class LeadTransferred(Payload):
    lead_id: uuid.UUID
    finding_ids: list[uuid.UUID]
    round_id: uuid.UUID | None
    recipient: str
    title: str
    transfer_letter_no: str | None
    transferred_on: date
    feedback_due: date | None
    subject_count: int
    subjects: list[Subject] | None = Field(
        default=None, description="confidential: only to subscribers cleared for lead subjects"
    )


class LeadHandlingChosen(Payload):
    lead_id: uuid.UUID
    handling: str


class LeadCaseFiled(Payload):
    lead_id: uuid.UUID
    case_number: str
    case_filed_on: date


class Outcome(Payload):
    subject_id: uuid.UUID
    party_sanction: str | None
    government_sanction: str | None
    organisational_handling: str | None
    judicial_transfer: bool
    not_substantiated: bool


class LeadConcluded(Payload):
    lead_id: uuid.UUID
    concluded_on: date
    money_recovered: Decimal | None
    outcomes: list[Outcome]


class RectificationAssigned(Payload):
    item_id: uuid.UUID
    finding_ids: list[uuid.UUID]
    round_id: uuid.UUID | None
    title: str
    owner_type: str
    owner_name: str
    deadline: date


class RectificationEscalated(Payload):
    item_id: uuid.UUID
    notice_id: uuid.UUID
    rung: str
    recipient: str
    deadline: date
    reason: str


class RectificationSignedOff(Payload):
    item_id: uuid.UUID
    signed_off_on: date
    finding_ids: list[uuid.UUID]


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    source: str
    aggregate: str
    payload: type[Payload]
    description: str
    confidential: tuple[str, ...] = field(default=())

    def schema(self) -> dict[str, Any]:
        return self.payload.model_json_schema()


CATALOGUE: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType("round.published", 1, "rounds", "round", RoundPublished,
                  "巡察轮次已动员部署（进入动员阶段）"),
        EventType("assignment.created", 1, "rounds", "assignment", AssignmentCreated,
                  "已确定巡察组对巡察对象的任务"),
        EventType("target.renamed", 1, "rounds", "target", TargetRenamed,
                  "巡察对象名称已变更（各服务据此更新快照）"),
        EventType("finding.confirmed", 1, "findings", "finding", FindingConfirmed,
                  "问题已由组长确认"),
        EventType("finding.handed_over", 1, "findings", "finding", FindingHandedOver,
                  "问题已移交（列入问题线索或整改事项）"),
        EventType("lead.registered", 1, "referrals", "lead", LeadRegistered,
                  "问题线索已登记（所依据的问题随之移交）"),
        EventType("lead.transferred", 1, "referrals", "lead", LeadTransferred,
                  "问题线索已移交受理机关", confidential=("subjects",)),
        EventType("lead.handling_chosen", 1, "referrals", "lead", LeadHandlingChosen,
                  "受理机关已确定处置方式"),
        EventType("lead.case_filed", 1, "referrals", "lead", LeadCaseFiled, "已立案"),
        EventType("lead.concluded", 1, "referrals", "lead", LeadConcluded,
                  "线索已办结，逐人处理结果"),
        EventType("rectification.assigned", 1, "referrals", "rectification",
                  RectificationAssigned, "整改事项已交办"),
        EventType("rectification.escalated", 1, "referrals", "rectification",
                  RectificationEscalated, "整改事项临期或逾期，已发出督办提醒"),
        EventType("rectification.signed_off", 1, "referrals", "rectification",
                  RectificationSignedOff, "整改事项已销号"),
    )
}  # fmt: skip


class Envelope(BaseModel):
    """An event as the relay sends it and the hub delivers it (payload as JSON)."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(description="the event id: consumers apply each id once")
    type: str = Field(max_length=100)
    version: int = Field(ge=1)
    source: str = Field(max_length=32)
    aggregate_type: str = Field(max_length=50)
    aggregate_id: str = Field(max_length=64)
    occurred_at: datetime
    payload: dict[str, Any]


def redact(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without the event's confidential fields."""
    spec = CATALOGUE.get(event_type)
    if spec is None or not spec.confidential:
        return payload
    return {k: v for k, v in payload.items() if k not in spec.confidential}


# Which services consume which events (the hub subscribes them at start). A consumer handles
# each at `POST /internal/events`; see `inbox`.
CONSUMERS: dict[str, tuple[str, ...]] = {
    # a finding follows what is made of it; target names in its snapshot follow the registry
    "findings": ("lead.registered", "rectification.assigned", "target.renamed"),
}


def document() -> str:
    """The catalogue as Markdown (docs/EVENTS.md is this, kept current by a test)."""
    import json

    lines = [
        "# 集成事件目录 Integration event catalogue",
        "",
        "Generated from `services/common/events/catalogue.py` by `python -m ops events-doc`;",
        "the test suite fails when this file and the code disagree. Served with JSON schemas",
        "at `GET /api/v1/events/catalogue`.",
        "",
        "Every event travels in the same envelope: `id` (consumers apply each id once), `type`,",
        "`version`, `source`, `aggregate_type`, `aggregate_id`, `occurred_at`, `payload`.",
        "Delivery is at least once, in order per aggregate and subscriber. Webhooks are signed",
        "per Standard Webhooks (`webhook-id` = the event id, `webhook-timestamp`,",
        "`webhook-signature`). Fields marked confidential are only sent to subscribers cleared",
        "for them.",
        "",
        "| event | v | from | consumers | what happened |",
        "|---|---|---|---|---|",
    ]
    for e in CATALOGUE.values():
        consumers = ", ".join(s for s, ts in CONSUMERS.items() if e.name in ts) or "—"
        lines.append(f"| `{e.name}` | {e.version} | {e.source} | {consumers} | {e.description} |")
    for e in CATALOGUE.values():
        lines += ["", f"## `{e.name}` v{e.version}", "", e.description, ""]
        if e.confidential:
            lines += [f"Confidential: {', '.join(f'`{c}`' for c in e.confidential)}.", ""]
        lines += ["```json", json.dumps(e.schema(), ensure_ascii=False, indent=2), "```"]
    return "\n".join(lines) + "\n"
