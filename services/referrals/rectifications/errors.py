"""Errors of rectification items and notices; class name = stable code."""

from services.common.errors import Conflict, NotFound, ValidationFailed


class RectificationNotFound(NotFound):
    title_en = "Rectification item not found"
    title_zh = "整改事项不存在"


class IllegalRectificationTransition(Conflict):
    title_en = "This state change is not allowed; see `allowed` for the next states"
    title_zh = "不允许的整改事项状态变更，可变更的状态见 allowed"


class RectificationClosed(Conflict):
    title_en = "A signed-off item can only be reopened"
    title_zh = "已销号的整改事项只能在回头看时重新打开"


class RectificationStepInvalid(ValidationFailed):
    title_en = "The fields this step needs are missing or invalid"
    title_zh = "该步骤所需字段缺失或不合法"
