"""Chinese labels for stored codes on pages (issue 15): event names and states, never ``flowed`` or
``prescription_uploaded`` in a Chinese page. ``{% load labels %}``:

- ``{{ e.action|action_label }}`` → the ``EventAction`` label (``处方上传``);
- ``{{ e.to_status|status_label:e }}`` → the label of that state of the event's subject (``已流转``); without the
  event, the label any model gives that state value.

Labels come from the models' own ``choices``, so a new state has its label the day it is added."""
from __future__ import annotations

from functools import lru_cache

from django import template
from django.apps import apps

from apps.core.models import EventAction

register = template.Library()


def _state_fields(model):
    return [f for f in model._meta.get_fields()
            if getattr(f, "choices", None) and getattr(f, "name", "") in {"status", "state", "kind", "decision"}]


@lru_cache(maxsize=1)
def _all_state_labels() -> dict:
    labels: dict = {}
    for model in apps.get_models():
        for field in _state_fields(model):
            for value, label in field.flatchoices:
                labels.setdefault(str(value), label)
    return labels


@register.filter
def action_label(code):
    if not code:
        return "—"
    try:
        return EventAction(code).label
    except ValueError:
        return _all_state_labels().get(str(code), code)


@register.filter
def status_label(code, event=None):
    if code in (None, ""):
        return "—"
    model = None
    content_type = getattr(event, "content_type", None)
    if content_type is not None:
        model = content_type.model_class()
    if model is not None:
        for field in _state_fields(model):
            label = dict(field.flatchoices).get(code)
            if label is not None:
                return label
    return _all_state_labels().get(str(code), code)
