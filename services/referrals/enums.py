"""Codes of the referrals service, each with the Chinese label users know it by."""

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


class Handling(LabeledEnum):
    """线索处置方式（四类处置）"""

    talk_inquiry = ("talk_inquiry", "谈话函询")
    preliminary_verification = ("preliminary_verification", "初步核实")
    shelved = ("shelved", "暂存待查")
    closed = ("closed", "予以了结")


class Rank(LabeledEnum):
    """职级"""

    none = ("none", "无职级")
    village = ("village", "村（社区）干部")
    section_deputy = ("section_deputy", "副科级")
    section = ("section", "科级（正科）")
    division_deputy = ("division_deputy", "副处级")
    division = ("division", "处级（正处）")
    bureau_deputy = ("bureau_deputy", "副厅级")
    bureau = ("bureau", "厅级（正厅）")
    other = ("other", "其他")


class PartySanction(LabeledEnum):
    """党纪处分"""

    warning = ("warning", "警告")
    serious_warning = ("serious_warning", "严重警告")
    removal_from_party_post = ("removal_from_party_post", "撤销党内职务")
    probation = ("probation", "留党察看")
    expulsion = ("expulsion", "开除党籍")


class GovernmentSanction(LabeledEnum):
    """政务处分"""

    warning = ("warning", "警告")
    demerit = ("demerit", "记过")
    major_demerit = ("major_demerit", "记大过")
    demotion = ("demotion", "降级")
    dismissal_from_post = ("dismissal_from_post", "撤职")
    expulsion = ("expulsion", "开除")


class OrganisationalHandling(LabeledEnum):
    """组织处理"""

    admonishment_talk = ("admonishment_talk", "诫勉谈话")
    criticism_education = ("criticism_education", "批评教育")
    ordered_self_examination = ("ordered_self_examination", "责令检查")
    circulated_criticism = ("circulated_criticism", "通报批评")
    adjusted_post = ("adjusted_post", "调整职务")
    ordered_resignation = ("ordered_resignation", "责令辞职")
    removal = ("removal", "免职")


class OwnerType(LabeledEnum):
    """整改责任主体类型"""

    city_leader = ("city_leader", "分管市领导")
    party_head = ("party_head", "一把手")
    stationed_discipline_group = ("stationed_discipline_group", "派驻纪检组")
    responsible_unit = ("responsible_unit", "责任单位")


class RectificationStatus(LabeledEnum):
    """整改事项状态"""

    open = ("open", "整改中")
    completion_requested = ("completion_requested", "申请销号")
    sent_back = ("sent_back", "退回整改")
    signed_off = ("signed_off", "已销号")
    reopened = ("reopened", "回头看重新整改")


class NoticeRecipient(LabeledEnum):
    """督办提醒对象"""

    owner = ("owner", "整改责任人")
    leader_in_charge = ("leader_in_charge", "分管领导")
    unit_head = ("unit_head", "单位主要负责人")


class Adoption(LabeledEnum):
    """意见建议采纳情况"""

    pending = ("pending", "待反馈")
    adopted = ("adopted", "已采纳")
    partially_adopted = ("partially_adopted", "部分采纳")
    not_adopted = ("not_adopted", "未采纳")
