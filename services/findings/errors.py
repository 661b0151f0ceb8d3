from services.common.errors import NotFound


class FindingNotFound(NotFound):
    title_en = "Finding not found"
    title_zh = "问题不存在"
