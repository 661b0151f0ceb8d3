from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.rounds.enums import AssignmentMode, TargetKind


class Tally(BaseModel):
    total: int = Field(description="targets in the goal")
    inspected: int = Field(description="assigned in a round that has reached stationing (已巡察)")
    planned: int = Field(description="assigned only in rounds still being prepared (已安排)")
    remaining: int = Field(description="neither (未覆盖)")


class KindTally(Tally):
    kind: TargetKind
    label: str


class TownshipTally(Tally):
    township_id: uuid.UUID | None = Field(description="null: units not under a township (县直单位)")
    township: str


class Coverage(BaseModel):
    term_id: uuid.UUID
    jurisdiction: str
    kinds: list[TargetKind]
    overall: Tally
    by_kind: list[KindTally]
    by_township: list[TownshipTally]


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term_id: uuid.UUID
    round_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=50, description="rounds of the term still in preparation"
    )
    mode: AssignmentMode = Field(description="the mode of the assignments the plan creates")


class PlanGroup(BaseModel):
    round_id: uuid.UUID
    group_id: uuid.UUID
    target_ids: list[uuid.UUID]


class Unplaced(BaseModel):
    target_id: uuid.UUID
    reason: str


class PlanRead(BaseModel):
    id: uuid.UUID
    term_id: uuid.UUID
    round_ids: list[uuid.UUID]
    mode: AssignmentMode
    status: str = Field(description="proposed 待审定 | accepted 已采纳 | discarded 已放弃")
    placed: int
    groups: list[PlanGroup]
    unplaced: list[Unplaced]
    version: int
    created_at: datetime
