"""Celery tasks of the monitoring (section 9): the monthly batch over last month (beat, config/beat_schedule.py)
and a run started by the bureau (progress in ``MonitoringRun``), on the ``monitoring`` queue.

With ``MONITORING_GROUPS`` > 0 (PostgreSQL; issue 16 "Beyond one machine") a run is split: ``execute_run`` reads
the month once into the run's month table and deals the pooling cities into that many groups, one
``monitor_group`` task each on any worker of the queue (a chord); ``finish_run`` closes the run once every group
is written, ``fail_run`` if one raised. Every finding belongs to exactly one group, so the alerts are those of a
one-process run."""
from __future__ import annotations

import datetime as dt

from celery import chord, group, shared_task
from django.conf import settings
from django.utils import timezone

from apps.core.sql import is_postgresql
from apps.monitoring import services
from apps.monitoring.rules.base import month_bounds


def _groups() -> int:
    return getattr(settings, "MONITORING_GROUPS", 0) if is_postgresql() else 0


@shared_task(name="apps.monitoring.tasks.run_previous_month")
def run_previous_month() -> int:
    """R-MON-1..9 over the previous month, every region (the edge reads the clock). Split over the monitoring
    workers when ``MONITORING_GROUPS`` > 0."""
    now = timezone.now()
    this_month, _ = month_bounds(timezone.localdate(now))
    previous, _ = month_bounds(this_month - dt.timedelta(days=1))
    if _groups() > 0:
        run = services.monitoring_run_create(period=previous, region=None, actor=None, now=now)
        execute_run.delay(run.pk)
        return run.pk
    return services.monitoring_run_now(period=previous, now=now).pk


@shared_task(name="apps.monitoring.tasks.execute_run", acks_late=True)
def execute_run(run_id: int) -> str:
    groups = _groups()
    if groups <= 0:
        return services.monitoring_run_execute(run_id=run_id, now=timezone.now()).status
    plan = services.monitoring_run_split(run_id=run_id, now=timezone.now(), groups=groups)
    if plan is None:
        return "nothing to do"
    header = group(monitor_group.si(run_id, cities, unsplit) for cities, unsplit in plan)
    chord(header)(finish_run.s(run_id).on_error(fail_run.si(run_id)))
    return f"split into {len(plan)} groups"


@shared_task(name="apps.monitoring.tasks.monitor_group", acks_late=True, bind=True)
def monitor_group(self, run_id: int, cities: list[str], unsplit: bool) -> dict | None:
    """One group of a split run (idempotent: a redelivered group raises nothing twice and rewrites nothing)."""
    result = services.monitoring_run_group(run_id=run_id, cities=cities, unsplit=unsplit, now=timezone.now())
    if result is not None:
        result["worker"] = self.request.hostname or "local"
    return result


@shared_task(name="apps.monitoring.tasks.finish_run", acks_late=True)
def finish_run(results: list, run_id: int) -> str:
    workers = [r["worker"] for r in results or [] if r]
    return services.monitoring_run_finish(run_id=run_id, now=timezone.now(), workers=workers).status


@shared_task(name="apps.monitoring.tasks.fail_run")
def fail_run(run_id: int) -> str:
    return services.monitoring_run_fail(run_id=run_id, now=timezone.now(),
                                        error="监控分组任务失败，请重新运行").status
