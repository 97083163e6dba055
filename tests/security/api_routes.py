"""Every API route of the URL configuration, as concrete paths (used by the generated security tests)."""
from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver

_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def _walk(patterns, prefix=""):
    for p in patterns:
        route = str(p.pattern)
        if route.startswith("^"):
            route = route[1:]
        if route.endswith("$"):
            route = route[:-1]
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + route)
        elif isinstance(p, URLPattern):
            yield prefix + route, p


def api_routes() -> list[tuple[str, object]]:
    """(route template, pattern) for every URL under api/v1/, regex anchors stripped, format suffixes skipped."""
    out = []
    for route, pattern in _walk(get_resolver().url_patterns):
        route = route.replace("\\.", ".")
        if not route.startswith("api/v1/") or "format" in route:
            continue
        out.append((route, pattern))
    return sorted(set(out), key=lambda r: r[0])


def fill(route: str, value: str) -> str:
    """The route with every parameter replaced by ``value`` (int converters get an ASCII number)."""
    def repl(m):
        if m.group("conv") == "int":
            return "999999" if not value.isascii() or not value.isdigit() else value
        return value
    return "/" + _PARAM.sub(repl, route)


def has_params(route: str) -> bool:
    return bool(_PARAM.search(route))
