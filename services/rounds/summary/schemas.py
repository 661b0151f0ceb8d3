"""The planning figures of a scope (terms, rounds, a jurisdiction)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field

from services.rounds.coverage.schemas import Tally
from services.rounds.enums import AssignmentMode, GroupKind, RoundKind, RoundState


class StateCount(BaseModel):
    code: RoundState
    label: str
    count: int


class KindCount(BaseModel):
    code: RoundKind
    label: str
    count: int


class GroupKindCount(BaseModel):
    code: GroupKind
    label: str
    count: int


class ModeCount(BaseModel):
    code: AssignmentMode
    label: str
    count: int


class RoundLine(BaseModel):
    id: uuid.UUID
    term_id: uuid.UUID
    number: int
    name: str
    kind: RoundKind
    kind_label: str
    state: RoundState
    state_label: str = Field(description="当前阶段")
    groups: int = Field(description="巡察组（个）")
    members: int = Field(description="组内人员（人）")
    assignments: int = Field(description="任务分配（组×对象）")
    targets: int = Field(description="巡察对象（个）")


class TermLine(BaseModel):
    id: uuid.UUID
    name: str
    jurisdiction: str
    starts_on: date
    ends_on: date
    coverage: Tally = Field(description="全覆盖进度：本届目标对象")


class GroupFigures(BaseModel):
    total: int = Field(description="巡察组（个）")
    members: int = Field(description="组内人员（人次）")
    by_kind: list[GroupKindCount]


class AssignmentFigures(BaseModel):
    total: int = Field(description="任务分配（组×对象）")
    targets: int = Field(description="巡察对象（个，去重）")
    by_mode: list[ModeCount]


class RoundsSummary(BaseModel):
    scope: str = Field(description="`all` (every term and round) or `scoped`")
    term_ids: list[uuid.UUID] = Field(description="the terms shown (asked for, or found)")
    round_ids: list[uuid.UUID] = Field(
        description="the rounds counted: asked for, or those of the terms (and jurisdiction)"
    )
    jurisdiction: str | None
    terms: list[TermLine]
    rounds: list[RoundLine] = Field(description="by term, then number")
    rounds_by_state: list[StateCount]
    rounds_by_kind: list[KindCount]
    groups: GroupFigures
    assignments: AssignmentFigures
    coverage: Tally = Field(description="全覆盖：各届目标对象合计")
