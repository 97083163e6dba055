"""Issue 15 items 5, 6, 8, 9 and 12: formatting helpers, month filters, offline API docs, error pages, the
reviewer's application page."""
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from django.contrib.staticfiles import finders
from django.test import Client

from apps.applications import services as app_services
from apps.core import formatting
from apps.core.models import Event
from tests import factories as f
from tests.applications.factories import setup_hospital, stage_actor, submit

pytestmark = pytest.mark.django_db


# --- item 5: one formatting layer ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (Decimal("1234.5"), "1,234.50"), (Decimal("93.6000000000000"), "93.60"), (1960, "1,960.00"),
    (Decimal("-2940.005"), "-2,940.01"), (Decimal("0.005"), "0.01"), (None, "—"), ("", "—"),
])
def test_money_is_grouped_and_half_up_to_the_fen(value, text):
    assert formatting.money(value) == text


@pytest.mark.parametrize("value, text", [
    (Decimal("0.75"), "75%"), (Decimal("0.1250"), "12.5%"), (Decimal("0.6082"), "60.82%"), (Decimal("1"), "100%"),
    (0.1, "10%"), (None, "—"),
])
def test_ratio_is_a_percentage_without_artefacts(value, text):
    assert formatting.ratio(value) == text


def test_counts_are_grouped():
    assert formatting.count(12345) == "12,345" and formatting.count(0) == "0"


def test_admin_change_list_shows_grouped_money():
    """The statement admin: 1,609.50 fund payment (two decimals, grouped)."""
    from apps.core.admin_figures import figure_column
    from apps.settlement.models import Statement

    column = figure_column(Statement, "fund_payment")
    assert column(Statement(fund_payment=Decimal("1609.5"))) == "1,609.50"
    assert figure_column(Statement, "period") == "period"


# --- item 6: period filters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/settlement/statements/?period=2026-10", "/settlement/monthly/?period=2026-10",
                                  "/settlement/reconciliation/?period=2026-10"])
def test_period_filters_are_month_inputs_keeping_2026_10(zhongwei, path):
    client = Client()
    client.force_login(f.bureau_admin())
    html = client.get(path).content.decode()
    field = re.search(r'<input[^>]*name="period"[^>]*>', html).group(0)
    assert 'type="month"' in field and 'value="2026-10"' in field and "size=" not in field


# --- item 8: Swagger UI offline -------------------------------------------------------------------------------

def test_api_docs_load_only_from_the_site():
    client = Client()
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "cdn" not in html.lower() and "<script>" not in html  # no inline initialiser (CSP)
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
    script = next(s for s in sources if "script" in s and not s.startswith("/static/"))
    body = client.get(script)
    assert body.status_code == 200 and b"SwaggerUIBundle" in body.content


# --- item 9: error pages ----------------------------------------------------------------------------------------

def test_403_in_chinese_says_why_and_links_home(zhongwei):
    institution, _, _, hospital = setup_hospital()
    client = Client()
    client.force_login(hospital)
    response = client.get("/settlement/monthly/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "无权访问" in html and "此页面仅供经办机构工作人员使用" in html and "医院医保办" in html
    assert 'href="/"' in html and "返回工作台" in html


def test_404_in_chinese_with_a_way_back(zhongwei):
    client = Client()
    client.force_login(f.bureau_admin())
    response = client.get("/applications/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and "返回工作台" in html


def test_500_page_is_chinese_and_standalone():
    from django.template import loader

    html = loader.get_template("500.html").render({})
    assert "系统出错" in html and "没有写入任何数据" in html and 'href="/"' in html


def test_favicon_is_served():
    client = Client()
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("img/favicon.svg")
    assert finders.find("img/favicon.svg")
    assert 'rel="icon"' in client.get("/accounts/login/").content.decode()


# --- item 12: the reviewer's application page -------------------------------------------------------------

@pytest.fixture
def at_bureau(zhongwei):
    f.policy("640500", "zhongwei-2021")
    _, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    reviewer = f.reviewer("640500", username="zwreviewer")
    app = submit(hospital, physician, seq=1, pharmacy=pharmacy)
    for _ in range(3):
        app = app_services.application_decide(application=app, actor=stage_actor(app), decision="approve",
                                              opinion="同意", now=timezone.now())
    return reviewer, app


def test_r_app_8_no_termination_form_under_the_decision_box_of_an_application_in_review(at_bureau):
    reviewer, app = at_bureau
    client = Client()
    client.force_login(reviewer)
    html = client.get(f"/applications/{app.pk}/").content.decode()
    assert 'id="decision"' in html and 'id="terminate"' not in html and "/terminate/" not in html


def test_r_sec_2_reveal_is_post_redirect_get_and_logged_once(at_bureau):
    reviewer, app = at_bureau
    client = Client()
    client.force_login(reviewer)
    response = client.post(f"/applications/{app.pk}/reveal/id_number/")
    assert response.status_code == 302 and response["Location"].startswith(f"/applications/{app.pk}/")
    shown = client.get(response["Location"]).content.decode()
    assert app.person.id_number in shown
    again = client.get(response["Location"]).content.decode()  # a refresh: masked again, nothing re-posted
    assert app.person.id_number not in again
    assert Event.objects.filter(action="personal_number_revealed").count() == 1


def test_one_refusal_shows_one_message(at_bureau):
    """Rejecting without an opinion: one message on the page (it used to appear at the field and on top)."""
    reviewer, app = at_bureau
    client = Client()
    client.force_login(reviewer)
    html = client.post(f"/applications/{app.pk}/", {"decision": "reject", "opinion": ""}).content.decode()
    assert html.count("不同意时必须填写") == 1
