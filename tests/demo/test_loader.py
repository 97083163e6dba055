"""The demo loader is told a date and passes it to every service call (issue 9): it loads, and loads again without
change, whatever the machine's clock says — the prescriptions it makes "today" are declined, cancelled and
reversed as of that day, never refused as expired by the real clock. The whole demo also raises every monitoring
rule (section 9), holds the money examples of issue 11, and lists every login with its role (``make run``)."""
import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.applications.models import Application
from apps.core.models import Sanction
from apps.institutions.models import Institution
from apps.monitoring.models import Alert, Rule
from apps.physicians.models import Physician
from apps.prescriptions.models import Dispensing, Prescription
from apps.settlement.models import DeferralRelease, DepositEntry, Statement, StatementAdjustment, WardPayment

pytestmark = pytest.mark.django_db


def _counts():
    return (Institution.objects.count(), Physician.objects.count(), Application.objects.count(),
            Prescription.objects.count(), Dispensing.objects.count(), WardPayment.objects.count(),
            DepositEntry.objects.count())


def test_demo_loads_twice_as_of_the_given_day():
    """The whole demo is loaded twice (idempotent) as of a fixed day; CI runs the suite again with the machine's
    clock moved to 2027-03-15 and 2028-12-31, so the same load is proved independent of the clock (issue 9)."""
    day = dt.date(2026, 11, 25)
    out = io.StringIO()
    call_command("load_demo", today=day, stdout=out)
    counts = _counts()
    call_command("load_demo", today=day, stdout=io.StringIO())
    assert _counts() == counts
    statuses = set(Prescription.objects.values_list("status", flat=True))
    assert {Prescription.Status.DECLINED, Prescription.Status.CANCELLED, Prescription.Status.FLOWED} <= statuses
    assert Dispensing.objects.filter(kind=Dispensing.Kind.REVERSAL).exists()
    # every demo event happened on or before the given day (nothing stamped with the real clock)
    latest = Prescription.objects.exclude(status_changed_at=None).order_by("-status_changed_at").values_list("status_changed_at", flat=True).first()
    assert latest.date() <= day
    _every_monitoring_rule_raised()
    _money_examples(day)
    _every_login_printed_with_its_role(out.getvalue())


def _every_monitoring_rule_raised():
    """Section 9: the demo's month raises at least one alert of every rule R-MON-1..9 in Zhongwei."""
    raised = {r: Alert.objects.filter(rule=r, region__code__startswith="6405").count() for r in Rule}
    assert all(n >= 1 for n in raised.values()), raised


def _money_examples(day):
    """Issue 11 (R-SET-1/2/5): the deposit withheld from confirmed Zhongwei statements and last year's returned;
    a deduction on a confirmed statement; a deferral held and released; ward deliveries paid for."""
    assert DepositEntry.objects.filter(kind=DepositEntry.Kind.WITHHELD, amount__gt=0).count() >= 20
    returned = DepositEntry.objects.filter(kind=DepositEntry.Kind.RETURNED)
    assert set(returned.values_list("decision", flat=True)) == {"all", "part"} and all(e.amount < 0 for e in returned)
    deduction = StatementAdjustment.objects.get(kind="deduction")
    assert deduction.statement.status == Statement.Status.CONFIRMED and deduction.amount > 0
    assert StatementAdjustment.objects.filter(kind="deferral", statement__status=Statement.Status.CONFIRMED).exists()
    assert DeferralRelease.objects.filter(sanction__kind=Sanction.Kind.PAYMENT_DEFERRAL).count() == 1
    payments = WardPayment.objects.select_related("statement")
    assert payments.count() >= 2 and all(p.statement.status == Statement.Status.CONFIRMED for p in payments)
    assert all(p.paid_on <= day and p.paid_on > p.statement.period for p in payments)


def _every_login_printed_with_its_role(printed):
    """``make run`` prints what ``load_demo`` lists: every active user, its role and organisation."""
    for user in get_user_model().objects.filter(is_active=True):
        line = next((l for l in printed.splitlines() if l.strip().startswith(user.username + " ")), None)
        assert line is not None, user.username
        assert str(user.get_role_display()) in line
