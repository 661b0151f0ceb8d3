"""Errors of suggestions and rules established; class name = stable code."""

from services.common.errors import Conflict, NotFound, ValidationFailed


class SuggestionNotFound(NotFound):
    title_en = "Suggestion not found"
    title_zh = "意见建议不存在"


class RuleNotFound(NotFound):
    title_en = "Rule established not found"
    title_zh = "建立健全制度记录不存在"


class SuggestionInUse(Conflict):
    title_en = "Rules established cite this suggestion; unlink them first (see `rules`)"
    title_zh = "已有制度建设记录引用该意见建议，请先解除关联（见 rules）"


class ResultInvalid(ValidationFailed):
    title_en = "A field is invalid"
    title_zh = "字段不合法"
