"""R-APP-4: each hospital stage is decided by a holder of its duty (``stage_duty_required``) and one person never
decides two stages of one application (``same_reviewer``). Driven through REST as the right and the wrong user."""
import pytest

from apps.applications.models import Application, ApplicationReview, Stage
from apps.institutions.models import HospitalDuty
from apps.institutions.services import hospital_duty_grant
from apps.physicians.services import physician_account_link
from tests import factories as f
from tests.applications.factories import NOW, setup_hospital, stage_actor, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(zhongwei):
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    return {"institution": institution, "physician": physician, "hospital": hospital,
            "reviewer": f.reviewer("640500")}


def decide(api_as, user, app, decision="approve", opinion="同意"):
    return api_as(user).post(f"/api/v1/applications/{app.pk}/decisions/", {"decision": decision, "opinion": opinion},
                             format="json")


def test_r_app_4_physician_stage_only_by_physicians_own_account(api_as, world):
    """The plain hospital user (no duty) → 403 stage_duty_required, no review row; the physician's own account → 201
    and the chain moves to the pharmacy department."""
    app = submit(world["hospital"], world["physician"])
    response = decide(api_as, world["hospital"], app)
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"
    assert "责任医师本人" in response.json()["detail"]
    assert ApplicationReview.objects.count() == 0
    response = decide(api_as, world["physician"].user, app)
    assert response.status_code == 201 and response.json()["current_stage"] == "pharmacy_dept"


def test_r_app_4_another_physicians_account_cannot_sign(api_as, world):
    """A second physician of the same hospital with their own account is not the application's physician → 403."""
    other = f.PhysicianFactory(institution=world["institution"])
    other_user = f.hospital_user(world["institution"])
    physician_account_link(actor=other_user, physician=other, user=other_user)
    app = submit(world["hospital"], world["physician"])
    response = decide(api_as, other_user, app)
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"


def test_r_app_4_pharmacy_and_insurance_stages_need_their_duties(api_as, world):
    """Pharmacy-department stage: the insurance-office holder → 403 stage_duty_required; the pharmacy-department
    holder → 201. Insurance-office stage: the pharmacy-department holder already decided a stage → 409 same_reviewer
    (checked after the duty; here they lack the duty, so 403 first) — the insurance-office holder → 201."""
    app = submit(world["hospital"], world["physician"])
    assert decide(api_as, stage_actor(app), app).status_code == 201
    pharmacy_user = HospitalDuty.objects.get(institution=world["institution"], duty="pharmacy_dept").user
    office_user = HospitalDuty.objects.get(institution=world["institution"], duty="insurance_office").user
    response = decide(api_as, office_user, app)
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"
    assert decide(api_as, pharmacy_user, app).status_code == 201
    response = decide(api_as, pharmacy_user, app)
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"
    response = decide(api_as, office_user, app)
    assert response.status_code == 201 and response.json()["current_stage"] == "bureau"


def test_r_app_4_one_person_never_decides_two_stages(api_as, world):
    """The physician's account also granted the pharmacy-department duty: it decided the physician stage, so at the
    pharmacy-department stage → 409 same_reviewer, nothing written (1 review row stays 1)."""
    physician_user = world["physician"].user
    office = HospitalDuty.objects.get(institution=world["institution"], duty="insurance_office").user
    hospital_duty_grant(actor=office, institution=world["institution"], user=physician_user, duty="pharmacy_dept",
                        now=NOW)
    app = submit(world["hospital"], world["physician"])
    assert decide(api_as, physician_user, app).status_code == 201
    response = decide(api_as, physician_user, app)
    assert response.status_code == 409 and response.json()["code"] == "same_reviewer"
    assert "责任医师初审" in response.json()["detail"]
    assert ApplicationReview.objects.filter(application=app).count() == 1
    assert Application.objects.get(pk=app.pk).current_stage == Stage.PHARMACY_DEPT


def test_r_app_4_duty_granted_only_by_bureau_admin_or_insurance_office(world):
    """A hospital user without the insurance-office duty cannot grant duties (permission_denied)."""
    from apps.core.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as excinfo:
        hospital_duty_grant(actor=world["hospital"], institution=world["institution"], user=world["hospital"],
                            duty="pharmacy_dept", now=NOW)
    assert excinfo.value.code == "permission_denied"
    row = hospital_duty_grant(actor=f.bureau_admin("640500"), institution=world["institution"],
                              user=world["hospital"], duty="pharmacy_dept", now=NOW)
    assert row.duty == "pharmacy_dept"


def test_r_app_4_browser_decision_box_only_for_the_duty_holder(client, world):
    """The application page shows the decision form to the physician's own account at the physician stage, and a
    note instead of the form to the plain hospital user; posting as the plain user changes nothing."""
    from django.test import Client

    app = submit(world["hospital"], world["physician"])
    plain, own = Client(), Client()
    plain.force_login(world["hospital"])
    own.force_login(world["physician"].user)
    html = plain.get(f"/applications/{app.pk}/").content.decode()
    assert 'id="decision"' not in html and 'id="duty-missing"' in html
    assert 'id="decision"' in own.get(f"/applications/{app.pk}/").content.decode()
    plain.post(f"/applications/{app.pk}/", {"decision": "approve", "opinion": "同意"})
    assert ApplicationReview.objects.filter(application=app).count() == 0
    own.post(f"/applications/{app.pk}/", {"decision": "approve", "opinion": "同意"})
    assert Application.objects.get(pk=app.pk).current_stage == Stage.PHARMACY_DEPT
