from services.common.errors import Conflict, NotFound, ValidationFailed


class TermNotFound(NotFound):
    title_en = "Term not found"
    title_zh = "届次不存在"


class PlanNotFound(NotFound):
    title_en = "Coverage plan not found"
    title_zh = "全覆盖安排方案不存在"


class PlanNotOpen(Conflict):
    title_en = "The plan was already accepted or discarded"
    title_zh = "该方案已被采纳或放弃"


class PlanOutdated(Conflict):
    title_en = "The plan no longer fits: assignments or avoidance changed since it was made"
    title_zh = "方案已过时：任务分配或回避情况已发生变化，请重新生成"


class PlanRoundsInvalid(ValidationFailed):
    title_en = "The rounds given cannot take new assignments"
    title_zh = "所选轮次不能再安排巡察任务"
