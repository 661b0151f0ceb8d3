"""Errors of leads; class name = stable code."""

from services.common.errors import Conflict, NotFound, ValidationFailed


class LeadNotFound(NotFound):
    title_en = "Lead not found"
    title_zh = "问题线索不存在"


class IllegalLeadTransition(Conflict):
    title_en = "This state change is not allowed; see `allowed` for the next states"
    title_zh = "不允许的线索状态变更，可变更的状态见 allowed"


class LeadNotEditable(Conflict):
    title_en = "The lead can no longer be changed this way in its current state"
    title_zh = "线索当前状态下不能作此修改"


class LeadIncomplete(Conflict):
    title_en = "The lead lacks what this step needs"
    title_zh = "线索信息不完整，不能进行此操作"


class LetterNumberTaken(Conflict):
    title_en = "Another lead was transferred with this letter number"
    title_zh = "该移交函文号已被其他线索使用"


class CaseNeedsVerification(Conflict):
    title_en = "Only a lead under preliminary verification can become a case"
    title_zh = "只有初步核实的线索才能立案"


class LeadStepInvalid(ValidationFailed):
    title_en = "The fields this step needs are missing or invalid"
    title_zh = "该步骤所需字段缺失或不合法"


class ReceiverNotFound(NotFound):
    title_en = "Receiver not found"
    title_zh = "线索承办人不存在"
