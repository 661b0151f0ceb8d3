from services.common.errors import Conflict, NotFound


class LinkNotFound(NotFound):
    title_en = "Responsibility link not found"
    title_zh = "责任倒查记录不存在"


class LinkExists(Conflict):
    title_en = "This body is already linked to the finding with this duty"
    title_zh = "该问题已对该单位登记同一责任类型"


class PortraitNotFound(NotFound):
    title_en = "No such inspection target"
    title_zh = "巡察对象不存在"
