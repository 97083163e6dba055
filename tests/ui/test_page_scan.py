"""Issue 15 items 5 and 7: every page a role reaches shows money grouped (``1,609.50``), no float artefacts,
no rule ids (``R-APP-6``) and no raw codes (``prescription_uploaded``, ``flowed``) in its Chinese text."""
import pytest
from django.test import Client

from tests.ui.data import busy_month
from tests.ui.scan import crawl, findings

# the pages read "now" from the clock (views are edges); busy_month() is November 2026 with a prescription flowed
# "now", so the clock is fixed on the day after the month
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


@pytest.fixture
def month(zhongwei):
    return busy_month()


@pytest.mark.parametrize("role", ["admin", "reviewer", "hospital", "pharmacist"])
def test_pages_show_formatted_money_and_chinese_labels(month, role):
    client = Client()
    client.force_login(getattr(month, role))
    pages = crawl(client)
    assert len(pages) >= 8, sorted(pages)
    problems = findings(pages)
    assert problems == {}, "\n".join(f"{k}: {line}" for k, lines in problems.items() for line in lines[:60])


def test_scan_finds_what_it_looks_for():
    """The scanner itself: each kind of leftover is caught, formatted text passes."""
    bad = {"/x": "总额 1609.50\n93.6000000000000\n见（R-APP-6）\nprescription_uploaded → flowed"}
    assert set(findings(bad)) == {"money", "float", "rule_id", "raw_code"}
    assert findings({"/y": "总额 1,609.50 元\n比例 75%\n2026-11-30 09:00\n已流转"}) == {}
