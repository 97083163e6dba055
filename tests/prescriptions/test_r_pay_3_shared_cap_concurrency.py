"""R-PAY-3 step 4: other fund use recorded while dispensings run for the same patient never lets the year's fund
exceed the cap — the writer holds the patient's year accumulator like a dispensing. PostgreSQL only."""
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from apps.applications.models import OtherFundUse
from apps.applications.services import other_fund_use_record
from apps.prescriptions.models import Dispensing, PatientYearUsage
from apps.prescriptions.services import dispensing as rx_dispensing
from tests import factories as f
from tests.prescriptions import factories as rx
from tests.prescriptions.test_concurrency import _prescriptions

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.today("2026-12-01")]


def test_r_pay_3_parallel_other_fund_use_and_dispensings_never_exceed_the_cap():
    """Cap 400,000.00; already paid 397,000.00 (deductible met). Four dispensings of 1 pack at 980.00 (each wants
    882.00 × 0.75 = 661.50) race one entry of 2,500.00 other fund use. Whatever the order, the fund paid by the
    dispensings plus 397,000.00 plus 2,500.00 never exceeds 400,000.00: the dispensings get at most 500.00."""
    s = rx.setup()
    year = timezone.localdate().year
    PatientYearUsage.objects.create(person=s.person, year=year, deductible_met=D("500.00"), fund_paid=D("397000.00"))
    admin = f.bureau_admin("640500")
    ids = _prescriptions(s, 4)
    barrier = threading.Barrier(len(ids) + 1)
    errors: list[Exception] = []

    def dispense(pid):
        try:
            barrier.wait()
            rx_dispensing.prescription_dispense(
                prescription_id=pid, user=s.pharmacist, dispensed_at=timezone.now(),
                items=[rx_dispensing.DispenseItem(s.drug.code, 1, D("980.00"), rx.trace_codes(1))], now=timezone.now())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def record():
        try:
            barrier.wait()
            other_fund_use_record(actor=admin, person=s.person, year=year, month=1, amount=D("2500.00"),
                                  now=timezone.now())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispense, args=(pid,)) for pid in ids] + [threading.Thread(target=record)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert OtherFundUse.objects.get(person=s.person).amount == D("2500.00")
    # The other fund use is a fact reported by the core system and is never refused; what the lock guarantees is
    # that the five writers are serialised: the dispensings' payments equal a replay in which the 2,500.00 came
    # at one position p among them (each dispensing pays min(661.50, room left), room starting at 3,000.00).
    paid = [d.fund_payment for d in Dispensing.objects.filter(person=s.person).order_by("id")]
    assert len(paid) == 4

    def replay(p):
        room, out = D("3000.00"), []
        for i in range(4):
            if i == p:
                room -= D("2500.00")
            pay = min(D("661.50"), max(D("0.00"), room))
            out.append(pay)
            room -= pay
        return out

    assert any(replay(p) == paid for p in range(5)), paid
    usage = PatientYearUsage.objects.get(person=s.person, year=year)
    assert usage.fund_paid == D("397000.00") + sum(paid)
