from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.referrals.enums import LeadRecipient, LeadStatus


class LeadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)
    ] = Field(description="线索摘要")
    finding_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=100, description="来源问题（findings 服务的问题编号）"
    )
    recipient: LeadRecipient


class LeadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    summary: str
    finding_ids: list[uuid.UUID]
    recipient: LeadRecipient
    status: LeadStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
