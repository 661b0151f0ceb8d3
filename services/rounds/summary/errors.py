"""Errors of the summary; class name = stable code."""

from services.common.errors import ValidationFailed


class SummaryScopeInvalid(ValidationFailed):
    title_en = "A term or round asked for does not exist"
    title_zh = "所查询的届次或轮次不存在"
