"""Pydantic types shared by the parts of the referrals service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.fields import Yuan

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Money = Annotated[Yuan, Field(description="元，两位小数的十进制字符串")]
FindingIds = Annotated[
    list[uuid.UUID],
    Field(min_length=1, max_length=100, description="来源问题（findings 服务的问题编号）"),
]


class FindingSummary(BaseModel):
    """What is shown of a source finding (a snapshot taken from the findings service)."""

    model_config = ConfigDict(from_attributes=True)

    finding_id: uuid.UUID
    title: str
    target_id: uuid.UUID | None
    round_id: uuid.UUID | None
    group_id: uuid.UUID | None


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    from_state: str
    to_state: str
    note: str | None = Field(
        description="说明; null for a lead's transitions read in its follow-up view"
    )
    by: str = Field(description="who made the change (user id)")
    at: datetime
