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
