"""Celery tasks of applications. The periodic schedule lives in config/beat_schedule.py."""
from celery import shared_task
from django.utils import timezone

from apps.applications import services


@shared_task(name="apps.applications.tasks.expire_applications")
def expire_applications() -> int:
    """R-APP-6: approved applications past ``valid_until`` become expired. Idempotent (a second run finds none)."""
    return services.application_expire_due(today=timezone.localdate())
