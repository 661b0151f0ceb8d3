"""Suggestions (意见建议) and rules established (建立健全制度): what is sent and shown."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.fields import Day, omit_null, refuse_nulls
from services.referrals.enums import Adoption
from services.referrals.schemas import Body, FindingSummary, Note, Reference, Text, Title

Links = Annotated[
    list[uuid.UUID],
    Field(max_length=100, description="来源问题（findings 服务的问题编号），须属于同一轮次"),
]
SuggestionLinks = Annotated[
    list[uuid.UUID],
    Field(max_length=100, description="依据的意见建议（本服务的意见建议编号），须属于同一轮次"),
]


class SuggestionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    round_id: uuid.UUID = Field(description="巡察轮次（rounds 服务）")
    target_id: uuid.UUID | None = Field(default=None, description="涉及的巡察对象（可选）")
    finding_ids: Links = Field(default_factory=list)
    addressed_to: Body = Field(description="建议对象", examples=["市民政局"])
    content: Text = Field(description="意见建议内容")
    adoption: Adoption = Adoption.pending
    adoption_note: Note = Field(default="", description="采纳情况说明")


class SuggestionUpdate(BaseModel):
    """Only the fields sent are changed; the round is fixed."""

    model_config = ConfigDict(extra="forbid")

    target_id: uuid.UUID | None = None
    finding_ids: Links | None = Field(default=None, json_schema_extra=omit_null)
    addressed_to: Body | None = Field(default=None, json_schema_extra=omit_null)
    content: Text | None = Field(default=None, json_schema_extra=omit_null)
    adoption: Adoption | None = Field(default=None, json_schema_extra=omit_null)
    adoption_note: Note | None = Field(default=None, json_schema_extra=omit_null)

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_nulls(self, ("finding_ids", "addressed_to", "content", "adoption", "adoption_note"))
        return self


class SuggestionRead(BaseModel):
    id: uuid.UUID
    round_id: uuid.UUID
    target_id: uuid.UUID | None
    finding_ids: list[uuid.UUID]
    findings: list[FindingSummary]
    addressed_to: str
    content: str
    adoption: Adoption
    adoption_note: str
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    round_id: uuid.UUID = Field(description="巡察轮次（rounds 服务）")
    target_id: uuid.UUID | None = Field(default=None, description="建立制度的巡察对象（可选）")
    unit: Body = Field(description="制定单位", examples=["赤马港办事处"])
    title: Title = Field(description="制度名称", examples=["村级财务管理办法"])
    document_no: Reference | None = Field(default=None, description="文号")
    issued_on: Day | None = Field(default=None, description="印发日期（不晚于今天）")
    finding_ids: Links = Field(default_factory=list)
    suggestion_ids: SuggestionLinks = Field(default_factory=list)


class RuleUpdate(BaseModel):
    """Only the fields sent are changed; the round is fixed."""

    model_config = ConfigDict(extra="forbid")

    target_id: uuid.UUID | None = None
    unit: Body | None = Field(default=None, json_schema_extra=omit_null)
    title: Title | None = Field(default=None, json_schema_extra=omit_null)
    document_no: Reference | None = None
    issued_on: Day | None = None
    finding_ids: Links | None = Field(default=None, json_schema_extra=omit_null)
    suggestion_ids: SuggestionLinks | None = Field(default=None, json_schema_extra=omit_null)

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_nulls(self, ("unit", "title", "finding_ids", "suggestion_ids"))
        return self


class RuleRead(BaseModel):
    id: uuid.UUID
    round_id: uuid.UUID
    target_id: uuid.UUID | None
    unit: str
    title: str
    document_no: str | None
    issued_on: date | None
    finding_ids: list[uuid.UUID]
    findings: list[FindingSummary]
    suggestion_ids: list[uuid.UUID]
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime
