"""REST of section 10 (API.md revision 2) and its tenancy (R-SEC-1: another organisation's rows are 404)."""
import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from rest_framework.test import APIClient

from apps.procurement import services
from apps.procurement.models import Purchase
from tests import factories as f
from tests.procurement import factories as pf

pytestmark = pytest.mark.django_db
SH = zoneinfo.ZoneInfo("Asia/Shanghai")
APRIL_10 = dt.datetime(2026, 4, 10, 9, 0, tzinfo=SH)


def client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def world():
    """Zhongwei: round R4 with V001 at 10.00 agreed 600 for A (H640500001) and 400 for B (H640500002) in 2026
    (base 2,000 × 50 % = 1,000 split 3 : 2). Changsha: its own bureau and hospital."""
    a = f.InstitutionFactory(code="H640500001", name="中卫市人民医院")
    b = f.InstitutionFactory(code="H640500002", name="中宁县人民医院")
    cs = f.InstitutionFactory(code="H430100001", name="湘雅医院", region=f.region("430105"))
    p = pf.product(pf.round_(), code="V001", firms=["甲"], price="10.00")
    pf.bases(p, 2000, {a: 3, b: 2})
    services.contract_decompose(product=p, cycle_year=1, actor=None)
    pf.purchase(institution=a, product_obj=p, quantity=150, on=dt.date(2026, 2, 1), invoice_no="FA1")
    pf.purchase(institution=b, product_obj=p, quantity=20, on=dt.date(2026, 3, 1), invoice_no="FB1")
    return {
        "a": a, "b": b, "product": p,
        "bureau": f.bureau_admin(), "bureau_cs": f.bureau_admin("430100"),
        "hospital_a": f.hospital_user(a), "hospital_b": f.hospital_user(b), "hospital_cs": f.hospital_user(cs),
        "pharmacy": f.pharmacy_user(),
    }


def test_rounds_for_bureau_its_region_and_for_the_institution_its_own(world):
    body = client(world["bureau"]).get("/api/v1/procurement/rounds/").json()
    assert body["count"] == 1
    product = body["results"][0]["products"][0]
    assert (product["code"], product["winning_price"], product["cycle_years"], product["cycle_end"]) == (
        "V001", "10.00", 1, "2026-12-31")
    assert client(world["hospital_a"]).get("/api/v1/procurement/rounds/").json()["count"] == 1
    assert client(world["bureau_cs"]).get("/api/v1/procurement/rounds/").json()["count"] == 0
    assert client(world["hospital_cs"]).get("/api/v1/procurement/rounds/").json()["count"] == 0
    assert client(world["pharmacy"]).get("/api/v1/procurement/rounds/").status_code == 403


@time_machine.travel(APRIL_10, tick=False)
def test_r_vbp_2_agreements_of_an_institution_with_completion(world):
    """A: agreed 600, 150 bought → completion 0.2500."""
    body = client(world["hospital_a"]).get("/api/v1/procurement/agreements/?institution=H640500001&year=2026").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["agreed_volume"], row["purchased"], row["completion"], row["institution"]["code"]) == (
        600, 150, "0.2500", "H640500001")
    bureau = client(world["bureau"]).get("/api/v1/procurement/agreements/?year=2026").json()
    assert sorted((r["institution"]["code"], r["agreed_volume"]) for r in bureau["results"]) == [
        ("H640500001", 600), ("H640500002", 400)]
    assert client(world["bureau"]).get("/api/v1/procurement/agreements/?year=2027").json()["count"] == 0
    assert client(world["bureau"]).get("/api/v1/procurement/agreements/?year=abc").json()["code"] == "invalid"


def test_r_sec_1_agreements_of_another_institution_or_region_are_404(world):
    other = client(world["hospital_a"]).get("/api/v1/procurement/agreements/?institution=H640500002")
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    assert client(world["bureau_cs"]).get("/api/v1/procurement/agreements/?institution=H640500001").status_code == 404
    own_only = client(world["hospital_a"]).get("/api/v1/procurement/agreements/").json()
    assert [r["institution"]["code"] for r in own_only["results"]] == ["H640500001"]
    assert client(world["bureau_cs"]).get("/api/v1/procurement/agreements/").json()["count"] == 0
    assert client(world["hospital_a"]).get("/api/v1/procurement/repayments/?institution=H640500002").status_code == 404


