"""Errors shared by the parts of the referrals service; class name = stable code."""

from __future__ import annotations

from services.common.errors import ValidationFailed, field_error

__all__ = ["ReferenceInvalid", "field_error"]


class ReferenceInvalid(ValidationFailed):
    title_en = "A referenced finding, round, target or suggestion does not exist or does not fit"
    title_zh = "引用的问题、巡察轮次、巡察对象或意见建议不存在或不匹配"
