"""Presentation filters shared by every screen: ``{% load formatting %}``."""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def percent(value, places: int = 2):
    """A ratio as a percentage: ``Decimal("0.6082")`` or ``"0.6082"`` → ``60.82%``; empty → ``—``."""
    if value in (None, ""):
        return "—"
    try:
        ratio = Decimal(str(value))
    except InvalidOperation:
        return value
    quantum = Decimal(1).scaleb(-int(places))
    return f"{(ratio * 100).quantize(quantum, rounding=ROUND_HALF_UP)}%"
