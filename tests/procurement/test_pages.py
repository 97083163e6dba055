"""Browser pages of section 10 (Django test client): figures on the pages, the Excel export, and tenancy."""
import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.test import Client

from apps.procurement import services
from apps.procurement.models import FundEntry, LinkedStandard
from tests import factories as f
from tests.procurement import factories as pf

pytestmark = pytest.mark.django_db
APRIL_10 = dt.datetime(2026, 4, 10, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


def browser(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def world():
    """A agreed 600, B 400 of V001 (10.00) from 2026-01-01. By 31 March (pace 25 %): A bought 150 (25 %),
    B 20 (5 %, 20 points behind → alert)."""
    a = f.InstitutionFactory(code="H640500001", name="中卫市人民医院")
    b = f.InstitutionFactory(code="H640500002", name="中宁县人民医院")
    p = pf.product(pf.round_(), code="V001", generic_name="阿托伐他汀钙", firms=["甲"], price="10.00")
    pf.bases(p, 2000, {a: 3, b: 2})
    services.contract_decompose(product=p, cycle_year=1, actor=None)
    pf.purchase(institution=a, product_obj=p, quantity=150, on=dt.date(2026, 2, 1), invoice_no="FA1")
    pf.purchase(institution=b, product_obj=p, quantity=20, on=dt.date(2026, 3, 1), invoice_no="FB1")
    return {"a": a, "b": b, "product": p, "admin": f.bureau_admin(), "hospital_a": f.hospital_user(a)}


def test_r_vbp_3_completion_page_table_chart_and_excel(world):
    c = browser(world["admin"])
    page = c.get("/procurement/completion/?month=2026-03")
    assert page.status_code == 200
    html = page.content.decode()
    assert "中卫市人民医院" in html and "completion-data" in html and "25%" in html
    rows = {r["institution"].code: r for r in page.context["rows"]}
    assert rows["H640500002"]["completion"] == Decimal("0.0500") and rows["H640500002"]["behind_pace"]
    export = c.get("/procurement/completion/?month=2026-03&format=xlsx")
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    assert sheet["A2"].value == "医疗机构编码"
    values = {sheet.cell(row=r, column=1).value: (sheet.cell(row=r, column=8).value, sheet.cell(row=r, column=9).value)
              for r in (3, 4)}
    assert values == {"H640500001": (600, 150), "H640500002": (400, 20)}


def test_r_vbp_3_pace_alerts_list_the_institution_behind(world):
    page = browser(world["admin"]).get("/procurement/pace/?month=2026-03")
    assert [r["institution"].code for r in page.context["behind"]] == ["H640500002"]
    assert "中宁县人民医院" in page.content.decode()


@time_machine.travel(APRIL_10, tick=False)
def test_r_vbp_5_overdue_page_and_recording_a_repayment(world):
    """FA1 (02-01, due 03-03) 38 days overdue on 04-10, FB1 (03-01, due 03-31) 10 days; FA1 repaid → FB1 left."""
    c = browser(world["admin"])
    page = c.get("/procurement/repayments/")
    assert [(i.invoice_no, days) for i, days in page.context["overdue"]] == [("FA1", 38), ("FB1", 10)]
    response = c.post("/procurement/repayments/", {"invoice_no": "FA1", "amount": "1500.00", "paid_on": "2026-04-10"})
    assert response.status_code == 302
    assert [i.invoice_no for i, _ in c.get("/procurement/repayments/").context["overdue"]] == ["FB1"]


def test_r_vbp_4_fund_page_refuses_a_small_advance(world):
    """Annual agreed amount 1,000 × 10.00 = 10,000.00: an advance of 4,999.99 is refused, 5,000.00 recorded."""
    c = browser(world["admin"])
    c.post("/procurement/fund/", {"action": "advance", "amount": "4999.99", "occurred_on": "2026-01-05",
                                  "cycle_year": 1})
    assert not FundEntry.objects.exists()
    c.post("/procurement/fund/", {"action": "advance", "amount": "5000.00", "occurred_on": "2026-01-05",
                                  "cycle_year": 1})
    page = c.get("/procurement/fund/")
    assert page.context["statement"]["balance"] == Decimal("5000.00")


def test_r_vbp_6_product_page_previews_then_applies(world):
    drug = f.DrugFactory(generic_name="阿托伐他汀钙", dosage_form="片剂", payment_standard=Decimal("30.00"),
                         agreement_start=dt.date(2025, 1, 1))
    assert not browser(world["admin"]).get(f"/procurement/products/{world['product'].pk}/").context["may_link"]
    c = browser(f.bureau_admin(is_superuser=True))  # payment standards are shared: a system-wide role links them
    page = c.get(f"/procurement/products/{world['product'].pk}/")
    assert [r["code"] for r in page.context["plan"]] == [drug.code]
    response = c.post(f"/procurement/products/{world['product'].pk}/payment-standard/", follow=True)
    assert [str(m) for m in response.context["messages"]] == ["中选价格已作为支付标准新版本，自执行日期起生效"]
    assert LinkedStandard.objects.get().drug == drug


def test_r_sec_1_pages_are_scoped(world):
    other_bureau = browser(f.bureau_admin("430100"))
    assert other_bureau.get(f"/procurement/products/{world['product'].pk}/").status_code == 404
    assert other_bureau.get("/procurement/completion/?month=2026-03").context["rows"] == []
    hospital = browser(world["hospital_a"])
    assert hospital.get("/procurement/completion/").status_code == 403
    mine = hospital.get("/procurement/mine/")
    assert [a.institution.code for a, _ in mine.context["agreements"]] == ["H640500001"]
    assert [i.invoice_no for i, *_ in mine.context["invoices"]] == ["FA1"]
    assert browser(f.pharmacy_user()).get("/procurement/mine/").status_code == 403


def test_pages_in_english_when_chosen(world):
    from django.conf import settings

    c = browser(world["admin"])
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = c.get("/procurement/pace/?month=2026-03").content.decode()
    assert "Behind the even pace" in html and "落后于均衡进度" not in html
    assert "进度预警" in browser(world["admin"]).get("/procurement/pace/?month=2026-03").content.decode()
