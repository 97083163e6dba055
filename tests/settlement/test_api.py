"""R-SET-1/R-SET-3/R-SET-4 through the REST API (paths and status codes of API.md) and the Excel export."""
import datetime as dt
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook

from apps.prescriptions.models import Delivery
from apps.settlement import services
from apps.settlement.models import SettlementRun, Statement
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def november(zhongwei, changsha):
    hospital = f.InstitutionFactory()
    p1, p2 = f.PharmacyFactory(), f.PharmacyFactory()
    drug = f.DrugFactory()
    other_drug = f.DrugFactory(generic_name="信迪利单抗", route="injection")
    sf.dispensing(pharmacy=p1, institution=hospital, drug=drug, quantity=3, deductible="500.00")  # fund 1609.50
    sf.dispensing(pharmacy=p1, institution=hospital, drug=drug, quantity=1, insurance_type="resident",
                  fund_ratio="0.60")  # total 980.00, in scope 882.00, fund 529.20
    sf.dispensing(pharmacy=p2, institution=hospital, drug=other_drug, quantity=2, unit_price="1080.00",
                  delivery=Delivery.WARD)  # total 2160.00, in scope 1944.00, fund 1458.00
    # a Changsha pharmacy: outside Zhongwei's bureau scope (R-SEC-1)
    cs_pharmacy = f.PharmacyFactory(region=f.region("430104"))
    sf.dispensing(pharmacy=cs_pharmacy, institution=hospital, drug=drug, quantity=1)
    return {"hospital": hospital, "p1": p1, "p2": p2, "drug": drug, "other_drug": other_drug, "cs": cs_pharmacy}


