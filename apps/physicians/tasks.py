"""Celery tasks of the physician registry (scheduled in config/beat_schedule.py by the lead)."""
from celery import shared_task
from django.utils import timezone

from apps.physicians.services import physicians_expire_due


@shared_task(name="physicians.expire_due")
def expire_due_filings() -> int:
    """R-DOC-3: filings past their validity become expired. Idempotent: a second run finds nothing."""
    return physicians_expire_due(today=timezone.localdate())
