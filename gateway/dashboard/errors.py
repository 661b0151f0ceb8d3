"""Errors of the dashboard, the statistical table and the export packages; class name = code."""

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ScopeInvalid(ValidationFailed):
    title_en = "A term or round asked for does not exist"
    title_zh = "所查询的届次或轮次不存在"


class ReconciliationFailed(Conflict):
    """The records disagree (the referrals service's checks): no table is issued until they
    are corrected at the source. `failed_checks` names each check with its figures."""

    title_en = "The reconciliation checks failed: no statistical table is issued"
    title_zh = "统计数据对账未通过，不出具统计表"


class NotAReportReader(Forbidden):
    title_en = "Only the office and the higher-level office read the statistics"
    title_zh = "仅巡察办和上级巡察办可查看统计数据"


class RecipientNotAllowed(Forbidden):
    title_en = "A package with the lead subjects' names is only made for the office"
    title_zh = "含被反映人姓名的导出包仅限巡察办"


class ExportNotFound(NotFound):
    title_en = "Export not found (or expired)"
    title_zh = "导出任务不存在或已过期"


class ExportNotReady(Conflict):
    title_en = "The export package is not ready; see its status"
    title_zh = "导出包尚未生成完毕，请查看任务进度"