def test_r_set_4_admin_starts_a_run_gets_202_and_watches_it_finish(november, api_as,
                                                                       django_capture_on_commit_callbacks):
    admin = f.bureau_admin()
    client = api_as(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/settlements/runs/", {"period": "2026-11"}, format="json")
    assert response.status_code == 202
    run_id = response.json()["id"]
    body = client.get(f"/api/v1/settlements/runs/{run_id}/").json()
    assert body["status"] == "succeeded" and body["progress"] == 100 and body["period"] == "2026-11"
    assert body["steps_done"] == body["steps_total"] > 0

    listing = client.get("/api/v1/settlements/?period=2026-11").json()
    by_code = {row["organisation"]["code"]: row for row in listing["results"]}
    # p2 only delivered to the ward: that is on the hospital's statement; Changsha is out of scope
    assert set(by_code) == {november["p1"].code, november["hospital"].code}
    p1 = by_code[november["p1"].code]
    assert (p1["visits"], p1["total"], p1["fund_payment"], p1["deposit"], p1["payable"]) == (
        2, "3920.00", "2138.70", "106.94", "2031.76")
    assert p1["lines"] == 2 and p1["status"] == "draft"


def test_r_set_1_confirm_locks_and_second_confirm_is_409(november, api_as):
    services.settlement_run_now(period=NOV, clock=sf.clock)
    admin = f.bureau_admin()
    statement = Statement.objects.get(pharmacy=november["p1"], period=NOV)
    client = api_as(admin)
    response = client.post(f"/api/v1/settlements/{statement.pk}/confirm/")
    assert response.status_code == 200 and response.json()["status"] == "confirmed"
    again = client.post(f"/api/v1/settlements/{statement.pk}/confirm/")
    assert again.status_code == 409 and again.json()["code"] == "statement_locked"


def test_r_set_4_run_refusals_bad_period_future_month_and_roles(november, api_as):
    admin = api_as(f.bureau_admin())
    bad = admin.post("/api/v1/settlements/runs/", {"period": "2026-13"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid" and "period" in bad.json()["fields"]
    future = admin.post("/api/v1/settlements/runs/", {"period": "2099-01"}, format="json")
    assert future.status_code == 400
    assert not SettlementRun.objects.exists()
    reviewer = api_as(f.reviewer())
    assert reviewer.post("/api/v1/settlements/runs/", {"period": "2026-11"}, format="json").status_code == 403
    hospital = api_as(f.hospital_user(institution=november["hospital"]))
    assert hospital.get("/api/v1/reports/monthly/?period=2026-11").status_code == 403


def test_r_sec_1_statements_are_scoped_to_the_organisation(november, api_as):
    services.settlement_run_now(period=NOV, clock=sf.clock)
    pharmacy_client = api_as(f.pharmacy_user(pharmacy=november["p1"]))
    rows = pharmacy_client.get("/api/v1/settlements/?period=2026-11").json()["results"]
    assert [r["organisation"]["code"] for r in rows] == [november["p1"].code]
    other = Statement.objects.get(institution=november["hospital"])
    assert pharmacy_client.get(f"/api/v1/settlements/{other.pk}/").status_code == 404


def test_r_set_3_monthly_report_by_region_organisation_drug_and_insurance_type(november, api_as):
    client = api_as(f.bureau_admin())
    report = client.get("/api/v1/reports/monthly/?period=2026-11").json()
    totals = report["totals"]
    # Zhongwei only: 1609.50 + 529.20 + 1458.00 = 3596.70 of 2940.00 + 980.00 + 2160.00 = 6080.00
    assert totals == {"visits": 3, "total": "6080.00", "fund_payment": "3596.70", "personal_payment": "2483.30",
                      "reimbursement_ratio": "0.5916"}
    by_type = {r["insurance_type"]: r for r in report["by_insurance_type"]}
    assert by_type["resident"]["fund_payment"] == "529.20" and by_type["resident"]["reimbursement_ratio"] == "0.5400"
    assert by_type["employee"]["visits"] == 2 and by_type["employee"]["total"] == "5100.00"
    by_drug = {r["code"]: r for r in report["by_drug"]}
    assert by_drug[november["drug"].code]["quantity"] == 4
    assert by_drug[november["other_drug"].code]["fund_payment"] == "1458.00"
    assert [r["region_code"] for r in report["by_region"]] == ["640502"]
    assert {r["code"] for r in report["by_pharmacy"]} == {november["p1"].code, november["p2"].code}
    assert report["by_institution"][0]["visits"] == 3


def test_r_set_3_monthly_report_excel_reads_back(november, api_as):
    client = api_as(f.bureau_admin())
    response = client.get("/api/v1/reports/monthly/?period=2026-11&format=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))
    assert wb.sheetnames == ["汇总", "按地区", "按开方医疗机构", "按定点药店", "按药品", "按险种"]
    summary = wb["汇总"]
    assert "2026-11" in summary["A1"].value
    assert [c.value for c in summary[2]] == ["项目", "人次", "医疗费用总额（元）", "统筹基金支付（元）", "个人支付（元）",
                                             "实际报销比例"]
    assert summary["B3"].value == 3
    assert Decimal(str(summary["C3"].value)) == Decimal("6080.00")
    assert Decimal(str(summary["D3"].value)) == Decimal("3596.70")
    assert summary["D3"].number_format == "#,##0.00" and summary["F3"].number_format == "0.00%"
    assert summary.print_title_rows == "$2:$2" or summary.print_title_rows == "2:2"
    assert summary.page_setup.orientation == "landscape"
    kinds = wb["按险种"]
    rows = {r[0]: r for r in kinds.iter_rows(min_row=3, values_only=True)}
    assert Decimal(str(rows["城乡居民医保"][3])) == Decimal("529.20")
    assert rows["合计"][1] == 3
    drugs = wb["按药品"]
    assert drugs.column_dimensions["A"].width >= 20


def test_r_set_3_monthly_report_needs_a_valid_period(api_as, zhongwei):
    client = api_as(f.bureau_admin())
    response = client.get("/api/v1/reports/monthly/?period=November")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_r_set_3_compiled_snapshot_equals_live_report(november):
    snapshot = services.monthly_report_compile(period=NOV, now=sf.AT)
    assert snapshot.data["totals"]["visits"] == 4  # province-wide snapshot includes Changsha
    assert snapshot.data["period"] == "2026-11"


def test_r_set_4_second_run_while_one_is_active_is_409_and_a_dead_one_is_superseded(november, api_as):
    import datetime as dt_

    from django.utils import timezone

    admin = f.bureau_admin()
    client = api_as(admin)
    active = SettlementRun.objects.create(period=NOV, status=SettlementRun.Status.RUNNING, started_at=timezone.now())
    response = client.post("/api/v1/settlements/runs/", {"period": "2026-11"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "run_in_progress"
    assert response.json()["run"] == active.pk
    # the worker died an hour ago: the stale run is marked failed and a new one starts
    SettlementRun.objects.filter(pk=active.pk).update(started_at=timezone.now() - dt_.timedelta(hours=1))
    response = client.post("/api/v1/settlements/runs/", {"period": "2026-11"}, format="json")
    assert response.status_code == 202
    active.refresh_from_db()
    assert active.status == SettlementRun.Status.FAILED and "中断" in active.error
