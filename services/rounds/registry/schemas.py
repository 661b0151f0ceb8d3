from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.rounds.enums import RiskClass, TargetKind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Jurisdiction = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class TargetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="单位名称", examples=["赤壁市扶贫办党组"])
    kind: TargetKind
    jurisdiction: Jurisdiction = Field(description="所属辖区", examples=["赤壁市"])
    parent_id: uuid.UUID | None = Field(default=None, description="上级单位（如村所属的乡镇党委）")
    risk_class: RiskClass = RiskClass.medium


class TargetUpdate(BaseModel):
    """Only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    kind: TargetKind | None = None
    jurisdiction: Jurisdiction | None = None
    parent_id: uuid.UUID | None = None
    risk_class: RiskClass | None = None


class TargetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: TargetKind
    jurisdiction: str
    parent_id: uuid.UUID | None
    risk_class: RiskClass
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class RowError(BaseModel):
    row: int = Field(description="row number as the spreadsheet shows it (header is row 1)")
    column: str
    message: str


class ImportReport(BaseModel):
    imported: int
    rejected_rows: int
    errors: list[RowError] = Field(description="the first 1,000 errors; `rejected_rows` counts all")
    ids: list[uuid.UUID] = Field(description="ids of the imported targets, in file order")
