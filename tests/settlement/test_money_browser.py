"""Chromium, in Chinese: the bureau's money pages (payment list with the month's confirmation, sanctions' effect on a
statement with a deferral release, deposit accounts, late institution reports) and the hospitals' and pharmacies'
own pages (statement with ward-delivery payment, deposit balance, report submission). R-SET-1/2/3/5.

Figures: 3 packs → fund 1,984.50, deposit 99.23, payable 1,885.27 (see test_money.py)."""
import datetime as dt
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from apps.core.models import Sanction
from apps.prescriptions.models import Delivery
from apps.settlement import money_services, services
from apps.settlement.models import Statement
from tests import factories as f
from tests.settlement import factories as sf

OCT, NOV = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
TODAY = dt.date(2026, 12, 3)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r_set_5_bureau_confirms_month_sees_sanctions_on_statements_payment_list_deposits_and_late_reports(
        page, login_page, live_server, zhongwei):
    """P1: deduction 1,000.00 → payable 885.27. P2: deferral → held 1,885.27 until released. Payment list totals:
    payable 2,770.54, held 1,885.27, pay now 885.27; after the release pay now 2,770.54. October report of P1 sent on
    11-08 (late) with fund 2,000.00 against the system's 1,984.50; P2 never reported (逾期未报)."""
    admin = f.bureau_admin(username="caiwu", first_name="财务")
    p1 = f.PharmacyFactory(name="中卫仁和大药房", bank_name="中卫农商银行", bank_account_no="6230000000000001")
    p2 = f.PharmacyFactory(name="中卫益民药店")
    for p in (p1, p2):
        sf.dispensing(pharmacy=p, quantity=3)
    d_oct = sf.dispensing(pharmacy=p1, quantity=3, period=OCT)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    money_services.sanction_money_record(organisation=p1, kind=Sanction.Kind.DEDUCTION, amount=Decimal("1000.00"),
                                         decided_on=dt.date(2026, 12, 1), reason="串换药品追回", actor=admin, now=sf.AT)
    money_services.sanction_money_record(organisation=p2, kind=Sanction.Kind.PAYMENT_DEFERRAL, amount=None,
                                         decided_on=dt.date(2026, 12, 1), reason="拒不整改", actor=admin, now=sf.AT)
    money_services.institution_report_submit(
        organisation=p1, period=OCT, figures={"visits": 1, "total": "2940.00", "fund_payment": "2000.00"}, lines=[],
        actor=f.pharmacy_user(pharmacy=p1), source="api", now=dt.datetime(2026, 11, 8, 9, 0, tzinfo=sf.TZ))

    login_page("caiwu")
    page.goto(f"{live_server.url}/settlement/payment-list/?period=2026-11")
    assert "未确认" in page.locator("#payment-list-error").inner_text()
    page.click("#confirm-month")
    page.wait_for_selector("#payment-list")
    assert "确认 2026-11" in page.dialogs[-1]
    totals = page.locator("#payment-totals").inner_text()
    assert "2,770.54" in totals and "1,885.27" in totals
    assert page.locator("#total-pay-now").inner_text() == "885.27"
    assert "6230000000000001" in page.locator("#payment-list").inner_text()
    with page.expect_download() as download:
        page.click("#download-xlsx")
    with open(download.value.path(), "rb") as fh:
        ws = load_workbook(fh)["拨付清单"]
    assert ws["A1"].value == "双通道药品月度结算拨付清单（2026-11）"

    page.goto(f"{live_server.url}/settlement/statements/{Statement.objects.get(pharmacy=p1).pk}/")
    assert page.locator("#statement-deductions").inner_text() == "1,000.00"
    assert page.locator("#statement-payable").inner_text() == "885.27"
    assert "串换药品追回" in page.locator("#statement-adjustments").inner_text()

    page.goto(f"{live_server.url}/settlement/statements/{Statement.objects.get(pharmacy=p2).pk}/")
    assert page.locator("#statement-held").inner_text() == "1,885.27"
    page.fill("#statement-adjustments input[name=reason]", "已整改到位")
    page.click("#release-deferral")
    page.wait_for_load_state()
    assert page.locator("#statement-held").inner_text() == "0.00"
    assert page.locator("#statement-pay-now").inner_text() == "1,885.27"
    page.goto(f"{live_server.url}/settlement/payment-list/?period=2026-11")
    assert page.locator("#total-pay-now").inner_text() == "2,770.54"

    page.goto(f"{live_server.url}/settlement/deposits/")
    assert "99.23" in page.locator("#deposit-accounts").inner_text()
    page.click("text=中卫仁和大药房")
    assert page.locator("#deposit-balance").inner_text() == "99.23"

    page.goto(f"{live_server.url}/settlement/reports/?period=2026-10")
    assert "逾期报送" in page.locator(f"tr[data-code='{p1.code}']").inner_text()
    assert "逾期未报" in page.locator(f"tr[data-code='{p2.code}']").inner_text()
    page.click(f"tr[data-code='{p1.code}'] a")
    assert page.locator("#late-badge").is_visible()
    fund_row = page.locator("tr[data-figure='fund_payment']").inner_text()
    assert "2,000.00" in fund_row and "1,984.50" in fund_row and "15.50" in fund_row
    assert f"#{d_oct.pk}" in page.locator("#report-dispensings").inner_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.today("2026-12-03")  # the pages read the clock: the day the tests act (sf.AT), before the 10th and the 5th
