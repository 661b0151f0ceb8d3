from services.common.errors import (
    BadRequest,
    Conflict,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)


class InvalidGrant(BadRequest):
    """OAuth2 `invalid_grant` (RFC 6749 §5.2), as problem+json with an `error` member."""

    title_en = "Invalid username, password or refresh token"
    title_zh = "用户名、密码或刷新令牌无效"


class UnsupportedGrantType(BadRequest):
    title_en = "Unsupported grant type"
    title_zh = "不支持的授权类型"


class InvalidAccessToken(Unauthorized):
    title_en = "Missing, invalid or expired access token"
    title_zh = "访问令牌缺失、无效或已过期"


class UsernameTaken(Conflict):
    title_en = "Username already taken"
    title_zh = "用户名已存在"


class AccountLocked(TooManyRequests):
    title_en = "Too many failed logins: the account is locked for a while"
    title_zh = "登录失败次数过多，账号已暂时锁定"


class UserNotFound(NotFound):
    title_en = "No such user"
    title_zh = "用户不存在"


class WeakPassword(ValidationFailed):
    """422 naming `password`: what the password policy asks beyond the schema's length."""

    title_en = "The password does not meet the password policy"
    title_zh = "密码不符合密码策略"


class TooManyLoginFailures(TooManyRequests):
    title_en = "Too many failed logins from your address: wait a while"
    title_zh = "来自您所在地址的登录失败次数过多，请稍后再试"
