"""R-PAY-3: concurrent dispensings for one patient never use the same remaining deductible or cap
(row lock on PatientYearUsage), and a trace code races to one winner (unique index). PostgreSQL only."""
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.prescriptions.services import dispensing as rx_dispensing, upload as rx_upload
from apps.prescriptions.models import Dispensing, PatientYearUsage, TraceCode
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.today("2026-12-01")]


def _prescriptions(s, n):
    ids = []
    for i in range(n):
        prescription, _ = rx_upload.prescription_upload(user=s.hospital, data=rx_upload.UploadData(
            serial_no=f"PAR{i}", application=s.application.pk, physician_code=s.physician.code,
            pharmacy_code=s.pharmacy.code, issued_at=timezone.now(), signature="sig",
            items=[rx_upload.UploadItem(s.drug.code, 1, 30)]), now=timezone.now())
        ids.append(prescription.pk)
    return ids


def _fire(s, ids, codes_for):
    barrier = threading.Barrier(len(ids))
    errors: list[Exception] = []

    def run(index, pid):
        try:
            barrier.wait()
            rx_dispensing.prescription_dispense(
                prescription_id=pid, user=s.pharmacist, dispensed_at=timezone.now(),
                items=[rx_dispensing.DispenseItem(s.drug.code, 1, D("980.00"), codes_for(index))], now=timezone.now())
        except ApplicationError as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, pid)) for i, pid in enumerate(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_r_pay_3_parallel_dispensings_use_the_deductible_once():
    s = rx.setup()
    ids = _prescriptions(s, 6)
    codes = [rx.trace_codes(1) for _ in ids]
    errors = _fire(s, ids, lambda i: codes[i])
    assert errors == []
    rows = list(Dispensing.objects.filter(person=s.person))
    assert len(rows) == 6
    assert sum(d.deductible for d in rows) == D("500.00")
    # 6 × 882 in scope − 500 deductible = 4792 × 0.75, allocated whatever the order
    assert sum(d.fund_payment for d in rows) == D("3594.00")
    usage = PatientYearUsage.objects.get(person=s.person)
    assert (usage.deductible_met, usage.fund_paid, usage.dispensing_count) == (D("500.00"), D("3594.00"), 6)


def test_r_pay_3_parallel_dispensings_never_overspend_the_cap():
    s = rx.setup()
    PatientYearUsage.objects.create(person=s.person, year=timezone.localdate().year,
                                    deductible_met=D("500.00"), fund_paid=D("399000.00"))
    ids = _prescriptions(s, 5)
    errors = _fire(s, ids, lambda i: rx.trace_codes(1))
    assert errors == []
    rows = list(Dispensing.objects.filter(person=s.person))
    assert sum(d.fund_payment for d in rows) == D("1000.00")  # 5 × 661.50 wanted, only 1000 left
    assert PatientYearUsage.objects.get(person=s.person).fund_paid == D("400000.00")


def test_r_rx_5_parallel_use_of_one_trace_code_has_one_winner():
    s = rx.setup()
    ids = _prescriptions(s, 4)
    code = rx.trace_codes(1)
    errors = _fire(s, ids, lambda i: code)
    assert len(errors) == 3 and {e.code for e in errors} == {"duplicate_trace_code"}
    assert Dispensing.objects.count() == 1 and TraceCode.objects.filter(code=code[0]).count() == 1
    assert PatientYearUsage.objects.get(person=s.person).dispensing_count == 1


def test_r_rx_3_parallel_uploads_of_one_serial_create_one_prescription():
    s = rx.setup()
    data = rx_upload.UploadData(serial_no="SAME", application=s.application.pk, physician_code=s.physician.code,
                               pharmacy_code=s.pharmacy.code, issued_at=timezone.now(), signature="sig",
                               items=[rx_upload.UploadItem(s.drug.code, 1, 30)])
    barrier = threading.Barrier(4)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(rx_upload.prescription_upload(user=s.hospital, data=data, now=timezone.now()))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and sum(created for _, created in results) == 1
    assert len({p.pk for p, _ in results}) == 1
    from apps.prescriptions.models import Prescription

    assert Prescription.objects.filter(serial_no="SAME").count() == 1
