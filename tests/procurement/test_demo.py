"""The procurement demo: one round, three varieties (one, two, three firms), six months of purchases, one
institution behind the even pace and one overdue invoice — as of the loader's date, not the machine's."""
import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from apps.demo import catalogue, procurement, regions
from apps.demo.loader import moment_of
from apps.procurement import selectors
from apps.procurement.models import Contract, ProcurementRound, Purchase, WinningProduct

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("today", [dt.date(2026, 12, 1), dt.date(2027, 3, 15)])
def test_procurement_demo_has_one_behind_one_overdue_and_reruns(today):
    now = moment_of(today)
    regions.load(today=today, now=now)
    catalogue.load(today=today, now=now)
    procurement.load(today=today, now=now)
    procurement.load(today=today, now=now)  # re-runnable

    assert ProcurementRound.objects.count() == 1
    assert sorted(WinningProduct.objects.values_list("firm_count", flat=True)) == [1, 2, 3]
    months = {(d.year, d.month) for d in Purchase.objects.values_list("invoice_date", flat=True)}
    assert len(months) == 6 and Contract.objects.count() == 3
    as_of = selectors.month_end(selectors.previous_month(today))
    behind = [(r["institution"].code, r["product"].code)
              for r in selectors.agreement_progress(as_of=as_of) if r["behind_pace"]]
    assert behind == [("H640500003", "V003")]
    admin = get_user_model().objects.get(username="admin")
    overdue = list(selectors.overdue_invoices(admin, today=today))
    assert [(i.institution.code, i.product.code) for i in overdue] == [("H640500002", "V002")]
    account = ProcurementRound.objects.get().fund_account
    assert selectors.fund_balance(account) > 0
