"""Celery tasks of procurement. The periodic one is declared in ``config/beat_schedule.py``."""
from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.procurement import selectors, services


@shared_task(name="apps.procurement.tasks.recompute_previous_month")
def recompute_previous_month() -> dict:
    """R-VBP-3/R-VBP-5: last month's completion and pace snapshot of every agreement (behind-pace and low-use
    flags), and the institutions late twice this year. Idempotent: a rerun replaces the month's snapshot."""
    today = timezone.localdate()
    period = selectors.previous_month(today)
    count = services.completion_recompute(period=period)
    offenders = selectors.repeat_offenders_in(selectors.all_purchases(), year=period.year, today=today)
    return {"period": period.isoformat(), "agreements": count, "repeat_overdue": [o["code"] for o in offenders]}
