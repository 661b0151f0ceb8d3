"""RFC 9457 problem details: one envelope for every error of every app.

A domain error is a subclass of `Problem`; its class name is its stable code and its `type`
URI is `/problems/<code>`. Titles come in Chinese and English, chosen by Accept-Language.
Nothing here ever puts a stack trace or an exception message from a library into a response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.common.requestid import current_request_id

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("problems")


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


class Problem(Exception):
    """Base of every error a client may see."""

    status: ClassVar[int] = 500
    title_en: ClassVar[str] = "Internal error"
    title_zh: ClassVar[str] = "服务器内部错误"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title_en)
        self.detail = detail
        self.extensions = extensions

    @classmethod
    def code(cls) -> str:
        return _kebab(cls.__name__)

    @classmethod
    def type_uri(cls) -> str:
        return f"/problems/{cls.code()}"


class BadRequest(Problem):
    status = 400
    title_en = "Bad request"
    title_zh = "请求错误"


class Unauthorized(Problem):
    status = 401
    title_en = "Authentication required"
    title_zh = "需要身份认证"


class Forbidden(Problem):
    status = 403
    title_en = "Not allowed"
    title_zh = "无权执行此操作"


class NotFound(Problem):
    status = 404
    title_en = "Not found"
    title_zh = "资源不存在"


class MethodNotAllowed(Problem):
    status = 405
    title_en = "Method not allowed"
    title_zh = "不支持该请求方法"


class Conflict(Problem):
    status = 409
    title_en = "Conflict with the current state"
    title_zh = "与当前状态冲突"


class LengthRequired(Problem):
    status = 411
    title_en = "Content-Length is required for this upload"
    title_zh = "上传文件须提供 Content-Length"


class PreconditionFailed(Problem):
    status = 412
    title_en = "The resource has changed since you read it"
    title_zh = "资源已被修改，请重新读取"


class PreconditionRequired(Problem):
    status = 428
    title_en = "If-Match is required: send the ETag you read"
    title_zh = "缺少 If-Match：请携带读取时获得的 ETag"


class PayloadTooLarge(Problem):
    status = 413
    title_en = "Request body too large"
    title_zh = "请求体过大"


class UnsupportedMediaType(Problem):
    status = 415
    title_en = "Unsupported media type"
    title_zh = "不支持的内容类型"


class ValidationFailed(Problem):
    status = 422
    title_en = "The request has invalid fields"
    title_zh = "请求字段校验失败"


class TooManyRequests(Problem):
    status = 429
    title_en = "Too many requests"
    title_zh = "请求过于频繁"


class BadGateway(Problem):
    status = 502
    title_en = "Upstream service failed"
    title_zh = "后端服务异常"


class ServiceUnavailable(Problem):
    status = 503
    title_en = "Service unavailable"
    title_zh = "服务暂不可用"


class GatewayTimeout(Problem):
    status = 504
    title_en = "Upstream service timed out"
    title_zh = "后端服务响应超时"


class InternalError(Problem):
    pass


_BY_STATUS: dict[int, type[Problem]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        PreconditionRequired,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        TooManyRequests,
        BadGateway,
        ServiceUnavailable,
        GatewayTimeout,
        InternalError,
    )
}


class FieldError(BaseModel):
    field: str
    message: str
    code: str


class ProblemBody(BaseModel):
    """The problem+json document (RFC 9457) as it appears in OpenAPI."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


def prefers_chinese(accept_language: str | None) -> bool:
    """Chinese unless the client asks for English first (the office's users read Chinese)."""
    if not accept_language:
        return True
    first = accept_language.split(",")[0].strip().lower()
    return not first.startswith("en")


