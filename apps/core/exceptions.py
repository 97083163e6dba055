"""The one error type of the system and its translation into the API.md error body.

Services raise ``ApplicationError(code, message, fields=…, status=…)``. The DRF exception handler turns it (and
DRF's own exceptions) into ``{"code", "detail", "fields"}``; browser views turn it into a form error or a flash
message (``apps.core.forms.apply_error_to_form``).
"""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions, status as http
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler, set_rollback

from apps.core.formatting import without_rule_ids

logger = logging.getLogger("apps.api")


class ApplicationError(Exception):
    """A refused business action. ``code`` is a machine code from API.md; ``message`` is for a person."""

    default_status = http.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, *, fields: dict | None = None, status: int | None = None,
                 data: dict | None = None):
        # the message is for a person: rule ids (R-APP-6) stay in the code and the tests (issue 15 item 7)
        message = without_rule_ids(message)
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = {key: [without_rule_ids(m) if isinstance(m, str) else m for m in value]
                       if isinstance(value, (list, tuple)) else value for key, value in (fields or {}).items()}
        self.status = status or self.default_status
        self.data = data or {}

    def __str__(self):
        return self.message

    def as_body(self) -> dict:
        body = {"code": self.code, "detail": self.message, "fields": self.fields}
        body.update(self.data)
        return body


class NotFoundError(ApplicationError):
    default_status = http.HTTP_404_NOT_FOUND

    def __init__(self, message: str = "未找到", **kwargs):
        super().__init__("not_found", message, **kwargs)


def _flatten(detail, prefix="") -> dict[str, list[str]]:
    """DRF's nested error detail → {"a.b.0.c": ["message", …]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                path = "non_field_errors"
            out.update(_flatten(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for i, value in enumerate(detail):
                if value:
                    out.update(_flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


_DRF_CODES = {
    drf_exceptions.NotAuthenticated: ("not_authenticated", "未登录或令牌无效"),
    drf_exceptions.AuthenticationFailed: ("not_authenticated", "未登录或令牌无效"),
    drf_exceptions.PermissionDenied: ("permission_denied", "当前角色无权执行此操作"),
    drf_exceptions.NotFound: ("not_found", "未找到"),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", "不支持的请求方法"),
    drf_exceptions.NotAcceptable: ("not_acceptable", "不支持的响应格式"),
    drf_exceptions.UnsupportedMediaType: ("unsupported_media_type", "不支持的请求格式"),
    drf_exceptions.Throttled: ("throttled", "请求过于频繁，请稍后再试"),
    drf_exceptions.ParseError: ("invalid", "请求内容无法解析"),
}


def api_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every 4xx leaves as {"code", "detail", "fields"} (API.md Conventions), and so does a
    5xx (R-SEC-4): an unexpected exception is logged with its traceback and answered 500 ``server_error``.
    A value the database cannot hold (a number or date out of range: ``DataError``, ``OverflowError``) is the
    client's input, answered 400 ``invalid``."""
    if isinstance(exc, ApplicationError):
        return Response(exc.as_body(), status=exc.status)
    if isinstance(exc, DataError | OverflowError):
        set_rollback()
        return Response({"code": "invalid", "detail": "输入值超出允许的范围", "fields": {}}, status=400)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"code": "invalid", "detail": "输入有误", "fields": fields}, status=400)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_default_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.error("unhandled API error in %s", type(view).__name__ if view else "?", exc_info=exc)
        set_rollback()
        return Response({"code": "server_error", "detail": "服务器内部错误，请稍后重试或联系管理员", "fields": {}},
                        status=500)
    if isinstance(exc, drf_exceptions.ValidationError):
        response.data = {"code": "invalid", "detail": "输入有误，请检查标出的字段", "fields": _flatten(exc.detail)}
        return response
    code, message = "error", str(getattr(exc, "detail", exc))
    for klass, (mapped_code, mapped_message) in _DRF_CODES.items():
        if isinstance(exc, klass):
            code, message = mapped_code, mapped_message
            break
    if isinstance(exc, drf_exceptions.AuthenticationFailed | drf_exceptions.NotAuthenticated):
        response.status_code = 401
    response.data = {"code": code, "detail": message, "fields": {}}
    return response
