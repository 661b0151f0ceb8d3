from services.common.enums import LabeledEnum


class Role(LabeledEnum):
    """用户角色 (../shared/DOMAIN.md, "Who uses the product")"""

    admin = ("admin", "系统管理员")
    office = ("office", "市委巡察办")
    group_leader = ("group_leader", "巡察组组长")
    group_member = ("group_member", "巡察组成员")
    township_group = ("township_group", "乡镇党委巡察小组")
    expert = ("expert", "业务指导组专家")
    receiver = ("receiver", "线索承办单位")
    owner = ("owner", "整改责任人")
    superior = ("superior", "上级巡察办")
    platform = ("platform", "纪检监察信息网络平台")
    service = ("service", "系统内部服务")
