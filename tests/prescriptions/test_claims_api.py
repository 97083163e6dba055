"""R-PAY-5 over REST (bureau users): manual claims (手工报销) with several invoice lines computed by the R-PAY-3
engine, cross-region filings (异地就医备案); roles (403) and region scoping (404). Also the multi-line browser form."""
import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from apps.core.events import Event
from apps.prescriptions import engine
from apps.prescriptions.models import CrossRegionFiling, ManualClaim, PatientYearUsage
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


@pytest.fixture
def claim_setup():
    """An employee insured in 640502 (zhongwei-2021: deductible 500, 75 %), two listed drugs."""
    s = rx.setup()  # drug A: standard 1000.00, first self-pay 10 %
    s.drug_b = f.DrugFactory(payment_standard=D("333.33"), first_self_pay_ratio=D("0.1500"))
    s.bureau = f.bureau_admin("640500")
    return s


def claim_body(s, **extra) -> dict:
    body = {"id_number": s.person.id_number, "invoice_no": "FP-2026-001", "invoice_date": str(timezone.localdate()),
            "provider_name": "北京协和医院", "care_setting": "outpatient",
            "lines": [{"drug_code": s.drug.code, "quantity": 3, "unit_price": "980.00"},
                      {"drug_code": s.drug_b.code, "quantity": 7, "unit_price": "350.00"}]}
    body.update(extra)
    return body


def _nothing_written(s):
    assert ManualClaim.objects.count() == 0
    assert not PatientYearUsage.objects.filter(person=s.person, fund_paid__gt=0).exists()
    assert not Event.objects.filter(action="manual_claim_recorded").exists()


