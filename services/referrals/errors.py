"""Errors shared by the parts of the referrals service; class name = stable code."""

from __future__ import annotations

from typing import TypeVar

from services.common.errors import Problem, ValidationFailed

P = TypeVar("P", bound=Problem)


class ReferenceInvalid(ValidationFailed):
    title_en = "A referenced finding, round, target or suggestion does not exist or does not fit"
    title_zh = "引用的问题、巡察轮次、巡察对象或意见建议不存在或不匹配"


def field_error(cls: type[P], field: str, message: str, code: str) -> P:
    """A problem naming the offending field, as the request validation does."""
    return cls(f"{field}: {message}", errors=[{"field": field, "message": message, "code": code}])
