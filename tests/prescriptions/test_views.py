"""Browser screens (server-rendered): lists and filters, detail actions, the dispensing page with its quote,
stock, year-to-date usage and manual claims; scoping (404) and roles (403)."""
import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from apps.prescriptions.models import Dispensing, PatientYearUsage, Prescription, StockMovement
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


@pytest.fixture
def s(api_as):
    s = rx.setup()
    r = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(), format="json")
    s.pid = r.json()["id"]
    return s


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def test_r_rx_6_lists_for_hospital_and_pharmacy_with_filters(s):
    hospital = client_for(s.hospital)
    page = hospital.get("/prescriptions/?status=flowed").content.decode()
    assert "RX0001" in page and "张三" in page and s.person.id_number not in page  # R-SEC-2
    assert "RX0001" not in hospital.get("/prescriptions/?status=dispensed").content.decode()
    assert "RX0001" not in hospital.get("/prescriptions/?patient=李").content.decode()
    assert "RX0001" in hospital.get(f"/prescriptions/?patient={s.person.id_number[-4:]}").content.decode()
    today = timezone.localdate()
    assert "RX0001" not in hospital.get(f"/prescriptions/?date_from={today + dt.timedelta(days=1)}").content.decode()
    assert Prescription.objects.get(pk=s.pid).downloaded_at is None
    assert "RX0001" in client_for(s.pharmacist).get("/prescriptions/").content.decode()
    assert Prescription.objects.get(pk=s.pid).downloaded_at is not None
    assert "RX0001" not in client_for(f.pharmacy_user()).get("/prescriptions/").content.decode()


def test_r_sec_1_other_pharmacy_gets_404_on_detail_and_dispense_page(s):
    other = client_for(f.pharmacy_user())
    assert other.get(f"/prescriptions/{s.pid}/").status_code == 404
    assert other.get(f"/prescriptions/{s.pid}/dispense/").status_code == 404
    assert client_for(s.hospital).get(f"/prescriptions/{s.pid}/dispense/").status_code == 403


def test_dispensing_page_quote_shows_breakdown_and_changes_nothing_then_confirms(s):
    c = client_for(s.pharmacist)
    item = Prescription.objects.get(pk=s.pid).items.get()
    assert c.get(f"/prescriptions/{s.pid}/dispense/").status_code == 200
    form = {f"qty_{item.pk}": 3, f"price_{item.pk}": "980.00", f"codes_{item.pk}": ""}
    quoted = c.post(f"/prescriptions/{s.pid}/dispense/", {**form, "action": "quote"}).content.decode()
    assert "1,609.50" in quoted and "1,330.50" in quoted
    assert not Dispensing.objects.exists() and not PatientYearUsage.objects.exists()
    missing = c.post(f"/prescriptions/{s.pid}/dispense/", {**form, "action": "dispense"}).content.decode()
    assert "追溯码" in missing and not Dispensing.objects.exists()
    form[f"codes_{item.pk}"] = "\n".join(rx.trace_codes(3))
    r = c.post(f"/prescriptions/{s.pid}/dispense/", {**form, "action": "dispense"})
    assert r.status_code == 302
    d = Dispensing.objects.get()
    assert (d.fund_payment, d.personal_payment) == (D("1609.50"), D("1330.50"))
    detail = c.get(f"/prescriptions/{s.pid}/").content.decode()
    assert "1,609.50" in detail and "冲正" in detail


def test_r_rx_6_browser_cancel_decline_and_reverse(s, api_as):
    r = client_for(s.hospital).post(f"/prescriptions/{s.pid}/cancel/", {"reason": "医嘱变更"})
    assert r.status_code == 302 and Prescription.objects.get(pk=s.pid).status == "cancelled"
    pid2 = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body("RX0002"), format="json").json()["id"]
    client_for(s.pharmacist).post(f"/prescriptions/{pid2}/decline/", {"reason": "patient_absent"})
    assert Prescription.objects.get(pk=pid2).decline_reason == "patient_absent"
    pid3 = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body("RX0003"), format="json").json()["id"]
    did = api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid3}/dispense/", rx.dispense_body(s.drug, 3),
                                    format="json").json()["id"]
    client_for(s.pharmacist).post(f"/prescriptions/dispensings/{did}/reverse/", {"reason": "录错"})
    assert Dispensing.objects.filter(reverses_id=did).count() == 1
    assert PatientYearUsage.objects.get(person=s.person).fund_paid == D("0.00")