def problem_response(
    problem: type[Problem] | Problem,
    *,
    accept_language: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    cls = problem if isinstance(problem, type) else type(problem)
    body: dict[str, Any] = {
        "type": cls.type_uri(),
        "title": cls.title_zh if prefers_chinese(accept_language) else cls.title_en,
        "status": cls.status,
    }
    if isinstance(problem, Problem):
        if problem.detail:
            body["detail"] = problem.detail
        body.update(problem.extensions)
    if instance:
        body["instance"] = instance
    rid = current_request_id()
    if rid:
        body["request_id"] = rid
    return Response(
        orjson.dumps(body), status_code=cls.status, media_type=PROBLEM_JSON, headers=headers
    )


P = TypeVar("P", bound=Problem)


def field_error(cls: type[P], field: str, message: str, code: str) -> P:
    """A problem naming the offending field, as the request validation does."""
    return cls(f"{field}: {message}", errors=[{"field": field, "message": message, "code": code}])


def field_errors(raw: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic/FastAPI validation errors as {field, message, code}. A body field is named by its
    dotted path ("finding_ids.0"); query, path and header parameters keep their location as a
    prefix ("query.limit"); an unparsable body is "body"."""
    out = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ())]
        code = err.get("type", "invalid")
        message = err.get("msg", "invalid")
        if code == "json_invalid":
            position = loc[1] if len(loc) > 1 else "?"
            out.append(
                {"field": "body", "message": f"invalid JSON at byte {position}", "code": code}
            )
            continue
        where, rest = (loc[0], loc[1:]) if loc else ("body", [])
        field = ".".join(rest) or "body" if where == "body" else ".".join([where, *rest])
        out.append({"field": field, "message": message, "code": code})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(
            exc, accept_language=request.headers.get("accept-language"), instance=request.url.path
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc.errors())
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(
            ValidationFailed(detail, errors=errors),
            accept_language=request.headers.get("accept-language"),
            instance=request.url.path,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        cls = _BY_STATUS.get(
            exc.status_code, BadRequest if exc.status_code < 500 else InternalError
        )
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # the router names the methods of the one route it tried; HTTP wants the path's all
            from services.common.routing import allowed_methods  # routing builds on this module

            allowed = allowed_methods(request.app, request.url.path)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return problem_response(
            cls(detail),
            accept_language=request.headers.get("accept-language"),
            instance=request.url.path,
            headers=headers,
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            InternalError(), accept_language=request.headers.get("accept-language")
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        """A value PostgreSQL cannot take (SQLSTATE class 22: out of range, bad encoding, ...)
        came from the client: 422, never a 500. Anything else is ours."""
        sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
        if sqlstate.startswith("22"):
            return problem_response(
                ValidationFailed(
                    "a value is out of the range the database accepts",
                    errors=[{"field": "body", "message": "value out of range", "code": sqlstate}],
                ),
                accept_language=request.headers.get("accept-language"),
                instance=request.url.path,
            )
        return await on_unexpected(request, exc)

    async def on_stale(request: Request, exc: Exception) -> Response:
        return problem_response(
            PreconditionFailed("the resource was changed by someone else meanwhile"),
            accept_language=request.headers.get("accept-language"),
            instance=request.url.path,
        )

    app.add_exception_handler(StaleDataError, on_stale)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def problem_responses(*classes: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting the problem+json errors an operation may return;
    problems sharing a status are listed together in its description."""
    out: dict[int | str, dict[str, Any]] = {}
    for cls in classes:
        line = f"{cls.title_en} ({cls.title_zh}); type {cls.type_uri()}"
        if cls.status in out:
            out[cls.status]["description"] += f"; {line}"
            continue
        out[cls.status] = {
            "model": ProblemBody,
            "description": line,
            "content": {PROBLEM_JSON: {}},
        }
    return out


def document_problems(app: FastAPI) -> None:
    """Makes the OpenAPI say what the API does on errors: every 4xx/5xx (and `default`, for
    the ones an operation does not list) is application/problem+json with the ProblemBody
    schema, FastAPI's own 422 shape (HTTPValidationError) included."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                for code, response in responses.items():
                    if code == "default" or code.startswith(("4", "5")):
                        response["content"] = problem
                        if code == "422" and response.get("description") == "Validation Error":
                            response["description"] = (
                                f"{ValidationFailed.title_en} ({ValidationFailed.title_zh})"
                            )
                responses.setdefault(
                    "default",
                    {
                        "description": "Any other error, as RFC 9457 problem details",
                        "content": problem,
                    },
                )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "ProblemBody",
            ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}"),
        )
        for key, value in (
            ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
            .get("$defs", {})
            .items()
        ):
            components.setdefault(key, value)
        components.get("ProblemBody", {}).pop("$defs", None)
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
