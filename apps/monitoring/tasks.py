"""Celery tasks of the monitoring (section 9): the monthly batch over last month (beat, config/beat_schedule.py)
and a run started by the bureau (progress in ``MonitoringRun``)."""
from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from apps.monitoring import services
from apps.monitoring.rules.base import month_bounds


@shared_task(name="apps.monitoring.tasks.run_previous_month")
def run_previous_month() -> int:
    """R-MON-1..9 over the previous month, every region (the edge reads the clock)."""
    now = timezone.now()
    this_month, _ = month_bounds(timezone.localdate(now))
    previous, _ = month_bounds(this_month - dt.timedelta(days=1))
    return services.monitoring_run_now(period=previous, now=now).pk


@shared_task(name="apps.monitoring.tasks.execute_run")
def execute_run(run_id: int) -> int:
    return services.monitoring_run_execute(run_id=run_id, now=timezone.now()).pk
