"""A small crawler of the browser pages a role reaches (issue 15): every same-site link from the home page, as
that user, and the visible text of each page (no scripts, styles or attribute values)."""
from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from django.apps import apps

SKIP = re.compile(r"^/(accounts/logout|admin/|api/|media/|static/|i18n/|favicon)|format=|/export|/template|"
                  r"/download|/file/|/documents/\d+/|/print/|/reveal/")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "textarea"):
            self._skip += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "textarea") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts), parser.links


def crawl(client, start: str = "/", limit: int = 150) -> dict[str, str]:
    """{path: visible text} of the HTML pages reachable from ``start`` (200 answers only)."""
    seen, pages, queue = {start}, {}, deque([start])
    while queue and len(pages) < limit:
        path = queue.popleft()
        response = client.get(path, follow=True)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        if response.redirect_chain:
            path = response.redirect_chain[-1][0]
            if path in pages:
                continue
        text, links = visible(response.content.decode())
        pages[path] = text
        for href in links:
            target, _ = urldefrag(urljoin(path, href))
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target in seen or SKIP.search(target) or "page=" in parts.query:
                continue
            seen.add(target)
            queue.append(target)
    return pages


UNGROUPED_MONEY = re.compile(r"(?<![\d,.\-:/A-Za-z])\d{4,}\.\d{2}(?![\d%])")
FLOAT_ARTEFACT = re.compile(r"\d\.\d{5,}")
RULE_ID = re.compile(r"\bR-[A-Z]{2,5}-\d+")
SNAKE_CODE = re.compile(r"(?<![A-Za-z0-9_.@/-])[a-z]+(?:_[a-z]+)+(?![A-Za-z0-9_.@/-])")


def state_codes() -> set[str]:
    """Every stored state value of the models (``flowed``, ``expired``…) that is a plain English word."""
    codes = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if getattr(field, "name", "") in ("status", "state") and getattr(field, "choices", None):
                codes.update(str(v) for v, _ in field.flatchoices if re.fullmatch(r"[a-z_]+", str(v)))
    return codes


def findings(pages: dict[str, str]) -> dict[str, list[str]]:
    """{problem: ["path: snippet", …]} for unformatted money, float artefacts, rule ids and raw codes."""
    codes = state_codes()
    raw_word = re.compile(r"(?<![A-Za-z_])(" + "|".join(sorted(codes, key=len, reverse=True)) + r")(?![A-Za-z_])")
    out: dict[str, list[str]] = {"money": [], "float": [], "rule_id": [], "raw_code": []}
    for path, text in pages.items():
        for line in text.splitlines():
            for name, pattern in (("money", UNGROUPED_MONEY), ("float", FLOAT_ARTEFACT), ("rule_id", RULE_ID),
                                  ("raw_code", SNAKE_CODE), ("raw_code", raw_word)):
                match = pattern.search(line)
                if match:
                    out[name].append((line[:120], path))
    # one entry per offending text, with the first page it was seen on
    return {k: sorted({line: f"{path}: {line}" for line, path in reversed(v)}.values()) for k, v in out.items() if v}
