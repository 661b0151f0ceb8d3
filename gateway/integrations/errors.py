"""Errors of the callbacks in; class name = stable code."""

from services.common.errors import Conflict, NotFound, ServiceUnavailable, Unauthorized


class CallbacksNotConfigured(ServiceUnavailable):
    title_en = "Platform callbacks are not configured here (no callback secret)"
    title_zh = "未配置平台回调密钥，暂不接收回调"


class InvalidSignature(Unauthorized):
    title_en = "Missing, malformed or invalid webhook signature"
    title_zh = "回调签名缺失、格式错误或校验失败"


class StaleTimestamp(Unauthorized):
    title_en = "The webhook timestamp is more than five minutes away from now"
    title_zh = "回调时间戳与当前时间相差超过五分钟"


class CallbackReplayed(Conflict):
    title_en = "This webhook id was already accepted: a replay changes nothing"
    title_zh = "该回调（webhook-id）已受理，重放不予处理"


class LeadNotFound(NotFound):
    """The referrals service's code for the same thing, so the platform sees one."""

    title_en = "Lead not found"
    title_zh = "问题线索不存在"
