"""Domain errors of the findings service; the class name is the stable problem code."""

from services.common.errors import Conflict, Forbidden, NotFound, Problem, ValidationFailed


class FindingNotFound(NotFound):
    title_en = "Finding not found"
    title_zh = "问题不存在"


class ReferenceInvalid(ValidationFailed):
    title_en = "A referenced assignment, category or target does not exist"
    title_zh = "引用的巡察任务、问题类别或巡察对象不存在"


class NotAnExpert(ValidationFailed):
    title_en = "Only an expert of the finding's round may be consulted on it"
    title_zh = "仅本轮次业务指导组专家可被邀请会商"


class TransitionNotAllowed(Conflict):
    title_en = "The finding cannot move to that status from its current one"
    title_zh = "问题当前状态不允许该流转"


class ReopeningNeedsReason(Conflict):
    """The same request moves a finding that is not closed; this one's state asks for more."""

    title_en = "Reopening a closed finding needs a reason"
    title_zh = "重新打开已办结的问题须说明理由"


class FindingNotEditable(Conflict):
    title_en = "Only a draft finding can be changed or deleted"
    title_zh = "仅草稿状态的问题可以修改或删除"


class NotGroupLeader(Forbidden):
    title_en = "Only the group's leader or deputy leader, or the office, may do this"
    title_zh = "仅本组组长、副组长或巡察办可执行此操作"


class NotOffice(Forbidden):
    title_en = "Only the inspection office may do this"
    title_zh = "仅巡察办可执行此操作"


class EvidenceNotFound(NotFound):
    title_en = "Evidence file not found"
    title_zh = "证据文件不存在"


class EvidenceCorrupted(Problem):
    """The stored bytes no longer hash to what was recorded at upload: the server's fault, not
    the client's, and a retry will not help; the file is withheld rather than served."""

    status = 500
    title_en = "The stored evidence file failed its integrity check"
    title_zh = "证据文件完整性校验失败"
