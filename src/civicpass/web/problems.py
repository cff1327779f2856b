"""RFC 9457 problem details: the one place where errors become HTTP responses.

Body: ``{"type", "title", "status", "detail", "reason", "messages": {"zh-CN", "en"}, "errors": [...]}``.
``title`` and ``detail`` follow the request's ``Accept-Language`` (zh-CN or en); ``messages`` carries both.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from civicpass.domain import errors as e

log = logging.getLogger("civicpass.web")

MEDIA_TYPE = "application/problem+json"

STATUS: list[tuple[type[e.CivicpassError], int]] = [
    (e.InvalidInput, 422),
    (e.NotAuthenticated, 401),
    (e.PermissionDenied, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.Gone, 410),
    (e.TooManyRequests, 429),
    (e.Unavailable, 503),
    (e.CivicpassError, 400),
]

_MALFORMED = e.Message("the body is not valid JSON", "请求内容不是有效的JSON")

_HTTP_REASONS: dict[int, e.Message] = {
    400: e.Message("bad request", "请求无效"),
    401: e.Message("sign in first", "请先登录"),
    403: e.Message("forbidden", "禁止访问"),
    404: e.Message("no such resource", "资源不存在"),
    405: e.Message("method not allowed on this resource", "该资源不支持此方法"),
    406: e.Message("not acceptable", "无法提供请求的格式"),
    413: e.Message("the request body is too large", "请求内容过大"),
    415: e.Message(
        "send JSON (Content-Type: application/json)", "请以JSON格式提交（Content-Type: application/json）"
    ),
    429: e.Message("too many requests", "请求过于频繁"),
}


def status_of(error: e.CivicpassError) -> int:
    return next(code for cls, code in STATUS if isinstance(error, cls))


def language(request: Request) -> str:
    return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"


def problem(
    request: Request,
    status: int,
    reason: str,
    message: e.Message,
    *,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:civicpass:problem:{reason}",
        "title": reason.replace("_", " "),
        "status": status,
        "detail": message.in_language(language(request)),
        "reason": reason,
        "messages": message.as_dict(),
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _civicpass_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, e.CivicpassError):  # registered for this class only
        raise exc
    headers = {}
    if isinstance(exc, e.TooManyRequests | e.Unavailable) and "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    if isinstance(exc, e.NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return problem(
        request,
        status_of(exc),
        exc.reason,
        exc.message,
        errors=[fe.as_dict() for fe in exc.errors],
        extra=exc.extra,
        headers=headers,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        out.append(
            {
                "path": "/" + "/".join(loc),
                "reason": f"field_{err.get('type', 'invalid')}",
                "message": err.get("msg", ""),
            }
        )
    return out


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for this class only
        raise exc
    content_type = request.headers.get("content-type", "")
    if request.method in ("POST", "PUT", "PATCH") and "json" not in content_type:
        return problem(request, 415, "unsupported_media_type", _HTTP_REASONS[415])
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return problem(request, 400, "malformed_json", _MALFORMED)
    return problem(
        request,
        422,
        "request_invalid",
        e.Message("some fields are missing, unknown or of the wrong type", "部分字段缺失、多余或类型错误"),
        errors=_field_errors(exc),
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # registered for this class only
        raise exc
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # FastAPI: body not decodable
        return problem(request, 400, "malformed_json", _MALFORMED)
    message = _HTTP_REASONS.get(exc.status_code, e.Message(str(exc.detail), str(exc.detail)))
    reason = {
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
    }.get(exc.status_code, f"http_{exc.status_code}")
    return problem(request, exc.status_code, reason, message, headers=dict(exc.headers or {}))


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        request, 500, "internal_error", e.Message("something went wrong on our side", "服务器内部错误")
    )


async def respond(request: Request, exc: Exception) -> JSONResponse:
    """The problem response for ``exc``, as the handlers installed on the app give it (for the fast lane).

    Anything that is not one of ours, a validation error or an HTTP error is re-raised, so that it reaches
    the server-error handler (a logged 500 problem) exactly as from a route.
    """
    if isinstance(exc, e.CivicpassError):
        return await _civicpass_error(request, exc)
    if isinstance(exc, RequestValidationError):
        return await _request_invalid(request, exc)
    if isinstance(exc, StarletteHTTPException):
        return await _http_error(request, exc)
    raise exc


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.CivicpassError, _civicpass_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, unexpected)
