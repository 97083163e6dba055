"""The demo has a Jilin-style region beside Zhongwei and Changsha (issue 10): the split on (R-DOC-2), three-stage
hospital review (R-APP-4) by three demo users, one application waiting at each hospital stage."""
import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.applications.models import Application
from apps.core.selectors import region_settings_for
from apps.core.models import Region
from apps.demo import catalogue, jilin, regions
from apps.demo.loader import moment_of
from apps.institutions.models import HospitalDuty
from apps.physicians.models import Physician

pytestmark = pytest.mark.django_db


def test_demo_jilin_region_split_on_three_stages_three_users(api_as):
    day = dt.date(2026, 11, 25)
    for step in (regions, catalogue, jilin):  # the parts this region needs (the whole loader: test_loader.py)
        step.load(today=day, now=moment_of(day))
    changchun, zhongwei = Region.objects.get(code="220100"), Region.objects.get(code="640500")
    assert region_settings_for(changchun).role_split is True and region_settings_for(zhongwei).role_split is False
    assert region_settings_for(changchun).review_stages == ["physician", "pharmacy_dept", "insurance_office", "bureau"]
    User = get_user_model()
    physician_user = Physician.objects.get(code="D220100001").user
    pharmacy_dept = HospitalDuty.objects.get(institution__code="H220100001", duty="pharmacy_dept").user
    office = HospitalDuty.objects.get(institution__code="H220100001", duty="insurance_office").user
    assert len({physician_user.pk, pharmacy_dept.pk, office.pk}) == 3
    assert office == User.objects.get(username="hospital_jl")
    waiting = sorted(Application.objects.filter(insured_region=changchun).values_list("current_stage", flat=True))
    assert waiting == ["insurance_office", "pharmacy_dept", "physician"]
    # the insurance office finishes its stage through REST; the physician's account cannot (stage_duty_required)
    app = Application.objects.get(insured_region=changchun, current_stage="insurance_office")
    url = f"/api/v1/applications/{app.pk}/decisions/"
    response = api_as(physician_user).post(url, {"decision": "approve", "opinion": "同意"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"
    response = api_as(office).post(url, {"decision": "approve", "opinion": "同意"}, format="json")
    assert response.status_code == 201 and response.json()["current_stage"] == "bureau"
