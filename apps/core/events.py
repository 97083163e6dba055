"""Writing and reading the business event log (R-SEC-3). Services call ``record_event`` inside their
transaction, so the record exists exactly when the change does. ``action`` is an ``EventAction`` (typed, with a
Chinese label); a name that is not one is a programming error."""
from __future__ import annotations

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.db import models

from apps.core.models import Event, EventAction

__all__ = ["EventAction", "events_for", "record_event", "record_event_on"]


def record_event(*, subject: models.Model, action: EventAction, actor=None, from_status: str = "", to_status: str = "",
                 reason: str = "", data: dict | None = None, now: dt.datetime | None = None) -> Event:
    """``now``: the moment of the change, as the service was given it by its caller (issue 9 §1) — a dispensing
    recorded for 15:00 yesterday is logged at 15:00 yesterday. Without it the event is stamped when it is written."""
    action = EventAction(action)  # ValueError for an untyped name
    return Event.objects.create(
        **({"at": now} if now is not None else {}),
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        object_id=str(subject.pk),
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_status=from_status or "",
        to_status=to_status or "",
        reason=reason or "",
        data=data or {},
    )


def record_event_on(*, model: type[models.Model], object_id: str, action: EventAction, actor=None, reason: str = "",
                    data: dict | None = None, now: dt.datetime | None = None) -> Event:
    """An event about something that is not one row: e.g. a month's reconciliation, keyed by the month."""
    return Event.objects.create(
        **({"at": now} if now is not None else {}),
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=True), object_id=str(object_id),
        action=EventAction(action), actor=actor if getattr(actor, "is_authenticated", False) else None,
        reason=reason or "", data=data or {},
    )


def events_for(subject: models.Model):
    return Event.objects.filter(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True), object_id=str(subject.pk)
    ).select_related("actor")
