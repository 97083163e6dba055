"""Issue 15 item 3: money and irreversible actions are refused when they would be wrong, whatever page sent them;
each page asks once and states the figures."""
import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from apps.core.models import Event
from apps.core.exceptions import ApplicationError
from apps.prescriptions.services import dispensing as rx_dispensing
from apps.prescriptions.models import Dispensing
from apps.settlement import services
from apps.settlement.models import Statement
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db
NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)


@pytest.fixture
def november(zhongwei):
    pharmacy, hospital, drug = f.PharmacyFactory(), f.InstitutionFactory(), f.DrugFactory()
    # R-PAY-4 worked example: 3 packs at 980.00 with the 500.00 deductible → fund 1,609.50
    sf.dispensing(pharmacy=pharmacy, institution=hospital, drug=drug, quantity=3, deductible="500.00")
    sf.dispensing(pharmacy=pharmacy, institution=hospital, drug=drug, quantity=1, period=DEC)  # fund 661.50
    services.settlement_run_now(period=NOV, clock=sf.clock)
    services.settlement_run_now(period=DEC, clock=sf.clock)
    return pharmacy


@pytest.mark.parametrize("today", [dt.date(2026, 12, 1), dt.date(2026, 12, 31)])
def test_r_set_1_statement_of_a_month_that_has_not_ended_is_refused(november, today):
    """December's statement on 1 and 31 December: the month is still open → period_not_ended, nothing written."""
    statement = Statement.objects.get(pharmacy=november, period=DEC)
    with pytest.raises(ApplicationError) as exc:
        services.statement_confirm(statement=statement, actor=f.bureau_admin(), today=today,
                                   now=timezone.make_aware(dt.datetime.combine(today, dt.time(9))))
    assert exc.value.code == "period_not_ended" and "2027-01-01" in exc.value.message
    statement.refresh_from_db()
    assert statement.status == Statement.Status.DRAFT and statement.confirmed_at is None


def test_r_set_1_statement_of_an_ended_month_is_confirmed_with_the_callers_time(november):
    """November on 1 December: confirmed, confirmed_at is the caller's ``now`` (not the server clock)."""
    statement = Statement.objects.get(pharmacy=november, period=NOV)
    moment = timezone.make_aware(dt.datetime(2026, 12, 1, 10, 15))
    confirmed = services.statement_confirm(statement=statement, actor=f.bureau_admin(), today=DEC, now=moment)
    assert confirmed.status == Statement.Status.CONFIRMED and confirmed.confirmed_at == moment
    assert confirmed.fund_payment == Decimal("1609.50")


@pytest.mark.parametrize("reason", ["", "   "])
def test_r_rx_6_reversal_without_a_reason_is_refused_and_writes_nothing(zhongwei, reason):
    original = sf.dispensing(pharmacy=f.PharmacyFactory(), institution=f.InstitutionFactory(),
                             drug=f.DrugFactory(), quantity=1, period=DEC)
    with pytest.raises(ApplicationError) as exc:
        rx_dispensing.dispensing_reverse(dispensing=original, user=f.pharmacy_user(original.pharmacy), reason=reason,
                                       now=timezone.make_aware(dt.datetime(2026, 12, 2, 9)))
    assert exc.value.code == "reason_required" and "reason" in exc.value.fields
    assert Dispensing.objects.filter(reverses=original).count() == 0
    assert not Event.objects.filter(action__icontains="revers").exists()


def test_statement_confirm_page_states_the_figures_before_confirming(november):
    """The confirm button's dialog names the payable: fund 1,609.50 − 5 % deposit 80.48 = 1,529.02."""
    client = Client()
    client.force_login(f.bureau_admin())
    html = client.get("/settlement/statements/?period=2026-11").content.decode()
    assert "data-confirm=" in html
    assert "1,609.50" in html and "应拨付 1,529.02 元" in html and "不能撤销" in html
