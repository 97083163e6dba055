"""R-SET-4: the periodic jobs are declared in config/beat_schedule.py with the right days, and their tasks work."""
import datetime as dt
from unittest import mock

import pytest
from celery.schedules import crontab
from django.conf import settings

from apps.settlement import tasks
from apps.settlement.models import MonthlyReportSnapshot, SettlementRun
from tests import factories as f
from tests.settlement import factories as sf


def _entry(task_name):
    found = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == task_name]
    assert len(found) == 1, task_name
    return found[0]["schedule"]


def test_r_set_4_settlement_and_statistics_on_the_1st_to_5th():
    for name in ("apps.settlement.tasks.settle_previous_month", "apps.settlement.tasks.compile_monthly_statistics"):
        schedule = _entry(name)
        assert isinstance(schedule, crontab)
        assert schedule.day_of_month == {1, 2, 3, 4, 5}
        assert len(schedule.hour) == 1 and len(schedule.minute) == 1  # once a day


def test_r_set_4_reconciliation_before_the_10th():
    schedule = _entry("apps.settlement.tasks.reconcile_previous_month")
    assert schedule.day_of_month and max(schedule.day_of_month) < 10
    assert min(schedule.day_of_month) > 5  # after settlement and statistics


def test_r_set_4_schedule_keeps_the_other_apps_entries_and_names_rules():
    assert {"expire-prescriptions", "expire-applications", "monthly-settlement", "monthly-statistics",
            "monthly-reconciliation"} <= set(settings.CELERY_BEAT_SCHEDULE)
    source = open(settings.BASE_DIR / "config" / "beat_schedule.py", encoding="utf-8").read()
    for rule in ("R-SET-1", "R-SET-2", "R-SET-3", "R-SET-4"):
        assert rule in source
    from celery import current_app

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        if entry["task"].startswith("apps.settlement."):
            assert entry["task"] in current_app.tasks


@pytest.mark.django_db
def test_r_set_4_scheduled_tasks_settle_compile_and_reconcile_last_month(zhongwei):
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, quantity=1, period=dt.date(2026, 11, 1))
    with mock.patch("apps.settlement.tasks.timezone.localdate", return_value=dt.date(2026, 12, 2)):
        assert tasks.settle_previous_month() == "succeeded"
        assert tasks.compile_monthly_statistics() == "2026-11-01"
        counts = tasks.reconcile_previous_month()
    run = SettlementRun.objects.get()
    assert run.period == dt.date(2026, 11, 1) and run.started_by is None
    assert MonthlyReportSnapshot.objects.get(region=None).data["totals"]["fund_payment"] == "661.50"
    assert counts == {"sales_exceed_purchases": 1}  # nothing was purchased
    assert tasks.run_settlement(run.pk) == "succeeded"  # a redelivered run does nothing more
