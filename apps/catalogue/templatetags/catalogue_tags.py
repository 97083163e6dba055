from django import template

from apps.core import formatting

register = template.Library()


@register.filter
def percent(value) -> str:
    """A fraction as a percentage without trailing zeros: 0.1250 → "12.5%" (the shared ratio format)."""
    return formatting.ratio(value)
