"""Django's error handlers (``handler404``/``handler500`` in ``config/urls.py``): under ``/api/`` every error leaves
in the API.md error format — a 5xx too (R-SEC-4); the browser pages keep Django's own templates."""
from django.http import JsonResponse
from django.views import defaults

from apps.core.request_guard import is_api_request

SERVER_ERROR_BODY = {"code": "server_error", "detail": "服务器内部错误，请稍后重试或联系管理员", "fields": {}}
NOT_FOUND_BODY = {"code": "not_found", "detail": "未找到", "fields": {}}


def _json(body: dict, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def page_not_found(request, exception=None):
    if is_api_request(request):
        return _json(NOT_FOUND_BODY, 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_request(request):
        return _json(SERVER_ERROR_BODY, 500)
    return defaults.server_error(request)


def bad_request(request, exception=None):
    if is_api_request(request):
        return _json({"code": "invalid", "detail": "请求无法处理", "fields": {}}, 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api_request(request):
        return _json({"code": "permission_denied", "detail": "当前角色无权执行此操作", "fields": {}}, 403)
    return defaults.permission_denied(request, exception)
