"""Errors of the planning part (terms, rounds, work plans, checklists); class name = stable code."""

from services.common.errors import Conflict, NotFound, ValidationFailed


class TermNotFound(NotFound):
    title_en = "Term not found"
    title_zh = "届次不存在"


class TermNameTaken(Conflict):
    title_en = "A term with this name already exists"
    title_zh = "已有同名届次"


class TermInUse(Conflict):
    title_en = "The term still has rounds and cannot be deleted"
    title_zh = "该届次下仍有巡察轮次，不能删除"


class TermDatesInvalid(ValidationFailed):
    title_en = "The term must end after it starts"
    title_zh = "届次结束日期须晚于开始日期"


class RoundNotFound(NotFound):
    title_en = "Round not found"
    title_zh = "巡察轮次不存在"


class RoundNumberTaken(Conflict):
    title_en = "The term already has a round with this number"
    title_zh = "该届次已有相同序号的巡察轮次"


class RoundReferenceInvalid(ValidationFailed):
    title_en = "A referenced term, template or category does not exist"
    title_zh = "引用的届次、巡察内容模板或问题类别不存在"


class RoundArchived(Conflict):
    title_en = "The round is archived and can no longer be changed"
    title_zh = "该轮次已归档，不能再修改"


class RoundInUse(Conflict):
    title_en = "Only a round in preparation without groups or assignments can be deleted"
    title_zh = "只有处于准备阶段且未组建巡察组、未分配任务的轮次可以删除"


class TemplateLocked(Conflict):
    title_en = "The checklist template can only be changed before stationing"
    title_zh = "进驻后不能更换巡察内容模板"


class IllegalTransition(Conflict):
    title_en = "This state change is not allowed; see `allowed` for the next state"
    title_zh = "不允许的阶段变更，可变更的阶段见 allowed"


class PhaseDatesInvalid(ValidationFailed):
    title_en = "The phase dates are not valid"
    title_zh = "阶段日期不合法"


class WorkPlanNotFound(NotFound):
    title_en = "Work plan version not found"
    title_zh = "工作方案版本不存在"


class ChecklistNotFound(NotFound):
    title_en = "Checklist template not found"
    title_zh = "巡察内容模板不存在"


class ChecklistNameTaken(Conflict):
    title_en = "A checklist template with this name already exists"
    title_zh = "已有同名巡察内容模板"


class CategoryNotFound(NotFound):
    title_en = "Problem category not found"
    title_zh = "问题类别不存在"


class CategoryCodeTaken(Conflict):
    title_en = "The code is already used by another category in effect here"
    title_zh = "该编号已被其他问题类别使用"


class CategoryParentInvalid(ValidationFailed):
    title_en = "The parent category is not in the same checklist or has another kind"
    title_zh = "上级问题类别不在同一巡察内容中或性质不一致"
