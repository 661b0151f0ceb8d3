from services.common.enums import LabeledEnum


class TargetKind(LabeledEnum):
    """巡察对象类别"""

    department_party_group = ("department_party_group", "部门党组（党委）")
    township_committee = ("township_committee", "乡镇党委")
    village = ("village", "村")
    community = ("community", "社区")
    farm = ("farm", "农场")
    enterprise = ("enterprise", "国有企业")
    institution = ("institution", "事业单位")
    other = ("other", "其他")


class RiskClass(LabeledEnum):
    """风险等级"""

    low = ("low", "低")
    medium = ("medium", "中")
    high = ("high", "高")


class RoundKind(LabeledEnum):
    """巡察类型"""

    regular = ("regular", "常规巡察")
    special = ("special", "专项巡察")
    mobile = ("mobile", "机动巡察")
    follow_up = ("follow_up", "巡察“回头看”")


class RoundState(LabeledEnum):
    """轮次阶段（状态）"""

    preparation = ("preparation", "准备")
    mobilisation = ("mobilisation", "动员")
    stationing = ("stationing", "进驻")
    report = ("report", "报告")
    feedback = ("feedback", "反馈")
    rectification = ("rectification", "整改")
    archived = ("archived", "归档")


class GroupKind(LabeledEnum):
    """巡察组类别"""

    municipal = ("municipal", "市委巡察组")
    township_sub = ("township_sub", "乡镇党委巡察小组")
    joint = ("joint", "上下联合巡察组")
    expert_guidance = ("expert_guidance", "业务指导组")


class MemberRole(LabeledEnum):
    """组内职务"""

    leader = ("leader", "组长")
    deputy_leader = ("deputy_leader", "副组长")
    member = ("member", "成员")
    liaison = ("liaison", "联络员")


class Speciality(LabeledEnum):
    """专业特长"""

    law = ("law", "法律")
    finance = ("finance", "财务")
    engineering = ("engineering", "工程建设")
    audit = ("audit", "审计")
    discipline = ("discipline", "纪检监察")
    organisation = ("organisation", "组织人事")
    agriculture = ("agriculture", "农业农村")
    other = ("other", "其他")


class RelationKind(LabeledEnum):
    """回避关系"""

    spouse = ("spouse", "配偶")
    parent = ("parent", "父母")
    child = ("child", "子女")
    sibling = ("sibling", "兄弟姐妹")
    in_law = ("in_law", "姻亲")
    other = ("other", "其他利害关系")


class AssignmentMode(LabeledEnum):
    """巡察方式"""

    joint = ("joint", "联合式")
    cross = ("cross", "交叉式")
    linked = ("linked", "联动式")
    backtrace = ("backtrace", "倒查式")
    self = ("self", "自查式")
    data = ("data", "科技式")
    counterpart = ("counterpart", "对口式")
    relay = ("relay", "接力式")
    collaborative = ("collaborative", "协同式")
    return_visit = ("return_visit", "回马枪式")
    pinpoint = ("pinpoint", "点穴式")


class CategoryKind(LabeledEnum):
    """问题类别性质"""

    common = ("common", "共性问题")
    specific = ("specific", "个性问题")
