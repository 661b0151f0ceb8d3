from services.common.errors import NotFound


class LeadNotFound(NotFound):
    title_en = "Lead not found"
    title_zh = "问题线索不存在"
