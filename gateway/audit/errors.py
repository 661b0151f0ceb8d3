"""Errors of the audit trail a client may see."""

from services.common.errors import ServiceUnavailable


class AuditTrailUnavailable(ServiceUnavailable):
    """The request could not be put on record, so it was not answered (see middleware.py)."""

    title_en = "Audit trail unavailable"
    title_zh = "审计日志暂不可用"