def test_r_pha_3_stock_page_records_purchase(s):
    c = client_for(s.pharmacist)
    r = c.post("/prescriptions/stock/", {"drug_code": s.drug.code, "kind": "purchase", "quantity": 5,
                                         "unit_price": "900.00", "occurred_at": "2026-01-05T10:00"})
    assert r.status_code == 302 and StockMovement.objects.get().quantity == 5
    assert "奥希替尼" in c.get("/prescriptions/stock/").content.decode()
    assert client_for(s.hospital).get("/prescriptions/stock/").status_code == 403


def test_r_pay_3_bureau_sees_year_to_date_usage(s, api_as):
    api_as(s.pharmacist).post(f"/api/v1/prescriptions/{s.pid}/dispense/", rx.dispense_body(s.drug, 3), format="json")
    bureau = client_for(f.reviewer("640500"))
    # the ID number is posted, never put in the URL (R-SEC-2)
    assert bureau.get(f"/prescriptions/usage/?q={s.person.id_number}").status_code == 400
    found = bureau.post("/prescriptions/usage/", {"q": s.person.id_number}).content.decode()
    assert f"/prescriptions/usage/{s.person.pk}/" in found
    page = bureau.get(f"/prescriptions/usage/{s.person.pk}/").content.decode()
    assert "500.00" in page and "1,609.50" in page and "398,390.50" in page  # cap left = 400000 − 1609.50
    assert client_for(f.reviewer("430100")).get(f"/prescriptions/usage/{s.person.pk}/").status_code == 404
    assert client_for(s.hospital).get("/prescriptions/usage/").status_code == 403


def test_r_pay_5_bureau_records_manual_claim_in_browser(s):
    bureau = client_for(f.bureau_admin("640500"))
    r = bureau.post("/prescriptions/claims/", {
        "id_number": s.person.id_number, "invoice_no": "FP77", "invoice_date": str(timezone.localdate()),
        "provider_name": "北京某医院", "care_setting": "outpatient", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0",
        "lines-0-drug_code": s.drug.code, "lines-0-quantity": 3, "lines-0-unit_price": "980.00"})
    assert r.status_code == 302
    assert PatientYearUsage.objects.get(person=s.person).fund_paid == D("1609.50")


def test_home_figures_and_navigation(s):
    page = client_for(s.pharmacist).get("/").content.decode()
    assert "待配药处方" in page and "/prescriptions/stock/" in page


def test_r_sec_3_admin_lists_are_read_only(s):
    admin_user = f.bureau_admin("640500", is_staff=True, is_superuser=True)
    c = client_for(admin_user)
    for path in ("prescription", "dispensing", "tracecode", "patientyearusage", "stockmovement",
                 "crossregionfiling", "manualclaim"):
        assert c.get(f"/admin/prescriptions/{path}/").status_code == 200, path
    assert c.get("/admin/prescriptions/prescription/add/").status_code == 403


def test_r_pay_5_bureau_records_cross_region_filing_in_browser(changsha):
    s = rx.setup(insurance_type="resident")
    s.person.insured_region = f.region("430102")
    s.person.save()
    form = {"id_number": s.person.id_number, "treatment_region": "640500", "filing_no": "YD-B1",
            "valid_from": "2026-01-01", "direct_settlement": "on"}
    # R-PAY-5: the treatment region's bureau cannot grant it; the insured region's (Changsha) does
    assert client_for(f.bureau_admin("640500")).post("/prescriptions/filings/", form).status_code == 200
    bureau = client_for(f.bureau_admin("430100"))
    assert bureau.post("/prescriptions/filings/", form).status_code == 302
    from apps.prescriptions.models import CrossRegionFiling

    filing = CrossRegionFiling.objects.get()
    assert filing.direct_settlement and filing.insured_region.code == "430102"
    outside = bureau.post("/prescriptions/filings/", {**form, "filing_no": "YD-B2", "treatment_region": "430100"})
    assert outside.status_code == 200 and CrossRegionFiling.objects.count() == 1
