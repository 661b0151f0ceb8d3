from services.common.enums import LabeledEnum


class LeadRecipient(LabeledEnum):
    """线索移交对象"""

    discipline_commission = ("discipline_commission", "纪委监委")
    organisation_department = ("organisation_department", "组织部")
    stationed_discipline_group = ("stationed_discipline_group", "派驻纪检组")
    other = ("other", "其他单位")


class LeadStatus(LabeledEnum):
    """线索状态"""

    draft = ("draft", "草稿")
    approved = ("approved", "已审批")
    transferred = ("transferred", "已移交")
    received = ("received", "已接收")
    handling = ("handling", "处置中")
    case_filed = ("case_filed", "已立案")
    concluded = ("concluded", "已办结")
