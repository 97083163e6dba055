"""End to end in Chromium as the bureau administrator: dashboard, monthly report with charts and Excel, a
settlement run with its progress bar (R-SET-1, R-SET-3, R-SET-4)."""
import pytest
from openpyxl import load_workbook

from apps.settlement.periods import label, period_of, previous_period
from tests import factories as f
from tests.settlement import factories as sf


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r_set_3_admin_opens_dashboard_monthly_report_and_runs_settlement(page, login_page, live_server, zhongwei):
    from django.utils import timezone

    period = previous_period(period_of(timezone.localdate()))
    f.bureau_admin(username="admin", is_superuser=True, is_staff=True)
    pharmacy = f.PharmacyFactory(name="国大药房（测试店）")
    sf.dispensing(pharmacy=pharmacy, quantity=3, deductible="500.00", period=period)  # fund 1609.50
    sf.dispensing(pharmacy=pharmacy, quantity=1, period=period)  # fund 661.50

    login_page("admin")
    page.goto(f"{live_server.url}/settlement/dashboard/")
    assert page.locator("h1").inner_text() == "双通道监测看板"
    assert "2,271.00" in page.locator(".figures").first.inner_text()  # last month's fund payment
    page.wait_for_function("window.Chart && Chart.getChart('trend') !== undefined")

    page.goto(f"{live_server.url}/settlement/monthly/?period={label(period)}")
    assert page.locator("#total-visits").inner_text() == "2"
    assert page.locator("#total-fund").inner_text() == "2,271.00"
    page.wait_for_function("window.settlementCharts && window.settlementCharts.length === 3")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename == f"monthly-report-{label(period)}.xlsx"
    with open(download.value.path(), "rb") as fh:
        workbook = load_workbook(fh)
    assert str(workbook["汇总"]["D3"].value) in ("2271", "2271.0", "2271.00")

    page.goto(f"{live_server.url}/settlement/statements/?period={label(period)}")
    page.click("#start-run")
    page.wait_for_function("document.getElementById('run-status').textContent === '已完成'")
    assert page.locator("#run-bar").get_attribute("aria-valuenow") == "100"
    page.click("text=查看结算单")
    row = page.locator("tbody tr").first.inner_text()
    assert "国大药房（测试店）" in row and "2,157.45" in row  # 2271.00 − 5 % deposit 113.55
