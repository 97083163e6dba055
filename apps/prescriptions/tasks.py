"""Celery tasks of prescriptions. The schedule is in config/beat_schedule.py (R-RX-4)."""
from celery import shared_task
from django.utils import timezone

from apps.prescriptions.services import upload as rx_upload


@shared_task(name="apps.prescriptions.tasks.expire_prescriptions")
def expire_prescriptions() -> int:
    """R-RX-4: flowed prescriptions past their validity become expired. Idempotent: a second run finds none."""
    total = 0
    while True:
        count = rx_upload.prescriptions_expire_due(now=timezone.now())
        total += count
        if count == 0:
            return total
