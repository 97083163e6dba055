"""Issue 16: the one list of list APIs that the pages benchmark times and the query-count tests count
(``benchmarks/bench_pages.py``, ``tests/perf/test_query_counts.py``). The pages of each role's navigation come from
the navigation itself (``apps.core.navigation``); this module adds the list APIs and the pages reached from the
navigation with a parameter.

``api_get_routes()`` lists every ``/api/v1/`` route without a path parameter that answers GET; the perf test checks
that each one is either a list API here or named in ``NOT_LISTS`` with the reason, so a new list API cannot be
left out of the benchmark and the query-count test.
"""
from __future__ import annotations

#: the month both the benchmark and the query-count test load (the settlement benchmark's November)
PERIOD = "2026-11"

#: every list API, with the parameters it needs (each is requested by every role: another role's 403 is skipped)
LIST_APIS = [
    "/api/v1/users/", "/api/v1/regions/", "/api/v1/calendar/",
    "/api/v1/institutions/", "/api/v1/institutions/exit-flags/", "/api/v1/institutions/rechecks-overdue/",
    "/api/v1/physicians/", "/api/v1/physicians/rechecks-overdue/",
    "/api/v1/pharmacies/", "/api/v1/pharmacies/exit-flags/",
    "/api/v1/drugs/", "/api/v1/drugs/imports/runs/", "/api/v1/imports/",
    "/api/v1/policies/",
    "/api/v1/applications/", "/api/v1/other-fund-uses/",
    "/api/v1/prescriptions/", "/api/v1/dispensings/", "/api/v1/stock-movements/", "/api/v1/stock/",
    "/api/v1/manual-claims/", "/api/v1/cross-region-filings/", "/api/v1/reports/beyond-cap/?year=2026",
    "/api/v1/settlements/", f"/api/v1/settlements/?period={PERIOD}", "/api/v1/settlements/runs/",
    f"/api/v1/reports/monthly/?period={PERIOD}", "/api/v1/reports/stocking/", "/api/v1/reports/coverage/",
    "/api/v1/reconciliation/differences/", f"/api/v1/reconciliation/reported-totals/?period={PERIOD}",
    f"/api/v1/reconciliation/ward-deliveries/?period={PERIOD}",
    f"/api/v1/settlements/payment-list/?period={PERIOD}",
    "/api/v1/monthly-reports/", f"/api/v1/monthly-reports/status/?period={PERIOD}",
    "/api/v1/stocking-reports/",
    "/api/v1/procurement/rounds/", "/api/v1/procurement/agreements/", "/api/v1/procurement/repayments/",
    "/api/v1/alerts/",
]

#: GET routes under /api/v1/ without a path parameter that are not lists, and why
NOT_LISTS = {
    "/api/v1/auth/me/": "the signed-in user (the benchmark's floor)",
    "/api/v1/calendar/import/template/": "an empty template workbook",
    "/api/v1/drugs/imports/template/": "an empty template workbook",
    "/api/v1/drugs/export/": "an export of the whole catalogue (a download, not a page)",
    "/api/v1/policies/lookup/": "one policy for given parameters",
}

#: pages reached from the navigation with a parameter (the month's statements and report)
EXTRA_PAGES = [f"/settlement/statements/?period={PERIOD}", f"/settlement/monthly/?period={PERIOD}"]


def api_get_routes() -> list[str]:
    """Every ``/api/v1/…`` route without a path parameter whose view answers GET, as a path."""
    from django.urls import URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    routes = []
    for route, callback in walk(get_resolver().url_patterns):
        route = route.replace("^", "").replace("$", "")
        if not route.startswith("api/v1/") or "<" in route or "(?P" in route:
            continue
        actions = getattr(callback, "actions", None)  # a viewset's {method: action}
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        answers_get = ("get" in actions) if actions is not None else hasattr(view_class, "get")
        if answers_get:
            routes.append("/" + route)
    return routes


def uncovered_api_routes() -> list[str]:
    """GET routes that are neither a list API here nor named in ``NOT_LISTS``."""
    listed = {url.split("?", 1)[0] for url in LIST_APIS}
    return [route for route in api_get_routes() if route not in listed and route not in NOT_LISTS]


def page_urls(user) -> list[str]:
    """What is timed and counted for ``user``: the home page, every page of its navigation (the Django admin
    aside), the pages reached with a parameter, then every list API."""
    from django.test import RequestFactory

    from apps.core.navigation import navigation

    request = RequestFactory().get("/")
    request.user = user
    urls = ["/"] + [item["url"] for item in navigation(request)["nav_items"] if not item["url"].startswith("/admin/")]
    return list(dict.fromkeys(urls + EXTRA_PAGES + LIST_APIS))