def test_r_set_2_hospital_pays_ward_deliveries_sees_deposit_and_reports_pharmacy_uploads(
        page, login_page, live_server, zhongwei, tmp_path):
    """Ward delivery 2,940.00 owed to the pharmacy: the hospital records 1,000.00 → part paid, 1,940.00 outstanding.
    Hospital deposit: 5 % of 1,984.50 = 99.23. The hospital submits its November report on the form; the pharmacy
    uploads its report as Excel and sees its own statement (pick-up dispensing, payable 1,885.27)."""
    hospital = f.InstitutionFactory(name="中卫市人民医院")
    pharmacy = f.PharmacyFactory(name="中卫配送药房")
    sf.dispensing(pharmacy=pharmacy, institution=hospital, quantity=3, delivery=Delivery.WARD)
    sf.dispensing(pharmacy=pharmacy, quantity=3)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    admin = f.bureau_admin()
    for s in Statement.objects.all():
        services.statement_confirm(statement=s, actor=admin, today=TODAY, now=sf.AT)
    f.hospital_user(institution=hospital, username="yibaoban")
    f.pharmacy_user(pharmacy=pharmacy, username="yaofang")

    login_page("yibaoban")
    page.goto(f"{live_server.url}/settlement/statements/{Statement.objects.get(institution=hospital).pk}/")
    assert "2,940.00" in page.locator("#ward-status").inner_text()
    page.fill("#ward-payment-form input[name=amount]", "1000.00")
    page.fill("#ward-payment-form input[name=reference]", "网银回单20261201")
    page.click("#record-payment")
    page.wait_for_selector("#ward-payment-list")
    status = page.locator("#ward-status").inner_text()
    assert "1,940.00" in status and "部分支付" in status
    page.goto(f"{live_server.url}/settlement/deposits/")
    assert page.locator("#deposit-balance").inner_text() == "99.23"
    page.goto(f"{live_server.url}/settlement/reports/submit/")
    page.fill("#report-form input[name=period]", "2026-11")
    page.fill("#report-form input[name=visits]", "1")
    page.fill("#report-form input[name=total]", "2940.00")
    page.fill("#report-form input[name=fund_payment]", "1984.50")
    page.click("#submit-report")
    page.wait_for_load_state()
    mine = page.locator("#my-reports").inner_text()
    assert "2026-11" in mine and "按时报送" in mine and "1,984.50" in mine

    page.context.clear_cookies()
    login_page("yaofang")
    page.goto(f"{live_server.url}/settlement/statements/{Statement.objects.get(pharmacy=pharmacy).pk}/")
    assert page.locator("#statement-payable").inner_text() == "1,885.27"
    page.goto(f"{live_server.url}/settlement/deposits/")
    assert page.locator("#deposit-balance").inner_text() == "99.23"
    drug_code = pharmacy_drug_code(pharmacy)
    wb = Workbook()
    ws = wb.active
    ws.append(["药品代码", "人次", "医疗费用总额", "统筹基金支付"])
    ws.append([drug_code, 2, 5880, 3969])
    path = tmp_path / "report.xlsx"
    wb.save(path)
    page.goto(f"{live_server.url}/settlement/reports/submit/")
    page.fill("#report-form input[name=period]", "2026-11")
    page.set_input_files("#report-form input[name=file]", str(path))
    page.click("#submit-report")
    page.wait_for_load_state()
    assert "5,880.00" in page.locator("#my-reports").inner_text()


def pharmacy_drug_code(pharmacy) -> str:
    from apps.prescriptions.models import DispensingLine

    return DispensingLine.objects.filter(dispensing__pharmacy=pharmacy).values_list("drug__code", flat=True).first()
