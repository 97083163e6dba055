"""Browser screens of settlement (server-rendered, Django test client): R-SET-1..4, R-STK-1..4."""
import datetime as dt
from decimal import Decimal
from io import BytesIO

import pytest
from django.test import Client
from openpyxl import load_workbook

from apps.settlement import services
from apps.settlement.models import SettlementRun, Statement
from apps.settlement.periods import label, period_of, previous_period
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def last_month(zhongwei):
    from django.utils import timezone

    period = previous_period(period_of(timezone.localdate()))
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, quantity=3, deductible="500.00", period=period)  # fund 1609.50
    return {"period": period, "pharmacy": pharmacy}


def test_r_set_4_admin_starts_a_run_in_the_browser_and_sees_its_progress(last_month, django_capture_on_commit_callbacks):
    admin = f.bureau_admin()
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/settlement/runs/", {"period": label(last_month["period"])})
    run = SettlementRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/settlement/runs/{run.pk}/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "progressbar" in page.content.decode()
    statement = Statement.objects.get(pharmacy=last_month["pharmacy"])
    assert statement.payable == Decimal("1529.02")  # 1609.50 − 80.475→80.48
    listing = client.get(f"/settlement/statements/?period={label(last_month['period'])}").content.decode()
    assert last_month["pharmacy"].name in listing and "1,529.02" in listing


def test_r_set_4_browser_run_refusal_shows_a_message(last_month):
    client = login(f.bureau_admin())
    response = client.post("/settlement/runs/", {"period": "2099-01"}, follow=True)
    assert "尚未开始" in response.content.decode()
    assert not SettlementRun.objects.exists()
    assert login(f.reviewer()).post("/settlement/runs/", {"period": "2026-10"}).status_code == 403


def test_r_set_1_confirm_in_the_browser_and_statements_excel(last_month):
    services.settlement_run_now(period=last_month["period"], clock=sf.clock)
    statement = Statement.objects.get()
    client = login(f.bureau_admin())
    client.post(f"/settlement/statements/{statement.pk}/confirm/")
    statement.refresh_from_db()
    assert statement.status == "confirmed"
    response = client.get(f"/settlement/statements/?period={label(last_month['period'])}&format=xlsx")
    ws = load_workbook(BytesIO(response.content)).active
    assert ws["A1"].value.endswith("月度结算汇总")
    assert ws["C3"].value == last_month["pharmacy"].name
    assert Decimal(str(ws["I3"].value)) == Decimal("1529.02") and ws["J3"].value == "已确认"


def test_r_set_3_monthly_page_and_excel_download(last_month):
    client = login(f.bureau_admin())
    page = client.get(f"/settlement/monthly/?period={label(last_month['period'])}").content.decode()
    assert "1,609.50" in page and "vendor/chart.umd.min.js" in page
    response = client.get(f"/settlement/monthly/?period={label(last_month['period'])}&format=xlsx")
    assert response.status_code == 200
    wb = load_workbook(BytesIO(response.content))
    assert Decimal(str(wb["汇总"]["D3"].value)) == Decimal("1609.50")
    bad = client.get("/settlement/monthly/?period=bad", follow=True).content.decode()
    assert "YYYY-MM" in bad


def test_r_set_3_dashboard_shows_month_figures_for_the_bureau_only(last_month):
    page = login(f.bureau_admin()).get("/settlement/dashboard/")
    assert page.status_code == 200
    assert "1,609.50" in page.content.decode()
    assert login(f.hospital_user()).get("/settlement/dashboard/").status_code == 403


def test_r_set_2_reconciliation_page_for_bureau_and_pharmacy(last_month):
    period = label(last_month["period"])
    admin = login(f.bureau_admin())
    admin.post("/settlement/reconciliation/run/", {"period": period})
    page = admin.get(f"/settlement/reconciliation/?period={period}").content.decode()
    assert "销售量超过进货量" in page  # no purchases recorded for the dispensed drug
    pharmacy_page = login(f.pharmacy_user(pharmacy=last_month["pharmacy"])).get(
        f"/settlement/reconciliation/?period={period}")
    assert pharmacy_page.status_code == 200 and "本机构上报的月度汇总" in pharmacy_page.content.decode()


def test_r_stk_1_hospital_reports_stocking_in_the_browser(zhongwei):
    hospital = f.InstitutionFactory()
    drug = f.DrugFactory()
    client = login(f.hospital_user(institution=hospital))
    response = client.post("/settlement/stocking/", {"drug": drug.pk, "kind": "formal", "listed_on": "2026-11-01"})
    assert response.status_code == 302
    assert hospital.stocking_reports.get().kind == "formal"
    again = client.post("/settlement/stocking/", {"drug": drug.pk, "kind": "temporary", "listed_on": "2026-11-02"})
    assert again.status_code == 200 and "已有配备报告" in again.content.decode()


def test_r_stk_2_stocking_and_coverage_pages_render_for_the_bureau(zhongwei):
    hospital = f.InstitutionFactory(region=f.region("640502"))
    services.stocking_report_create(institution=hospital, drug=f.DrugFactory(), kind="formal",
                                    listed_on=dt.date(2026, 1, 1))
    client = login(f.bureau_admin())
    assert hospital.name in client.get("/settlement/stocking/").content.decode()
    response = client.post("/settlement/coverage/", {"version": "2025版", "published_on": "2026-01-01"}, follow=True)
    body = response.content.decode()
    assert "2025版" in body and "逾期未召开" in body
