"""Enums of the findings service: English codes, Chinese labels (served in the OpenAPI)."""

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


class Severity(LabeledEnum):
    """问题严重程度"""

    minor = ("minor", "一般")
    major = ("major", "较重")
    serious = ("serious", "严重")


class DutyType(LabeledEnum):
    """责任类型（倒查）"""

    primary = ("primary", "主体责任")
    supervisory = ("supervisory", "监管责任")
    assistance = ("assistance", "帮扶责任")
    pairing_assistance = ("pairing_assistance", "结对帮扶责任")
    approval = ("approval", "审批责任")
    acceptance = ("acceptance", "验收责任")
    poverty_alleviation = ("poverty_alleviation", "脱贫攻坚责任")
    collective_assets = ("collective_assets", "“三资”监管责任")
    resident_team = ("resident_team", "驻村工作队责任")


class EvidenceType(LabeledEnum):
    """证据文件类型（按内容识别）"""

    jpeg = ("image/jpeg", "JPEG 图片")
    png = ("image/png", "PNG 图片")
    pdf = ("application/pdf", "PDF 文档")
    mp4 = ("video/mp4", "MP4 视频")
    m4a = ("audio/mp4", "M4A 录音")
    amr = ("audio/amr", "AMR 录音")
    docx = (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word 文档",
    )
    xlsx = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel 表格")


class BatchOutcome(LabeledEnum):
    """批量登记中单条的结果"""

    created = ("created", "已登记")
    replayed = ("replayed", "重复提交，返回首次结果")
    rejected = ("rejected", "校验失败，未登记")
