"""Writing and reading the business event log (R-SEC-3). Services call ``record_event`` inside their
transaction, so the record exists exactly when the change does."""
from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models

from apps.core.models import Event


def record_event(*, subject: models.Model, action: str, actor=None, from_status: str = "", to_status: str = "",
                 reason: str = "", data: dict | None = None) -> Event:
    return Event.objects.create(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        object_id=str(subject.pk),
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_status=from_status or "",
        to_status=to_status or "",
        reason=reason or "",
        data=data or {},
    )


def events_for(subject: models.Model):
    return Event.objects.filter(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True), object_id=str(subject.pk)
    ).select_related("actor")
