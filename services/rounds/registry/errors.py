from services.common.errors import Conflict, NotFound, ValidationFailed


class TargetNotFound(NotFound):
    title_en = "Inspection target not found"
    title_zh = "巡察对象不存在"


class TargetAlreadyExists(Conflict):
    title_en = "A target with this name already exists under the same parent"
    title_zh = "同一上级单位下已有同名巡察对象"


class ParentTargetInvalid(ValidationFailed):
    title_en = "The parent target does not exist"
    title_zh = "上级单位不存在"
