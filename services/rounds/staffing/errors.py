"""Domain errors of staffing: the class name is the stable code (`/problems/<kebab-name>`)."""

from services.common.errors import Conflict, NotFound, ValidationFailed


class PersonNotFound(NotFound):
    title_en = "Person not found"
    title_zh = "巡察干部不存在"


class PostingNotFound(NotFound):
    title_en = "Posting not found"
    title_zh = "任职经历不存在"


class RelationNotFound(NotFound):
    title_en = "Declared relation not found"
    title_zh = "回避关系不存在"


class GroupNotFound(NotFound):
    title_en = "Inspection group not found"
    title_zh = "巡察组不存在"


class MemberNotFound(NotFound):
    title_en = "Group member not found"
    title_zh = "巡察组成员不存在"


class AssignmentNotFound(NotFound):
    title_en = "Assignment not found"
    title_zh = "巡察任务不存在"


class PersonUserTaken(Conflict):
    title_en = "This user is already linked to another person"
    title_zh = "该用户已关联其他巡察干部"


class PersonInUse(Conflict):
    title_en = "The person is a member of a group"
    title_zh = "该干部仍在巡察组中，不能删除"


class GroupNameTaken(Conflict):
    title_en = "A group with this name already exists in the round"
    title_zh = "本轮已有同名巡察组"


class GroupInUse(Conflict):
    title_en = "The group still has assignments or assisting sub-groups"
    title_zh = "巡察组仍有巡察任务或协助的小组，不能删除"


class AlreadyMember(Conflict):
    title_en = "The person is already a member of this group"
    title_zh = "该干部已是本组成员"


class LeaderTaken(Conflict):
    title_en = "The group already has a leader"
    title_zh = "本组已有组长"


class StationOverlap(Conflict):
    title_en = "The person is stationed in another group in an overlapping period"
    title_zh = "该干部同期已在其他巡察组进驻"


class AvoidanceConflict(Conflict):
    title_en = "Avoidance rules forbid this; an override with a written reason is possible"
    title_zh = "存在回避情形；如确需安排，请填写理由后强制执行"


class AssignmentExists(Conflict):
    title_en = "The group is already assigned this target in the round"
    title_zh = "该巡察组在本轮已被分配此巡察对象"


class ReferenceInvalid(ValidationFailed):
    title_en = "A referenced record does not exist"
    title_zh = "引用的记录不存在"


class GroupStructureInvalid(ValidationFailed):
    title_en = "The group's kind, lead group or higher-level group do not fit together"
    title_zh = "巡察组类别、牵头组或上级巡察组设置不符合要求"


class GroupNotInRound(ValidationFailed):
    title_en = "The group does not belong to the round"
    title_zh = "巡察组不属于该轮次"


class ModeInvalid(ValidationFailed):
    title_en = "The inspection mode does not fit the group or the target"
    title_zh = "巡察方式与巡察组或巡察对象不符"


class BatchInvalid(ValidationFailed):
    title_en = "Some items of the batch are invalid; nothing was created"
    title_zh = "批量请求中有无效条目，未创建任何记录"


class PeriodInvalid(ValidationFailed):
    title_en = "The period ends before it starts"
    title_zh = "起止日期不合理：结束日期早于开始日期"
