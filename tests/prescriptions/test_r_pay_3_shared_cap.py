"""R-PAY-3 step 4 (revision 2) and R-PAY-6: the annual limit is shared with the patient's other fund use (imported
monthly from the core system's export, all-or-nothing, or entered by the bureau); what the fund did not pay because
the limit was reached is reported per patient."""
import io
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from apps.applications.models import OtherFundUse
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


def _xlsx(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["身份证号", "年月", "基金支付金额"])
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile("core-2026-10.xlsx", buf.getvalue(),
                              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _dispense(api_as, s, serial="RX0001"):
    pid = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(serial), format="json").json()["id"]
    return api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/dispense/", rx.dispense_body(s.drug, 3, "980.00"),
                                     format="json")


def test_r_pay_3_other_fund_use_counts_in_the_cap_and_r_pay_6_reports_the_rest(api_as):
    """zhongwei-2021 employee, cap 400,000.00. The bureau enters 399,000.00 of other fund use for 2026-10.
    Dispensing 3 packs at 980.00: total 2,940.00, first self-pay 294.00, in scope 2,646.00, deductible 500.00,
    fund before the cap (2,646.00 − 500.00) × 75 % = 1,609.50; remaining cap 400,000.00 − (0 + 399,000.00) =
    1,000.00 → fund 1,000.00, personal 1,940.00. R-PAY-6: beyond the cap 1,609.50 − 1,000.00 = 609.50."""
    s = rx.setup()
    bureau = api_as(f.bureau_admin("640500"))
    r = bureau.post("/api/v1/other-fund-uses/", {"id_number": s.person.id_number, "period": "2026-10",
                                                 "amount": "399000.00"}, format="json")
    assert r.status_code == 201, r.content
    r = _dispense(api_as, s)
    assert r.status_code == 201, r.content
    assert r.json()["settlement"]["fund_payment"] == "1000.00"
    assert r.json()["settlement"]["personal_payment"] == "1940.00"
    report = bureau.get("/api/v1/reports/beyond-cap/?year=2026").json()
    assert [(x["fund_payment"], x["beyond_cap"]) for x in report["results"]] == [("1000.00", "609.50")]
    assert "*" in report["results"][0]["id_number"]  # R-SEC-2 masked
    # another region's bureau sees nobody
    assert api_as(f.bureau_admin("430100")).get("/api/v1/reports/beyond-cap/?year=2026").json()["results"] == []


def test_r_pay_3_other_fund_use_entered_only_by_insured_region_bureau(api_as):
    """Changsha's bureau (not the insured region) → 403, nothing written; a hospital user → 403."""
    s = rx.setup()
    body = {"id_number": s.person.id_number, "period": "2026-10", "amount": "100.00"}
    r = api_as(f.bureau_admin("430100")).post("/api/v1/other-fund-uses/", body, format="json")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert api_as(s.hospital).post("/api/v1/other-fund-uses/", body, format="json").status_code == 403
    assert OtherFundUse.objects.count() == 0


