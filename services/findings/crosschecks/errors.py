"""Domain errors of data cross-checks; the class name is the stable problem code."""

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed


class DatasetNotFound(NotFound):
    title_en = "Dataset version not found"
    title_zh = "数据集版本不存在"


class ColumnsMissing(ValidationFailed):
    title_en = "The file lacks columns its kind requires (or the mapping names absent ones)"
    title_zh = "文件缺少该类数据必需的列（或列对应关系指定的列不存在）"


class ImportRejected(ValidationFailed):
    title_en = "The file has invalid rows; nothing was imported"
    title_zh = "文件存在错误行，未导入任何数据"


class JobNotFound(NotFound):
    title_en = "Job not found"
    title_zh = "任务不存在"


class RunNotFound(NotFound):
    title_en = "Cross-check run not found"
    title_zh = "比对运行不存在"


class HitNotFound(NotFound):
    title_en = "Hit not found"
    title_zh = "比对疑点不存在"


class RuleNotFound(NotFound):
    title_en = "Cross-check rule not found"
    title_zh = "比对规则不存在"


class RuleExists(Conflict):
    title_en = "A rule with this code already exists"
    title_zh = "已存在同一代码的比对规则"


class RuleInvalid(ValidationFailed):
    title_en = "The rule, its parameters or its datasets are not valid"
    title_zh = "比对规则、参数或数据集不符合要求"


class HitDecided(Conflict):
    title_en = "The hit has already been confirmed or dismissed"
    title_zh = "该疑点已确认或已排除"


class NotCrosscheckUser(Forbidden):
    title_en = "Only the office, or a leader of the round's groups, may do this"
    title_zh = "仅巡察办或本轮次巡察组组长、副组长可执行此操作"


class DatasetInUse(Conflict):
    title_en = "A cross-check run that has not finished uses this dataset version"
    title_zh = "该数据集版本正被尚未完成的比对运行使用，暂不能删除"


class OfficeOnly(Forbidden):
    title_en = "Only the office (巡察办) may do this"
    title_zh = "仅巡察办可执行此操作"
