"""Requests that no view can sensibly read are refused before any view runs (issue 14 §15, R-SEC-4).

A NUL byte (PostgreSQL text cannot hold one) or an unpaired surrogate in the path or the query string is answered ``400`` — in the API error format under ``/api/`` — instead of failing deep inside a query."""
from django.http import HttpResponseBadRequest, JsonResponse

BAD_INPUT_BODY = {"code": "invalid", "detail": "请求包含无法处理的字符（如空字符）", "fields": {}}


def _bad(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return True
    return False


def is_api_request(request) -> bool:
    return request.path_info.startswith("/api/")


def bad_input_response(request, body: dict | None = None):
    body = body or BAD_INPUT_BODY
    if is_api_request(request):
        return JsonResponse(body, status=400, json_dumps_params={"ensure_ascii": False})
    return HttpResponseBadRequest(body["detail"], content_type="text/plain; charset=utf-8")


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        values = [request.path_info]
        for key, items in request.GET.lists():
            values.append(key)
            values.extend(items)
        if any(_bad(v) for v in values):
            return bad_input_response(request)
        return self.get_response(request)


# (bodies need no check here: DRF's and Django's CharFields refuse NUL characters themselves)
