from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.rounds.enums import TargetKind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TargetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="单位名称", examples=["赤壁市扶贫办党组"])
    kind: TargetKind
    jurisdiction: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = Field(description="所属辖区", examples=["赤壁市"])
    parent_id: uuid.UUID | None = Field(default=None, description="上级单位（如村所属的乡镇党委）")


class TargetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: TargetKind
    jurisdiction: str
    parent_id: uuid.UUID | None
    created_by: str
    created_at: datetime
    updated_at: datetime
