"""A Zhongwei month with something on every page (issue 15 page scans): applications in review and approved,
prescriptions flowed / dispensed / reversed, stock, a settlement run with draft statements. Fixed moments in
November 2026; every service gets its ``now``."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from django.utils import timezone

from apps.applications import services as app_services
from apps.prescriptions.services import dispensing as rx_dispensing, upload as rx_upload
from apps.settlement import services as settlement
from tests import factories as f
from tests.applications.factories import patient
from tests.prescriptions import factories as rxf

NOV = dt.date(2026, 11, 1)


def at(day: int, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, 11, day, hour, 0))


def busy_month() -> SimpleNamespace:
    s = rxf.setup()
    admin = f.bureau_admin("640500", username="scanadmin")
    reviewer = f.reviewer("640500", username="scanreviewer")
    # stock: 20 packs bought at 980.00 (19,600.00)
    rx_dispensing.stock_movement_record(user=s.pharmacist, pharmacy=s.pharmacy, drug_code=s.drug.code, kind="purchase",
                             quantity=20, unit_price=Decimal("980.00"), occurred_at=at(2), now=at(2))
    dispensed = []
    for n, day in enumerate((3, 5, 9), start=1):
        prescription, _ = rx_upload.prescription_upload(user=s.hospital, data=rx_upload.UploadData(
            serial_no=f"SCAN{n:03d}", application=s.application.pk, physician_code=s.physician.code,
            pharmacy_code=s.pharmacy.code, issued_at=at(day, 8), signature="sig",
            items=[rx_upload.UploadItem(s.drug.code, 3, 30)]), now=at(day, 8))
        dispensed.append(rx_dispensing.prescription_dispense(
            prescription_id=prescription.pk, user=s.pharmacist, dispensed_at=at(day, 10), now=at(day, 10),
            items=[rx_dispensing.DispenseItem(s.drug.code, 3, Decimal("980.00"), rxf.trace_codes(3))]))
    rx_dispensing.dispensing_reverse(dispensing=dispensed[-1], user=s.pharmacist, reason="单价录入错误", now=at(9, 15))
    rx_upload.prescription_upload(user=s.hospital, data=rx_upload.UploadData(
        serial_no="SCAN-FLOWED", application=s.application.pk, physician_code=s.physician.code,
        pharmacy_code=s.pharmacy.code, issued_at=timezone.now(), signature="sig",
        items=[rx_upload.UploadItem(s.drug.code, 1, 30)]), now=timezone.now())
    # an application in review at the hospital's first stage
    app_services.application_submit(
        actor=s.hospital, patient=patient(41, "640500"), physician_code=s.physician.code, generic_name="奥希替尼",
        diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤", usage="80mg qd", course_days=90,
        pharmacy_code=s.pharmacy.code, now=at(20))
    settlement.settlement_run_now(period=NOV, clock=lambda: at(30, 23))
    return SimpleNamespace(s=s, admin=admin, reviewer=reviewer, hospital=s.hospital, pharmacist=s.pharmacist,
                           dispensed=dispensed)
