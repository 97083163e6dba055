"""Celery tasks of settlement (R-SET-1..4). Each takes ids or nothing, calls one service and is idempotent.
The periodic ones are declared in ``config/beat_schedule.py``."""
from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.settlement import money_services, services
from apps.settlement.periods import period_of, previous_period


@shared_task(name="apps.settlement.tasks.run_settlement", acks_late=True)
def run_settlement(run_id: int) -> str:
    """R-SET-1: execute one queued settlement run (a redelivered finished run does nothing)."""
    return services.settlement_run_execute(run_id=run_id, clock=timezone.now).status


def _last_month():
    return previous_period(period_of(timezone.localdate()))


@shared_task(name="apps.settlement.tasks.settle_previous_month")
def settle_previous_month() -> str:
    """R-SET-4: the schedule settles last month on each of the 1st–5th (reruns pick up late data; confirmed
    statements stay locked)."""
    return services.settlement_run_now(period=_last_month(), clock=timezone.now).status


@shared_task(name="apps.settlement.tasks.compile_monthly_statistics")
def compile_monthly_statistics() -> str:
    """R-SET-3/R-SET-4: last month's statistics, frozen for reporting by the 5th."""
    return services.monthly_report_compile(period=_last_month(), now=timezone.now()).period.isoformat()


@shared_task(name="apps.settlement.tasks.reconcile_previous_month")
def reconcile_previous_month() -> dict:
    """R-SET-2/R-SET-4: last month's reconciliation, before the hospitals pay the pharmacies on the 10th."""
    return services.reconciliation_run(period=_last_month(), now=timezone.now())


@shared_task(name="apps.settlement.tasks.follow_up_rectifications")
def follow_up_rectifications() -> dict:
    """R-SET-5 (000 附件2 第五条), daily: rectifications unresolved at their deadline, or the same problem again within
    six months, escalate to the bureau's queue (idempotent: an escalated one is not escalated again)."""
    return money_services.rectification_follow_up(today=timezone.localdate(), now=timezone.now())
