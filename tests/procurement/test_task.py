"""The monthly beat job (R-VBP-3, R-VBP-5) is scheduled and recomputes last month's snapshot."""
import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.conf import settings

from apps.core.models import Event, EventAction
from apps.procurement import services, tasks
from apps.procurement.models import CompletionSnapshot
from tests import factories as f
from tests.procurement import factories as pf

pytestmark = pytest.mark.django_db


def test_r_vbp_3_monthly_job_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["monthly-procurement-completion"]
    assert entry["task"] == tasks.recompute_previous_month.name


@time_machine.travel(dt.datetime(2026, 4, 2, 5, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai")), tick=False)
def test_r_vbp_3_r_vbp_5_job_snapshots_last_month_and_names_repeat_offenders():
    """On 2 April: March's snapshot (agreed 100, 10 bought → 10 %, pace 25 % → behind); two invoices of
    1 March unpaid after their due day 31 March → the institution is a repeat offender."""
    a = f.InstitutionFactory(code="H640500055")
    p = pf.product(pf.round_(), firms=["甲"], price="1.00")
    pf.bases(p, 200, {a: 1})
    services.contract_decompose(product=p, cycle_year=1, actor=None)
    pf.purchase(institution=a, product_obj=p, quantity=5, on=dt.date(2026, 3, 1))
    pf.purchase(institution=a, product_obj=p, quantity=5, on=dt.date(2026, 3, 1))
    result = tasks.recompute_previous_month()
    assert result == {"period": "2026-03-01", "agreements": 1, "repeat_overdue": ["H640500055"]}
    snapshot = CompletionSnapshot.objects.get()
    assert (snapshot.purchased, str(snapshot.completion), snapshot.behind_pace) == (10, "0.1000", True)
    event = Event.objects.get(action=EventAction.PROCUREMENT_COMPLETION_COMPUTED)
    assert event.data["behind_pace"] == [["H640500055", "V001"]] and event.data["period"] == "2026-03-01"
