"""R-SEC-1 (issue 14 §5): shared reference data — the national catalogue, payment standards, withdrawals, the
holiday calendar — is read by a region's administrator and written only by a system-wide role. (A Changsha
administrator's withdrawal used to end a Zhongwei patient's approval.)"""
import datetime as dt
from decimal import Decimal

import pytest

from apps.applications.models import Application
from apps.catalogue.models import Drug
from apps.core.models import CalendarDay
from tests import factories as f
from tests.catalogue.helpers import drug_row, drug_upload
from tests.prescriptions import factories as rx

pytestmark = pytest.mark.django_db


def test_r_sec_1_a_regions_administrator_cannot_withdraw_a_drug_for_everyone(api_as):
    s = rx.setup()
    changsha_admin = api_as(f.bureau_admin("430100"))
    body = {"withdrawn_on": "2026-12-01", "reason": Drug.WithdrawalReason.values[0]}
    resp = changsha_admin.post(f"/api/v1/drugs/{s.drug.code}/withdraw/", body, format="json")
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    s.drug.refresh_from_db()
    s.application.refresh_from_db()
    assert s.drug.withdrawn_on is None
    assert s.application.status == Application.Status.APPROVED
    # the region's administrator still reads the catalogue
    assert changsha_admin.get(f"/api/v1/drugs/{s.drug.code}/").status_code == 200
    # a system-wide administrator withdraws it
    assert api_as(f.system_admin()).post(f"/api/v1/drugs/{s.drug.code}/withdraw/", body,
                                         format="json").status_code in (200, 201)


def test_r_sec_1_a_regions_administrator_cannot_change_a_payment_standard_or_create_a_drug(api_as):
    drug = f.DrugFactory(payment_standard=Decimal("100.00"))
    admin = api_as(f.bureau_admin("640500"))
    resp = admin.patch(f"/api/v1/drugs/{drug.code}/", {"payment_standard": "50.00", "effective_date": "2026-12-02"},
                       format="json")
    assert resp.status_code == 403
    drug.refresh_from_db()
    assert drug.payment_standard == Decimal("100.00")
    assert drug.payment_standards.count() <= 1
    assert admin.post("/api/v1/drugs/imports/", {"file": drug_upload([drug_row(1)])},
                      format="multipart").status_code == 403


def test_r_sec_1_a_regions_administrator_cannot_write_the_holiday_calendar(api_as):
    admin = api_as(f.bureau_admin("430100"))
    assert admin.get("/api/v1/calendar/?year=2026").status_code == 200
    resp = admin.post("/api/v1/calendar/", {"date": "2026-12-31", "kind": "holiday", "name": "测试"}, format="json")
    assert resp.status_code == 403
    assert not CalendarDay.objects.filter(date=dt.date(2026, 12, 31)).exists()
