"""The demo loader is told a date and passes it to every service call (issue 9): it loads, and loads again without
change, whatever the machine's clock says — the prescriptions it makes "today" are declined, cancelled and
reversed as of that day, never refused as expired by the real clock."""
import datetime as dt
import io

import pytest
from django.core.management import call_command

from apps.applications.models import Application
from apps.institutions.models import Institution
from apps.physicians.models import Physician
from apps.prescriptions.models import Dispensing, Prescription

pytestmark = pytest.mark.django_db


def _counts():
    return (Institution.objects.count(), Physician.objects.count(), Application.objects.count(),
            Prescription.objects.count(), Dispensing.objects.count())


def test_demo_loads_twice_as_of_the_given_day():
    """The whole demo is loaded twice (idempotent) as of a fixed day; CI runs the suite again with the machine's
    clock moved to 2027-03-15 and 2028-12-31, so the same load is proved independent of the clock (issue 9)."""
    day = dt.date(2026, 11, 25)
    call_command("load_demo", today=day, stdout=io.StringIO())
    counts = _counts()
    call_command("load_demo", today=day, stdout=io.StringIO())
    assert _counts() == counts
    statuses = set(Prescription.objects.values_list("status", flat=True))
    assert {Prescription.Status.DECLINED, Prescription.Status.CANCELLED, Prescription.Status.FLOWED} <= statuses
    assert Dispensing.objects.filter(kind=Dispensing.Kind.REVERSAL).exists()
    # every demo event happened on or before the given day (nothing stamped with the real clock)
    latest = Prescription.objects.exclude(status_changed_at=None).order_by("-status_changed_at").values_list("status_changed_at", flat=True).first()
    assert latest.date() <= day
