from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def percent(value) -> str:
    """A fraction as a percentage without trailing zeros: 0.1250 → "12.5%"."""
    if value in (None, ""):
        return ""
    number = (Decimal(value) * 100).normalize()
    return f"{number:f}%"