def test_r_pay_3_monthly_import_all_or_nothing(api_as):
    """A file with a good row and a row for an unknown ID number and a negative amount → 400, both bad cells listed
    with row and column, nothing written. The good file imports (201), re-importing it changes nothing (0 created,
    0 updated, 1 unchanged), and the quote counts the 399,500.00: 3 packs at 980.00 give 1,609.50 before the cap
    (as above), the remaining cap is 400,000.00 − 399,500.00 = 500.00 → fund 500.00, personal 2,940.00 − 500.00 =
    2,440.00."""
    s = rx.setup()
    admin = api_as(f.bureau_admin("640500"))
    bad = admin.post("/api/v1/imports/other_fund_use/", {"file": _xlsx([
        (s.person.id_number, "2026-10", "399500.00"), ("640502199001011236", "2026-10", "10.00"),
        (s.person.id_number[:-1] + "X", "2026-10", "-5")])}, format="multipart")
    assert bad.status_code == 400, bad.content
    cells = {(e["row"], e["column"]) for e in bad.json()["errors"]}
    assert (3, "身份证号") in cells and (4, "基金支付金额") in cells
    assert OtherFundUse.objects.count() == 0
    good = admin.post("/api/v1/imports/other_fund_use/", {"file": _xlsx([(s.person.id_number, "2026-10", "399500.00")])},
                      format="multipart")
    assert good.status_code == 201, good.content
    assert OtherFundUse.objects.get().amount == D("399500.00")
    again = admin.post("/api/v1/imports/other_fund_use/", {"file": _xlsx([(s.person.id_number, "2026-10", "399500.00")])},
                       format="multipart")
    assert again.status_code == 201 and again.json()["unchanged"] == 1 and again.json()["created"] == 0
    pid = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(), format="json").json()["id"]
    quote = api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/quote/", rx.dispense_body(s.drug, 3, "980.00"),
                                      format="json")
    assert quote.status_code == 200, quote.content
    assert (quote.json()["settlement"]["fund_payment"], quote.json()["settlement"]["personal_payment"]) == (
        "500.00", "2440.00")
    # a hospital cannot import
    assert api_as(s.hospital).post("/api/v1/imports/other_fund_use/", {"file": _xlsx([])},
                                   format="multipart").status_code == 403


def test_r_pay_6_browser_entry_and_beyond_cap_page(api_as, client):
    """In the browser Zhongwei's administrator enters 399,000.00 for 2026-10 on the patient's year page (remaining cap
    400,000.00 − 399,000.00 = 1,000.00 shown); after the same dispensing as above the beyond-cap page lists the
    patient with 609.50."""
    from django.test import Client

    s = rx.setup()
    browser = Client()
    browser.force_login(f.bureau_admin("640500"))
    browser.post(f"/prescriptions/usage/{s.person.pk}/other-fund/", {"period": "2026-10", "amount": "399000.00"})
    assert OtherFundUse.objects.get(person=s.person).amount == D("399000.00")
    html = browser.get(f"/prescriptions/usage/{s.person.pk}/?year=2026").content.decode()
    assert "399,000.00" in html and "1,000.00" in html
    assert _dispense(api_as, s).json()["settlement"]["fund_payment"] == "1000.00"
    page = browser.get("/prescriptions/beyond-cap/?year=2026").content.decode()
    assert s.person.name in page and "609.50" in page
    # Changsha's bureau cannot enter it for a Zhongwei patient (404: not among its insured persons)
    other = Client()
    other.force_login(f.bureau_admin("430100"))
    assert other.post(f"/prescriptions/usage/{s.person.pk}/other-fund/",
                      {"period": "2026-09", "amount": "1.00"}).status_code == 404
    assert OtherFundUse.objects.count() == 1


def test_r_pay_3_other_fund_use_hot_sql_matches_the_selector():
    """Parity (STYLE.md): the dispensing hot path's hand SQL (read under the accumulator's lock) and the ORM selector
    the quote uses give the same other fund use: 2026-01 100.10 + 2026-02 200.25 = 300.35; 2025 not counted."""
    from django.db import transaction
    from django.utils import timezone

    from apps.applications.selectors import other_fund_paid
    from apps.prescriptions.sql_reads import locked_year_usage

    s = rx.setup()
    admin = f.bureau_admin("640500")
    for year, month, amount in ((2026, 1, "100.10"), (2026, 2, "200.25"), (2025, 12, "999.00")):
        OtherFundUse.objects.create(person=s.person, year=year, month=month, amount=D(amount), source="manual",
                                    recorded_by=admin, recorded_at=timezone.now())
    with transaction.atomic():
        hot = locked_year_usage(person_id=s.person.pk, year=2026, now=timezone.now()).other_fund_paid
    assert hot == other_fund_paid(person_id=s.person.pk, year=2026) == D("300.35")
