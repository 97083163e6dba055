"""Browser tests in headless Chromium (Playwright): the bureau reviewer's workspace and the public lookup."""
import pytest
from django.utils import timezone
from django.core.cache import cache

from apps.applications import services
from apps.applications.models import Application
from apps.core.models import Event
from tests import factories as f
from tests.applications.factories import setup_hospital, submit, stage_actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def at_bureau():
    """Three applications waiting at the bureau stage of Zhongwei, and the bureau reviewer."""
    f.policy("640500", "zhongwei-2021")
    cache.clear()
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    reviewer = f.reviewer("640500", username="zw_reviewer", first_name="赵审核")
    apps = []
    for seq in (1, 2, 3):
        app = submit(hospital, physician, seq=seq, pharmacy=pharmacy)
        for _ in range(3):
            app = services.application_decide(application=app, actor=stage_actor(app), decision="approve", opinion="同意", now=timezone.now())
        apps.append(app)
    return reviewer, apps


def test_r_app_4_reviewer_approves_fails_reject_without_opinion_and_returns(login_page, live_server, at_bureau):
    reviewer, (first, second, third) = at_bureau
    page = login_page(reviewer.username)
    page.goto(f"{live_server.url}/applications/review/")
    assert page.locator("[data-testid=count-waiting]").inner_text() == "3"
    for app in (first, second, third):
        assert page.locator(f"tr[data-number='{app.number}']").count() == 1

    # approve the first, straight on to the next item
    page.click(f"text={first.number}")
    assert page.locator("h1").inner_text().startswith(f"待遇申请 {first.number}")
    page.check("input[name=decision][value=approve]")
    page.fill("textarea[name=opinion]", "符合条件，予以通过")
    page.click("#submit-next")
    page.wait_for_load_state()
    first.refresh_from_db()
    assert first.status == Application.Status.APPROVED and first.valid_until is not None
    assert f"待遇申请 {second.number}" in page.locator("h1").inner_text()

    # reject the second without an opinion: refused, and the form says why
    page.check("input[name=decision][value=reject]")
    page.click("#submit-stay")
    page.wait_for_load_state()
    alerts = page.locator("#decision [role=alert]")
    assert alerts.count() == 1 and "不同意时必须填写" in alerts.inner_text()  # one error, one message
    second.refresh_from_db()
    assert second.status == Application.Status.IN_REVIEW

    # move on without going back to the list, and return the third
    page.click("#next-item")
    page.wait_for_load_state()
    assert f"待遇申请 {third.number}" in page.locator("h1").inner_text()
    page.check("input[name=decision][value=return]")
    page.fill("textarea[name=opinion]", "请补充基因检测报告")
    page.click("#submit-stay")
    page.wait_for_load_state()
    third.refresh_from_db()
    assert third.status == Application.Status.RETURNED and third.current_stage == "physician"
    assert "请补充基因检测报告" in page.locator("#history").inner_text()
    assert page.locator("#app-status").inner_text() == "已退回补充材料"


def test_r_sec_2_reviewer_reveals_id_number_as_logged_action(login_page, live_server, at_bureau):
    reviewer, (first, _, _) = at_bureau
    page = login_page(reviewer.username)
    page.goto(f"{live_server.url}/applications/{first.pk}/")
    assert "*" in page.locator("#id-number").inner_text()
    page.click("#reveal-id")
    page.wait_for_load_state()
    assert page.locator("#id-number").inner_text() == first.person.id_number
    # POST-redirect-GET: the reveal answered with a redirect, so a refresh is a plain GET (no second log row)
    assert page.url.rstrip("/").endswith(f"/applications/{first.pk}")
    page.reload()
    assert "*" in page.locator("#id-number").inner_text()
    assert Event.objects.filter(action="personal_number_revealed").count() == 1


def test_r_app_9_public_lookup_right_pair_and_wrong_pair(page, live_server, at_bureau):
    _, (first, _, _) = at_bureau
    page.goto(f"{live_server.url}/applications/lookup/")
    page.fill("input[name=number]", first.number)
    page.fill("input[name=id_suffix]", first.person.id_number[-6:])
    page.click("#lookup-form button[type=submit]")
    page.wait_for_load_state()
    result = page.locator("#lookup-result").inner_text()
    assert first.number in result and "审核中" in result and "经办机构审核" in result
    assert first.person.name not in result

    page.goto(f"{live_server.url}/applications/lookup/")
    page.fill("input[name=number]", first.number)
    wrong = "000000" if not first.person.id_number.endswith("000000") else "111111"
    page.fill("input[name=id_suffix]", wrong)
    page.click("#lookup-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#lookup-result").count() == 0
    assert "未找到匹配的申请" in page.locator("#lookup-none").inner_text()
