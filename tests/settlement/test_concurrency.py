"""R-SET-1 on PostgreSQL: two runs of the same month at once (the schedule and an administrator) never
double-count; the groups take turns and the result is the same as one run."""
import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.settlement import services
from apps.settlement.models import SettlementRun, Statement, StatementLine
from tests import factories as f
from tests.settlement import factories as sf

NOV = dt.date(2026, 11, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_r_set_1_concurrent_runs_of_one_month_agree(zhongwei):
    pharmacies = [f.PharmacyFactory() for _ in range(4)]
    hospital = f.InstitutionFactory()
    drug = f.DrugFactory()
    for p in pharmacies:
        for quantity in (1, 2, 3):
            sf.dispensing(pharmacy=p, institution=hospital, drug=drug, quantity=quantity)
    results, errors = [], []

    def run():
        try:
            results.append(services.settlement_run_now(period=NOV, clock=sf.clock).status)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == ["succeeded", "succeeded"]
    assert SettlementRun.objects.filter(status="succeeded").count() == 2
    assert Statement.objects.filter(period=NOV).count() == 4
    assert StatementLine.objects.count() == 12
    # each pharmacy: 6 packs at 980.00 → in scope 5292.00, fund 3969.00
    assert set(Statement.objects.values_list("fund_payment", flat=True)) == {Decimal("3969.00")}
