"""Requests that no view can sensibly read are refused before any view runs (R-SEC-4).

A resident ID number in the path or the query string is refused the same way (R-SEC-2, PIPL: lookups by ID number
are POSTs). A NUL byte (PostgreSQL text cannot hold one) or an unpaired surrogate in the path or the query string is
answered ``400`` — in the API error format under ``/api/`` — instead of failing deep inside a query."""
import re

from django.http import HttpResponseBadRequest, JsonResponse

BAD_INPUT_BODY = {"code": "invalid", "detail": "请求包含无法处理的字符（如空字符）", "fields": {}}
#: R-SEC-2 (PIPL): an ID number in a URL ends up in access logs, proxies and browser history
ID_NUMBER_IN_URL_BODY = {"code": "id_number_in_url",
                         "detail": "身份证号不能放在网址中（会进入访问日志和浏览器历史），请用 POST 在请求体中提交", "fields": {}}
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{9}[0-9Xx](?![0-9A-Za-z])")
_ID_PARAM_NAMES = {"id_number", "idnumber", "id_no", "idcard", "id_card", "sfzh"}


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
        if any(name.lower() in _ID_PARAM_NAMES for name in request.GET) or any(_ID_NUMBER.search(v) for v in values):
            return bad_input_response(request, ID_NUMBER_IN_URL_BODY)
        return self.get_response(request)


# (bodies need no check here: DRF's and Django's CharFields refuse NUL characters themselves)
