from services.common.errors import Conflict, NotFound, ValidationFailed


class TargetNotFound(NotFound):
    title_en = "Inspection target not found"
    title_zh = "巡察对象不存在"


class TargetAlreadyExists(Conflict):
    title_en = "A target with this name already exists under the same parent"
    title_zh = "同一上级单位下已有同名巡察对象"


class TargetInUse(Conflict):
    title_en = "The target is still referenced (sub-units, assignments or postings)"
    title_zh = "该巡察对象仍被下级单位、巡察任务或任职经历引用，不能删除"


class ParentTargetInvalid(ValidationFailed):
    title_en = "The parent target does not exist or would make a cycle"
    title_zh = "上级单位不存在或形成循环"


class ImportRejected(ValidationFailed):
    title_en = "The file has invalid rows; nothing was imported"
    title_zh = "文件存在错误行，未导入任何数据"
