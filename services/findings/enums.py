from services.common.enums import LabeledEnum


class FindingSource(LabeledEnum):
    """问题来源"""

    talk = ("talk", "个别谈话")
    documents = ("documents", "查阅资料")
    visit = ("visit", "走访调研")
    letters = ("letters", "受理信访")
    data_check = ("data_check", "大数据比对")


class FindingStatus(LabeledEnum):
    """问题状态"""

    draft = ("draft", "草稿")
    confirmed = ("confirmed", "已确认")
    handed_over = ("handed_over", "已移交")
    closed = ("closed", "已办结")
