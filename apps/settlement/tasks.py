"""Celery tasks of settlement (R-SET-1..4). Each takes ids or nothing, calls one service and is idempotent.
The periodic ones are declared in ``config/beat_schedule.py``."""
from __future__ import annotations

from celery import chord, group, shared_task
from django.conf import settings
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.settlement import money_services, services
from apps.settlement.periods import period_of, previous_period


@shared_task(name="apps.settlement.tasks.run_settlement", acks_late=True)
def run_settlement(run_id: int) -> str:
    """R-SET-1: execute one queued settlement run (a redelivered finished run does nothing; a redelivered run
    whose worker was killed is taken over once its heartbeat is late). With ``SETTLEMENT_GROUPS`` > 0 the run is
    split into that many groups of organisations per kind, one ``settle_group`` task each, on any worker of the
    ``settlement`` queue; ``finish_run`` closes it once all are written (a chord), ``fail_run`` if one raised."""
    groups = getattr(settings, "SETTLEMENT_GROUPS", 0)
    if groups <= 0:
        return services.settlement_run_execute(run_id=run_id, clock=timezone.now).status
    plan = services.settlement_run_split(run_id=run_id, now=timezone.now(), groups=groups)
    if not plan:
        return "nothing to do" if plan is None else "succeeded"
    header = group(settle_group.si(run_id, kind, lo, hi) for kind, lo, hi in plan)
    chord(header)(finish_run.s(run_id).on_error(fail_run.si(run_id)))
    return f"split into {len(plan)} groups"


@shared_task(name="apps.settlement.tasks.settle_group", acks_late=True, bind=True)
def settle_group(self, run_id: int, kind: str, lo: int, hi: int) -> dict | None:
    """R-SET-1: one group of organisations of a split run, in one transaction (idempotent: a redelivered group
    finds its statements' fingerprints unchanged and writes nothing)."""
    result = services.settlement_run_group(run_id=run_id, kind=kind, lo=lo, hi=hi, clock=timezone.now)
    if result is not None:
        result["worker"] = self.request.hostname or "local"
    return result


@shared_task(name="apps.settlement.tasks.finish_run", acks_late=True)
def finish_run(results: list, run_id: int) -> str:
    """R-SET-1: every group of a split run is written: the run succeeded (the event names the workers)."""
    workers = [r["worker"] for r in results or [] if r]
    return services.settlement_run_finish(run_id=run_id, now=timezone.now(), workers=workers).status


@shared_task(name="apps.settlement.tasks.fail_run")
def fail_run(run_id: int) -> str:
    """R-SET-1: a group of a split run raised: the run is marked failed (a rerun converges the month)."""
    return services.settlement_run_fail(run_id=run_id, now=timezone.now(), error="结算分组任务失败，请重新结算").status


@shared_task(name="apps.settlement.tasks.ensure_month_partitions")
def ensure_month_partitions() -> dict[str, list[str]]:
    """R-SET-1 (issue 16), daily: the month partitions of the dispensings, their lines and the statement lines
    exist ahead of the months' dispensings and settlements."""
    created = services.month_partitions_ensure(today=timezone.localdate())
    return {table: [p.isoformat() for p in months] for table, months in created.items()}


@shared_task(name="apps.settlement.tasks.fail_dead_runs")
def fail_dead_runs() -> list[int]:
    """R-SET-1 (R-SEC-4), every 30 s: a run whose worker stopped beating for a minute is marked failed, so the
    month can be settled again at once (the rerun converges to the same statements)."""
    return services.settlement_runs_fail_dead(now=timezone.now())


def _last_month():
    return previous_period(period_of(timezone.localdate()))


@shared_task(name="apps.settlement.tasks.settle_previous_month")
def settle_previous_month() -> str:
    """R-SET-4: the schedule settles last month on each of the 1st–5th (reruns pick up late data; confirmed
    statements stay locked). With ``SETTLEMENT_GROUPS`` > 0 the run is queued and split over the settlement
    workers like an administrator's (a live run of the month is left to finish: "skipped")."""
    if getattr(settings, "SETTLEMENT_GROUPS", 0) > 0:
        try:
            return services.settlement_run_start(period=_last_month(), now=timezone.now()).status
        except ApplicationError as exc:
            if exc.code == "run_in_progress":
                return "skipped"
            raise
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
