"""Presentation filters shared by every screen: ``{% load formatting %}`` (see ``apps/core/formatting.py``).

``{{ amount|money }}`` → ``1,234.50`` · ``{{ fraction|ratio }}`` → ``75%`` · ``{{ n|count }}`` → ``12,345``."""
from django import template
from django.utils.safestring import SafeData, mark_safe

from apps.core import formatting

register = template.Library()


@register.filter
def money(value):
    return formatting.money(value)


@register.filter
def ratio(value, places=None):
    return formatting.ratio(value, None if places in (None, "") else int(places))


@register.filter
def count(value):
    return formatting.count(value)


@register.filter
def percent(value, places: int = 2):
    """A ratio as a percentage rounded to ``places`` decimals, trailing zeros dropped: ``0.6082`` → ``60.82%``,
    ``0.75`` → ``75%``; empty → ``—``. (The same as ``ratio`` with a number of places.)"""
    return formatting.ratio(value, int(places))


@register.filter(is_safe=True)
def plain(value):
    """Labels, help texts, messages and errors as staff read them: without rule ids (``R-APP-6``)."""
    if value in (None, ""):
        return value
    text = formatting.without_rule_ids(value)
    return mark_safe(text) if isinstance(value, SafeData) else text
