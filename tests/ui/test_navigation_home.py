"""Issue 15 items 10 and 11: one highlighted menu entry, the Django admin only for system administrators, and
homes that say what needs the user today."""
import re

import pytest
from django.test import Client

from tests import factories as f
from tests.ui.data import busy_month

pytestmark = pytest.mark.django_db


def _nav(html: str) -> str:
    return html[html.index('<nav class="mainnav"'):html.index("</nav>")]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_one_menu_entry_is_highlighted_on_the_import_page(zhongwei):
    nav = _nav(_client(f.bureau_admin()).get("/catalogue/imports/").content.decode())
    assert len(re.findall(r'<a [^>]*class="active"', nav)) == 1
    assert re.search(r'<a href="/catalogue/imports/" class="active"', nav)
    assert not re.search(r'<a href="/catalogue/" class="active"', nav)
    assert nav.count('class="navgroup active"') == 1


def test_the_django_admin_is_for_system_administrators_only(zhongwei):
    admin = f.bureau_admin()  # a bureau administrator, not a superuser
    html = _client(admin).get("/catalogue/").content.decode()
    assert "/admin/" not in html and "系统管理" not in html
    superuser = f.bureau_admin(username="root", is_superuser=True, is_staff=True)
    html = _client(superuser).get("/catalogue/").content.decode()
    assert 'href="/admin/"' in html and "节假日安排" in _nav(html)


def test_bureau_home_shows_each_tile_once_and_says_when_the_chart_is_empty(changsha):
    html = _client(f.bureau_admin("430100")).get("/settlement/dashboard/").content.decode()
    labels = re.findall(r'<span class="label">([^<]+)</span>', html)
    assert len(labels) == len(set(labels)), labels
    assert 'id="trend-empty"' in html and '<canvas id="trend"' not in html


@pytest.mark.today("2026-12-01")  # the home view reads the clock; busy_month() is November 2026
def test_hospital_home_lists_what_needs_doing_and_the_next_steps(zhongwei):
    month = busy_month()
    html = _client(month.hospital).get("/").content.decode()
    todo = html[html.index('id="todo"'):html.index("</section>", html.index('id="todo"'))]
    assert "去处理" in todo and "待审核申请" in todo  # the application in review waits at the physician
    assert 'href="/applications/new/"' in todo and "新建待遇申请" in todo


@pytest.mark.today("2026-12-01")  # the home view reads the clock; busy_month() is November 2026
def test_pharmacy_home_offers_its_next_steps(zhongwei):
    month = busy_month()
    html = _client(month.pharmacist).get("/").content.decode()
    todo = html[html.index('id="todo"'):html.index("</section>", html.index('id="todo"'))]
    assert "/prescriptions/?status=flowed" in todo and "/prescriptions/stock/" in todo
    assert "待配药处方" in todo