def test_r_pay_5_two_line_manual_claim_computed_by_engine_to_the_fen(api_as, claim_setup):
    s = claim_setup
    r = api_as(s.bureau).post("/api/v1/manual-claims/", claim_body(s), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    # line A: 3 × 980.00 = 2940.00, first self-pay 294.00, in scope 2646.00
    # line B: invoice 350.00 above the standard 333.33 → settled at 333.33 (就低): 7 × 333.33 = 2333.31,
    #         first self-pay 2333.31 × 0.15 = 349.9965 → 350.00, in scope 1983.31
    # total 5273.31, in scope 4629.31, deductible 500.00, fund (4129.31 × 0.75 = 3096.9825) → 3096.98
    assert body["settlement"] == {"total": "5273.31", "first_self_pay": "644.00", "in_scope": "4629.31",
                                  "deductible": "500.00", "fund_payment": "3096.98", "personal_payment": "2176.33"}
    expected = engine.settle(lines=[engine.LineInput(3, D("980.00"), D("0.1000")),
                                    engine.LineInput(7, D("333.33"), D("0.1500"))],
                             terms=engine.PolicyTerms(D("500.00"), D("0.7500"), D("400000.00")),
                             usage=engine.YearUsage())
    assert {k: str(v) for k, v in expected.figures().items()} == body["settlement"]
    a, b = body["lines"]
    assert (a["drug_code"], a["quantity"], a["unit_price"], a["line_total"]) == (s.drug.code, 3, "980.00", "2940.00")
    assert (b["invoice_unit_price"], b["unit_price"], b["payment_standard"], b["first_self_pay_ratio"]) == \
        ("350.00", "333.33", "333.33", "0.1500")
    assert [a["fund_payment"], b["fund_payment"]] == [str(l.fund_payment) for l in expected.lines]
    assert D(a["fund_payment"]) + D(b["fund_payment"]) == D("3096.98")
    assert body["deductible_met_before"] == "0.00" and body["patient"]["id_number"] != s.person.id_number
    claim = ManualClaim.objects.get()
    assert (claim.total, claim.fund_payment, claim.personal_payment) == (D("5273.31"), D("3096.98"), D("2176.33"))
    usage = PatientYearUsage.objects.get(person=s.person)
    assert (usage.deductible_met, usage.fund_paid) == (D("500.00"), D("3096.98"))

    detail = api_as(s.bureau).get(f"/api/v1/manual-claims/{claim.pk}/")
    assert detail.status_code == 200 and detail.json() == body
    listed = api_as(s.bureau).get("/api/v1/manual-claims/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == claim.pk


def test_r_pay_5_manual_claim_second_claim_starts_from_year_usage(api_as, claim_setup):
    s = claim_setup
    api_as(s.bureau).post("/api/v1/manual-claims/", claim_body(s), format="json")
    r = api_as(s.bureau).post("/api/v1/manual-claims/", claim_body(s, invoice_no="FP-2026-002", lines=[
        {"drug_code": s.drug.code, "quantity": 1, "unit_price": "1000.00"}]), format="json")
    assert r.status_code == 201, r.content
    # deductible already met: 900.00 in scope × 0.75 = 675.00
    assert r.json()["settlement"]["deductible"] == "0.00"
    assert r.json()["settlement"]["fund_payment"] == "675.00"
    assert r.json()["deductible_met_before"] == "500.00" and r.json()["fund_paid_before"] == "3096.98"


@pytest.mark.parametrize("change, code, field", [
    ({"lines": [{"drug_code": "XUNKNOWN000000000000000", "quantity": 1, "unit_price": "10.00"}]},
     "drug_not_listed", "lines.0.drug_code"),
    ({"lines": []}, "invalid", "lines"),
    ({"lines": [{"quantity": -1, "unit_price": "980.00"}]}, "invalid", "lines.0.quantity"),
    ({"invoice_date": "2099-01-01"}, "invalid", "invoice_date"),
    ({"id_number": "110101199001011234"}, "invalid", "id_number"),
])
def test_r_pay_5_manual_claim_bad_input_400_and_nothing_written(api_as, claim_setup, change, code, field):
    s = claim_setup
    body = claim_body(s, **change)
    if field == "lines.0.quantity":
        body["lines"][0]["drug_code"] = s.drug.code
    r = api_as(s.bureau).post("/api/v1/manual-claims/", body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == code and r.json()["detail"]
    assert any(k == field or k.startswith(field + ".") for k in r.json()["fields"]), r.json()
    _nothing_written(s)


def test_r_pay_5_manual_claim_bad_second_line_writes_nothing(api_as, claim_setup):
    s = claim_setup
    body = claim_body(s)
    body["lines"][1]["drug_code"] = "XUNKNOWN000000000000000"
    r = api_as(s.bureau).post("/api/v1/manual-claims/", body, format="json")
    assert r.status_code == 400 and r.json()["code"] == "drug_not_listed"
    assert "lines.1.drug_code" in r.json()["fields"]
    _nothing_written(s)


def test_r_pay_5_manual_claim_every_bad_line_reported_at_once(api_as, claim_setup):
    s = claim_setup
    body = claim_body(s, lines=[{"drug_code": "XUNKNOWN000000000000001", "quantity": 1, "unit_price": "10.00"},
                                {"drug_code": s.drug.code, "quantity": 1, "unit_price": "10.00"},
                                {"drug_code": "XUNKNOWN000000000000002", "quantity": 1, "unit_price": "10.00"}])
    r = api_as(s.bureau).post("/api/v1/manual-claims/", body, format="json")
    assert r.status_code == 400 and r.json()["code"] == "drug_not_listed"
    assert set(r.json()["fields"]) == {"lines.0.drug_code", "lines.2.drug_code"}
    _nothing_written(s)


def test_r_pay_5_manual_claim_duplicate_invoice_409(api_as, claim_setup):
    s = claim_setup
    assert api_as(s.bureau).post("/api/v1/manual-claims/", claim_body(s), format="json").status_code == 201
    r = api_as(s.bureau).post("/api/v1/manual-claims/", claim_body(s), format="json")
    assert r.status_code == 409 and r.json()["code"] == "duplicate_claim"
    assert ManualClaim.objects.count() == 1
    assert PatientYearUsage.objects.get(person=s.person).fund_paid == D("3096.98")


def test_r_pay_5_manual_claims_pharmacy_and_hospital_users_403(api_as, claim_setup):
    s = claim_setup
    for user in (s.pharmacist, s.hospital):
        client = api_as(user)
        r = client.post("/api/v1/manual-claims/", claim_body(s), format="json")
        assert r.status_code == 403 and r.json()["code"] == "permission_denied"
        assert client.get("/api/v1/manual-claims/").status_code == 403
        assert client.get("/api/v1/cross-region-filings/").status_code == 403
    _nothing_written(s)


def test_r_pay_5_manual_claim_other_region_bureau_404(api_as, claim_setup, changsha):
    s = claim_setup
    claim_id = api_as(s.bureau).post("/api/v1/manual-claims/", claim_body(s), format="json").json()["id"]
    other = api_as(f.bureau_admin("430100"))
    r = other.get(f"/api/v1/manual-claims/{claim_id}/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert other.get("/api/v1/manual-claims/").json()["count"] == 0
    # nor may it claim for a person insured in Zhongwei
    r = other.post("/api/v1/manual-claims/", claim_body(s, invoice_no="FP-X"), format="json")
    assert r.status_code == 400 and "id_number" in r.json()["fields"]
    assert ManualClaim.objects.count() == 1


@pytest.fixture
def hunan_patient(changsha):
    s = rx.setup(insurance_type="resident")
    s.person.insured_region = f.region("430102")
    s.person.save()
    return s


def filing_body(s, **extra) -> dict:
    body = {"id_number": s.person.id_number, "treatment_region": "640500", "filing_no": "YD-API-1",
            "valid_from": "2026-01-01", "valid_until": "2026-12-31", "direct_settlement": False}
    body.update(extra)
    return body


def test_r_pay_5_cross_region_filing_create_list_detail(api_as, hunan_patient):
    s = hunan_patient
    bureau = api_as(f.bureau_admin("430100"))  # the insured region's bureau grants it (R-PAY-5)
    r = bureau.post("/api/v1/cross-region-filings/", filing_body(s), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["filing_no"], body["insured_region"], body["treatment_region"]) == ("YD-API-1", "430102", "640500")
    assert (body["valid_from"], body["valid_until"], body["direct_settlement"]) == ("2026-01-01", "2026-12-31", False)
    filing = CrossRegionFiling.objects.get()
    assert filing.recorded_by.region.code == "430100" and not filing.direct_settlement
    # the treatment region's bureau sees it too
    assert api_as(f.bureau_admin("640500")).get(f"/api/v1/cross-region-filings/{filing.pk}/").json() == body
    listed = bureau.get("/api/v1/cross-region-filings/").json()
    assert listed["count"] == 1 and listed["results"][0] == body
    assert bureau.get(f"/api/v1/cross-region-filings/{filing.pk}/").json() == body
    # a bureau of neither the insured nor the treatment region: 404
    other = api_as(f.bureau_admin("640300"))
    assert other.get(f"/api/v1/cross-region-filings/{filing.pk}/").status_code == 404
    assert other.get("/api/v1/cross-region-filings/").json()["count"] == 0


@pytest.mark.parametrize("change, field", [
    ({"treatment_region": "430100"}, "treatment_region"),  # the insured pooling region itself
    ({"valid_until": "2025-12-31"}, "valid_until"),
    ({"filing_no": ""}, "filing_no"),
])
def test_r_pay_5_cross_region_filing_bad_input_400_nothing_written(api_as, hunan_patient, change, field):
    r = api_as(f.bureau_admin("430100")).post("/api/v1/cross-region-filings/", filing_body(hunan_patient, **change),
                                              format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "invalid" and field in r.json()["fields"]
    assert CrossRegionFiling.objects.count() == 0


def test_r_pay_5_cross_region_filing_same_region_refused(api_as, claim_setup):
    s = claim_setup  # insured in 640502, treated in 640500: same pooling region
    r = api_as(s.bureau).post("/api/v1/cross-region-filings/", filing_body(s), format="json")
    assert r.status_code == 400 and "treatment_region" in r.json()["fields"]
    assert CrossRegionFiling.objects.count() == 0


def test_r_pay_5_filing_then_dispensing_paid_under_insured_region_policy(api_as, hunan_patient):
    s = hunan_patient
    body = filing_body(s, direct_settlement=True, valid_until=None)
    assert api_as(f.bureau_admin("430100")).post("/api/v1/cross-region-filings/", body, format="json").status_code == 201
    pid = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(quantity=2), format="json").json()["id"]
    r = api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/dispense/", rx.dispense_body(s.drug, 2, "1000.00"),
                                  format="json")
    assert r.status_code == 201, r.content
    assert r.json()["settlement_mode"] == "direct" and r.json()["settlement"]["fund_payment"] == "1080.00"


def test_schema_documents_claim_endpoints(api):
    r = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = r.json()["paths"] if r["Content-Type"].startswith("application/json") else r.content.decode()
    for path in ("/api/v1/manual-claims/", "/api/v1/manual-claims/{id}/", "/api/v1/cross-region-filings/",
                 "/api/v1/cross-region-filings/{id}/"):
        assert path in paths


# --- browser form with several invoice lines ---------------------------------------------------------------------

def _form(s, rows, **extra) -> dict:
    data = {"id_number": s.person.id_number, "invoice_no": "FP-WEB-1", "invoice_date": str(timezone.localdate()),
            "provider_name": "北京协和医院", "care_setting": "outpatient",
            "lines-TOTAL_FORMS": "5", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "20"}
    for i in range(5):
        code, qty, price = rows[i] if i < len(rows) else ("", "", "")
        data.update({f"lines-{i}-drug_code": code, f"lines-{i}-quantity": qty, f"lines-{i}-unit_price": price})
    data.update(extra)
    return data


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def test_r_pay_5_browser_manual_claim_with_two_lines(claim_setup):
    s = claim_setup
    c = _client(s.bureau)
    page = c.get("/prescriptions/claims/").content.decode()
    assert page.count('name="lines-') >= 15 and 'name="lines-TOTAL_FORMS"' in page
    # lines in rows 1 and 4, the others blank (ignored)
    rows = [("", "", ""), (s.drug.code, "3", "980.00"), ("", "", ""), (s.drug_b.code.lower(), "7", "350.00")]
    r = c.post("/prescriptions/claims/", _form(s, rows))
    assert r.status_code == 302, r.content.decode()[-2000:]
    claim = ManualClaim.objects.get()
    assert (claim.total, claim.deductible, claim.fund_payment, claim.personal_payment) == \
        (D("5273.31"), D("500.00"), D("3096.98"), D("2176.33"))
    assert [(l["drug_code"], l["quantity"], l["unit_price"]) for l in claim.lines] == \
        [(s.drug.code, 3, "980.00"), (s.drug_b.code, 7, "333.33")]
    assert PatientYearUsage.objects.get(person=s.person).fund_paid == D("3096.98")


@pytest.mark.parametrize("rows, message", [
    ([], "请至少填写一行发票明细"),
    ([(None, "3", "980.00"), ("XUNKNOWN000000000000000", "1", "10.00")], "不在目录内"),
    ([(None, "-3", "980.00")], "确保该值大于或等于1"),
    ([(None, "3", "")], "该字段是必填项"),
])
def test_r_pay_5_browser_manual_claim_bad_lines_show_errors_nothing_written(claim_setup, rows, message):
    s = claim_setup
    rows = [(s.drug.code if code is None else code, q, p) for code, q, p in rows]
    r = _client(s.bureau).post("/prescriptions/claims/", _form(s, rows))
    assert r.status_code == 200
    assert message in r.content.decode()
    _nothing_written(s)


def test_r_pay_5_browser_manual_claim_error_shown_on_its_row(claim_setup):
    s = claim_setup
    rows = [(s.drug.code, "3", "980.00"), ("", "", ""), ("XUNKNOWN000000000000002", "1", "10.00")]
    r = _client(s.bureau).post("/prescriptions/claims/", _form(s, rows))
    assert r.status_code == 200
    row_errors = [form.errors for form in r.context["lines"].forms]
    assert not row_errors[0] and not row_errors[1] and "drug_code" in row_errors[2]
    # the entered values are kept for correction
    assert 'value="XUNKNOWN000000000000002"' in r.content.decode()
    _nothing_written(s)


def test_r_pay_5_browser_manual_claim_pharmacy_403(claim_setup):
    assert _client(claim_setup.pharmacist).get("/prescriptions/claims/").status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r_pay_5_browser_two_line_claim_in_chromium(login_page, live_server):
    rx.ensure_areas()
    s = rx.setup()
    drug_b = f.DrugFactory(payment_standard=D("333.33"), first_self_pay_ratio=D("0.1500"))
    bureau = f.bureau_admin("640500")
    page = login_page(bureau.username)
    page.goto(f"{live_server.url}/prescriptions/claims/")
    page.fill("input[name=id_number]", s.person.id_number)
    page.fill("input[name=invoice_no]", "FP-CHROME-1")
    page.fill("input[name=invoice_date]", str(timezone.localdate()))
    page.fill("input[name=provider_name]", "北京协和医院")
    page.fill("input[name=lines-0-drug_code]", s.drug.code)
    page.fill("input[name=lines-0-quantity]", "3")
    page.fill("input[name=lines-0-unit_price]", "980.00")
    page.fill("input[name=lines-1-drug_code]", drug_b.code)
    page.fill("input[name=lines-1-quantity]", "7")
    page.fill("input[name=lines-1-unit_price]", "350.00")
    page.click("button:has-text('登记并计算')")
    page.wait_for_load_state()
    assert f"/prescriptions/usage/{s.person.pk}/" in page.url
    assert "3,096.98" in page.content()
    claim = ManualClaim.objects.get()
    assert (claim.total, claim.fund_payment) == (D("5273.31"), D("3096.98"))
