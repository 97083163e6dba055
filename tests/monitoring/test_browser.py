"""Chromium, in Chinese (section 9): the demo reviewer opens the alert queue, confirms one alert with a proposed
deduction (R-INS-3, through R-SET-5), tries to dismiss another without a reason (refused, the page says why) and
dismisses it with one."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.core.models import Sanction
from apps.demo import catalogue, monitoring, regions
from apps.demo.loader import moment_of
from apps.demo.regions import DEMO_PASSWORD
from apps.monitoring.models import Alert

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TODAY = dt.date(2026, 12, 1)


@pytest.mark.today("2026-12-01")
def test_section_9_reviewer_confirms_with_a_deduction_and_dismisses_with_a_reason(page, login_page, live_server):
    now = moment_of(TODAY)
    regions.load(today=TODAY, now=now)
    catalogue.load(today=TODAY, now=now)
    monitoring.load(today=TODAY, now=now)
    price = Alert.objects.get(rule="R-MON-1")
    supply = Alert.objects.filter(rule="R-MON-5").order_by("id").first()

    login_page("reviewer", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/monitoring/")
    assert "预警队列" in page.inner_text("h1")
    page.select_option("#rule", "R-MON-1")
    page.click("#queue-filters button[type=submit]")
    page.click(f"#alert-table a[href='/monitoring/alerts/{price.pk}/']")
    assert "价格高于支付标准" in page.inner_text("h1")

    page.fill("#confirm-reason", "核实为超标准收费")
    page.select_option("#sanction_kind", "deduction")
    page.fill("#sanction_amount", str(price.amount_at_risk))
    page.click("#confirm")
    page.wait_for_load_state()
    assert "预警已确认" in page.inner_text(".messages")
    assert page.inner_text("#alert-status") == "已确认"
    assert "拒付/追回费用" in page.inner_text("#alert-sanction")
    price.refresh_from_db()
    assert price.sanction.kind == Sanction.Kind.DEDUCTION and price.sanction.amount == price.amount_at_risk
    assert price.sanction.amount > Decimal("0")

    page.goto(f"{live_server.url}/monitoring/alerts/{supply.pk}/")
    assert page.locator("#supply-timeline .timeline-bar").count() >= 4
    page.click("#dismiss")
    page.wait_for_load_state()
    assert "排除预警须填写原因" in page.inner_text(".messages")
    assert page.inner_text("#alert-status") == "待处理"
    page.fill("#dismiss-reason", "经核实为住院转门诊重复登记")
    page.click("#dismiss")
    page.wait_for_load_state()
    assert page.inner_text("#alert-status") == "已排除"
    assert page.inner_text("#alert-reason") == "经核实为住院转门诊重复登记"
    supply.refresh_from_db()
    assert supply.status == Alert.Status.DISMISSED
