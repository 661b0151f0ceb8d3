from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.findings.enums import FindingSource, FindingStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class FindingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_id: uuid.UUID = Field(description="巡察对象（rounds 服务的对象编号）")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    facts: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
    money_involved: Money = Field(
        default=Decimal("0.00"), description="涉及金额（元，两位小数的十进制字符串）"
    )
    source: FindingSource
    discovered_on: date = Field(description="发现日期（北京时间）")

    @field_validator("discovered_on")
    @classmethod
    def not_in_future(cls, value: date) -> date:
        if value > datetime.now(SHANGHAI).date():
            raise ValueError("discovered_on is in the future (Asia/Shanghai)")
        return value


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    target_id: uuid.UUID
    title: str
    facts: str
    money_involved: Decimal
    source: FindingSource
    discovered_on: date
    status: FindingStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
