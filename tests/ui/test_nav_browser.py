"""Issue 15 item 10 in Chromium: at 1440 px the top bar of the busiest role (a superuser bureau administrator,
every menu) stays on one line, in Chinese and in English."""
import pytest

from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_top_bar_does_not_wrap_at_1440px(login_page, live_server, language):
    f.region("640500")
    f.bureau_admin("640500", username="navroot", is_superuser=True, is_staff=True)
    page = login_page("navroot")
    page.set_viewport_size({"width": 1440, "height": 900})
    if language == "en":
        with page.expect_navigation():  # the choice submits its form: wait for that page before going on
            page.select_option("select[name=language]", "en")
    page.goto(f"{live_server.url}/catalogue/imports/")
    tops = page.locator(".mainnav > *").evaluate_all("els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    assert len(tops) >= 6 and len(set(tops)) == 1, tops
    bar = page.locator(".topbar").bounding_box()
    assert bar["height"] < 60, bar
    assert page.locator(".mainnav a.active, .mainnav .navgroup.active").count() in (1, 2)  # the group and its item
    assert page.locator(".mainnav .menu a.active").count() == 1
