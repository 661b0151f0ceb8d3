"""Codes of the staffing part (with Chinese labels, as every enum of the API)."""

from services.common.enums import LabeledEnum


class AvoidanceRule(LabeledEnum):
    """回避事由"""

    posting_at_target = ("posting_at_target", "曾在被巡察单位任职")
    posting_at_parent = ("posting_at_parent", "曾在被巡察单位的上级单位任职")
    relation_at_target = ("relation_at_target", "在被巡察单位有亲属或利害关系")
    relation_at_parent = ("relation_at_parent", "在被巡察单位的上级单位有亲属或利害关系")
