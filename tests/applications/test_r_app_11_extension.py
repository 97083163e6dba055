"""R-APP-11: within the last 60 days of an approval the hospital files an extension by the simplified procedure
(physician's opinion + bureau decision); the new period starts the day after the current one ends."""
import datetime as dt

import pytest
import time_machine

from apps.applications.models import Application, ApplicationReview
from tests import factories as f
from tests.applications.factories import approve_through, setup_hospital, submit
from tests.prescriptions.factories import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(zhongwei):
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory(agreement_end=dt.date(2029, 12, 31))
    reviewer = f.reviewer("640500")
    app = approve_through(submit(hospital, physician, now=at(dt.date(2026, 3, 2))), hospital, reviewer,
                          now=at(dt.date(2026, 3, 3)), valid_until=dt.date(2027, 1, 15))
    physician.refresh_from_db()
    return {"app": app, "physician": physician, "hospital": hospital, "reviewer": reviewer}


def _extend(api_as, user, app, opinion="病情稳定，继续用药"):
    return api_as(user).post(f"/api/v1/applications/{app.pk}/extensions/", {"opinion": opinion}, format="json")


def test_r_app_11_too_early_refused(api_as, world):
    """Approval ends 2027-01-15; the window opens 60 days before, on 2026-11-17 (15 Jan − 59 days). On 2026-11-16 →
    409 extension_not_due, nothing written."""
    with time_machine.travel(at(dt.date(2026, 11, 16)), tick=False):
        response = _extend(api_as, world["physician"].user, world["app"])
    assert response.status_code == 409 and response.json()["code"] == "extension_not_due"
    assert "60" in response.json()["detail"]
    assert Application.objects.count() == 1


def test_r_app_11_only_the_physicians_account_files_it(api_as, world):
    """On 2026-12-01 the plain hospital user → 403 stage_duty_required; nothing written."""
    with time_machine.travel(at(dt.date(2026, 12, 1)), tick=False):
        response = _extend(api_as, world["hospital"], world["app"])
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"
    assert Application.objects.count() == 1


def test_r_app_11_extension_then_bureau_approves_new_period_from_next_day(api_as, world):
    """On 2026-12-01 (day 46 of the window) the physician files: 201, kind extension, extends the old id, the
    physician stage already recorded with the opinion, waiting at the bureau. The bureau approves: the new period
    starts 2027-01-16 (the day after 2027-01-15) and runs to 2028-12-31 (two natural years from its start). A
    second extension of the same approval → 409 extension_exists."""
    old = world["app"]
    with time_machine.travel(at(dt.date(2026, 12, 1)), tick=False):
        response = _extend(api_as, world["physician"].user, old)
        assert response.status_code == 201, response.json()
        data = response.json()
        assert (data["kind"], data["extends"], data["status"], data["current_stage"]) == (
            "extension", old.pk, "in_review", "bureau")
        assert [(r["stage"], r["opinion"]) for r in data["reviews"]] == [("physician", "病情稳定，继续用药")]
        response = api_as(world["reviewer"]).post(f"/api/v1/applications/{data['id']}/decisions/",
                                                  {"decision": "approve", "opinion": "同意延期"}, format="json")
        assert response.status_code == 201, response.json()
        assert (response.json()["valid_from"], response.json()["valid_until"]) == ("2027-01-16", "2028-12-31")
        again = _extend(api_as, world["physician"].user, old)
    assert again.status_code == 409 and again.json()["code"] == "extension_exists"
    new = Application.objects.get(pk=data["id"])
    assert new.covers(dt.date(2027, 1, 16)) and old.covers(dt.date(2027, 1, 15))
    assert ApplicationReview.objects.filter(application=new).count() == 2