@time_machine.travel(APRIL_10, tick=False)
def test_r_vbp_5_repayments_overdue_with_days_and_tenancy(world):
    """FA1 (2026-02-01, 1,500.00) was due 03-03 and is unpaid on 04-10 → 38 days overdue; FB1 (03-01, 200.00)
    due 03-31 was repaid on 03-31 → on time, not listed as overdue."""
    services.repayment_record(purchase=Purchase.objects.get(invoice_no="FB1"), amount=Decimal("200.00"),
                              paid_on=dt.date(2026, 3, 31), actor=world["bureau"])
    body = client(world["bureau"]).get("/api/v1/procurement/repayments/?overdue=true").json()
    assert [(r["invoice_no"], r["days_overdue"], r["outstanding"], r["status"]) for r in body["results"]] == [
        ("FA1", 38, "1500.00", "overdue")]
    everything = {r["invoice_no"]: r for r in client(world["bureau"]).get("/api/v1/procurement/repayments/").json()["results"]}
    assert (everything["FB1"]["status"], everything["FB1"]["paid_on"], everything["FB1"]["days_overdue"]) == (
        "paid", "2026-03-31", 0)
    assert client(world["hospital_b"]).get("/api/v1/procurement/repayments/?overdue=true").json()["count"] == 0
    assert client(world["hospital_a"]).get("/api/v1/procurement/repayments/?overdue=true").json()["count"] == 1
    assert client(world["bureau_cs"]).get("/api/v1/procurement/repayments/").json()["count"] == 0


@time_machine.travel(APRIL_10, tick=False)
def test_r_vbp_5_repayment_recorded_through_the_api(world):
    c = client(world["bureau"])
    too_much = c.post("/api/v1/procurement/repayments/",
                      {"invoice_no": "FA1", "amount": "1500.01", "paid_on": "2026-04-09"}, format="json")
    assert too_much.status_code == 400 and too_much.json()["code"] == "repayment_exceeds_invoice"
    ok = c.post("/api/v1/procurement/repayments/",
                {"invoice_no": "FA1", "amount": "1500.00", "paid_on": "2026-04-09"}, format="json")
    assert ok.status_code == 201
    assert (ok.json()["status"], ok.json()["days_overdue"]) == ("paid_late", 37)
    assert client(world["bureau_cs"]).post("/api/v1/procurement/repayments/", {
        "invoice_no": "FB1", "amount": "1.00", "paid_on": "2026-04-09"}, format="json").status_code == 404
    assert client(world["hospital_a"]).post("/api/v1/procurement/repayments/", {
        "invoice_no": "FA1", "amount": "1.00", "paid_on": "2026-04-09"}, format="json").status_code == 403


def _xlsx(rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["医疗机构编码", "品种编码", "生产企业", "数量", "金额", "发票号", "发票日期"])
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "采购.xlsx"
    return out


def test_r_vbp_3_purchase_import_endpoint(world):
    c = client(world["bureau"])
    bad = c.post("/api/v1/procurement/purchases/imports/", {"file": _xlsx([
        ("H640500001", "V001", "甲", 5, "50.00", "FA2", "2026-04-01"),
        ("H640500001", "V001", "甲", -1, "10.00", "FA3", "2026-04-01")]), "dry_run": "false"}, format="multipart")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_import"
    assert [(e["row"], e["column"]) for e in bad.json()["errors"]] == [(3, "数量")]
    good = [("H640500001", "V001", "甲", 5, "50.00", "FA2", "2026-04-01")]
    preview = c.post("/api/v1/procurement/purchases/imports/", {"file": _xlsx(good), "dry_run": "true"},
                     format="multipart")
    assert preview.status_code == 200 and preview.json()["created"] == 1
    assert not Purchase.objects.filter(invoice_no="FA2").exists()
    done = c.post("/api/v1/procurement/purchases/imports/", {"file": _xlsx(good)}, format="multipart")
    assert done.status_code == 201 and Purchase.objects.filter(invoice_no="FA2").exists()
    assert client(world["hospital_a"]).post("/api/v1/procurement/purchases/imports/", {"file": _xlsx(good)},
                                            format="multipart").status_code == 403
    # another region's bureau does not know the variety or the institution
    other = client(f.bureau_admin("430100")).post("/api/v1/procurement/purchases/imports/", {"file": _xlsx(
        [("H640500001", "V001", "甲", 5, "50.00", "FA9", "2026-04-01")])}, format="multipart")
    assert sorted(e["column"] for e in other.json()["errors"]) == ["医疗机构编码", "品种编码"]
