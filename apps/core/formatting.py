"""One presentation of figures for every screen, message, export label and the admin (issue 15):

- money: ``1234.5`` → ``1,234.50`` (Decimal, half-up to the fen, groups of three);
- ratios: ``Decimal("0.75")`` → ``75%``, ``0.125`` → ``12.5%`` (no float artefacts, no trailing zeros);
- counts: ``12345`` → ``12,345``.

Templates use the filters of ``apps/core/templatetags/formatting.py`` (``money``, ``ratio``, ``count``); Python
code (flash messages, confirmations, admin columns) calls these functions. Empty values read ``—``."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

EMPTY = "—"
FEN = Decimal("0.01")


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def money(value) -> str:
    """``Decimal("1234.5")`` → ``1,234.50``; ``None`` → ``—``; a value that is not a number is returned as is."""
    number = _decimal(value)
    if number is None:
        return EMPTY if value in (None, "") else str(value)
    return f"{number.quantize(FEN, rounding=ROUND_HALF_UP):,.2f}"


def ratio(value, places: int | None = None) -> str:
    """A fraction as a percentage: ``0.75`` → ``75%``, ``0.6082`` → ``60.82%``; with ``places`` the percentage
    is rounded half-up to that many decimals and trailing zeros are dropped (``0.60825``, 1 → ``60.8%``)."""
    number = _decimal(value)
    if number is None:
        return EMPTY if value in (None, "") else str(value)
    percent = number * 100
    if places is not None:
        percent = percent.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
    text = f"{percent:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def count(value) -> str:
    """``12345`` → ``12,345``; ``None`` → ``—``."""
    number = _decimal(value)
    if number is None:
        return EMPTY if value in (None, "") else str(value)
    return f"{number.to_integral_value(rounding=ROUND_HALF_UP):,f}"


RULE_ID = r"R-[A-Z]{2,5}-\d+(?:/\d+)?[a-z]?"
_IDS = rf"{RULE_ID}(?:\s*(?:[、,，/及和]|\s)\s*{RULE_ID})*"
_RULE_ID_EDITS = [
    (re.compile(rf"[（(]\s*(?:见|依据|see )?\s*{_IDS}\s*[）)]"), ""),          # （R-RX-6）
    (re.compile(rf"([（(])\s*{_IDS}\s*[：:；;，,]\s*"), r"\1"),               # （R-APP-6：最长至…）
    (re.compile(rf"\s*[，,；;、]\s*{_IDS}\s*(?=[）)])"), ""),                 # （…，R-CAT-6）
    (re.compile(rf"^(\s*){_IDS}\s*[：:]\s*"), r"\1"),                         # R-APP-5：按工作日计算
    (re.compile(rf"^(\s*){_IDS}\s+"), r"\1"),                                 # R-STK-2 配备率…
    (re.compile(rf"\s*[，,；;]\s*{_IDS}\s*$"), ""),                           # …，R-CAT-3
    (re.compile(rf"\s?{_IDS}\s*[：:]\s*"), ""),                               # …；R-STK-2：…
    (re.compile(rf"\s?{_IDS}"), ""),                                           # anything left
]


def without_rule_ids(text: str) -> str:
    """The text a person reads: rule ids (``R-APP-6``) are for code, logs and tests, not for the staff's pages;
    the words around them stay. ``"只能冲正一次（R-RX-6）"`` → ``"只能冲正一次"``, ``"有效期止应在 a 至 b 之间
    （R-APP-6：最长至申请次年12月31日）"`` → ``"…之间（最长至申请次年12月31日）"``."""
    if not text:
        return text
    text, previous = str(text), None
    while previous != text:
        previous = text
        for pattern, replacement in _RULE_ID_EDITS:
            text = pattern.sub(replacement, text)
    return text
