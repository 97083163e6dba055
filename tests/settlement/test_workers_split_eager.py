"""R-SET-1, issue 16: a run split into groups of organisations (SETTLEMENT_GROUPS) gives the same statements as a
one-shot run — here with Celery eager (any database; tests/settlement/test_workers.py runs it on two real
workers on PostgreSQL) — and the schedule queues a split run instead of settling in its own process."""
import datetime as dt
from unittest import mock

import pytest

from apps.core.models import Event, EventAction
from apps.prescriptions.models import Delivery
from apps.settlement import services, tasks
from apps.settlement.models import SettlementRun, Statement, StatementLine
from tests import factories as f
from tests.settlement import factories as sf

NOV = dt.date(2026, 11, 1)
pytestmark = pytest.mark.django_db


def _month():
    statements = sorted(Statement.objects.filter(period=NOV).values_list(
        "organisation_kind", "institution_id", "pharmacy_id", "visits", "total", "fund_payment", "deposit", "payable",
        "line_count", "source_digest"), key=lambda r: (r[0], r[1] or 0, r[2] or 0))
    lines = sorted(StatementLine.objects.filter(period=NOV).values_list("statement__pharmacy_id",
                                                                        "statement__institution_id", "dispensing_id"),
                   key=lambda r: r[2])
    return statements, lines


@pytest.fixture
def month(zhongwei):
    """7 pharmacies with 1–3 dispensings, 2 hospitals with a ward delivery each."""
    hospitals = [f.InstitutionFactory() for _ in range(2)]
    drug = f.DrugFactory()
    pharmacies = [f.PharmacyFactory() for _ in range(7)]
    for i, p in enumerate(pharmacies):
        for _ in range(1 + i % 3):
            sf.dispensing(pharmacy=p, institution=hospitals[i % 2], drug=drug, quantity=1)
    for h in hospitals:
        sf.dispensing(pharmacy=pharmacies[0], institution=h, drug=drug, quantity=2, delivery=Delivery.WARD)
    return pharmacies, hospitals


def test_r_set_1_split_run_equals_a_one_shot_run(month, settings):
    """3 groups per kind: 7 pharmacies → groups of 3, 3 and 1; 2 hospitals (and any other institution) → groups of
    one. The split run's statements and lines are the one-shot run's; 9 statements, 13 pickup lines (1+2+3+1+2+3+1) + 2 ward lines."""
    settings.SETTLEMENT_GROUPS = 3
    run = SettlementRun.objects.create(period=NOV)
    assert tasks.run_settlement(run.pk).startswith("split into")
    run.refresh_from_db()
    assert run.status == "succeeded" and run.steps_done == run.steps_total >= 5 and run.progress == 100
    assert run.lines_written == 15 and run.statements_written == 9
    assert Event.objects.get(object_id=str(run.pk), action=EventAction.SETTLEMENT_RUN_SUCCEEDED).data["workers"]
    split = _month()
    assert len(split[0]) == 9 and len(split[1]) == 15
    StatementLine.objects.all().delete()
    Statement.objects.all().delete()
    settings.SETTLEMENT_GROUPS = 0
    assert services.settlement_run_now(period=NOV, clock=sf.clock).status == "succeeded"
    assert _month() == split


def test_r_set_4_the_schedule_queues_a_split_run_and_skips_while_one_is_live(month, settings,
                                                                              django_capture_on_commit_callbacks):
    settings.SETTLEMENT_GROUPS = 2
    with mock.patch("apps.settlement.tasks.timezone.localdate", return_value=dt.date(2026, 12, 2)):
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.settle_previous_month() == "queued"  # executed on commit (eagerly here): split, succeeded
        run = SettlementRun.objects.get()
        assert run.status == "succeeded" and Statement.objects.filter(period=NOV).count() == 9
        # a live run of the month: the schedule leaves it alone
        SettlementRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=dt.datetime.now(dt.timezone.utc))
        assert tasks.settle_previous_month() == "skipped"
