"""R-CAT-6, R-APP-7, R-CAT-5: the drug of an application is one generic name in one dosage form. A prescription for
another dosage form is ``no_valid_application``; withdrawal looks at the pair; a manufacturer switch takes effect
once the physician determines it and the institution confirms it."""
import datetime as dt

import pytest
from django.utils import timezone

from apps.applications import services
from apps.applications.models import Application
from apps.institutions.models import HospitalDuty
from apps.prescriptions.models import Prescription
from tests import factories as f
from tests.applications.factories import NOW, give_duties, patient
from tests.prescriptions import factories as rx

# the API (an edge) reads the clock; the fixtures are dated around 1 December 2026
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


def test_r_app_7_dosage_form_required_when_generic_has_two_forms(api_as, zhongwei):
    """奥希替尼 listed as 片剂 and 注射剂: no dosage form → 400 dosage_form_required, nothing written; with 片剂 →
    201 and the application records 片剂."""
    f.DrugFactory(dosage_form="片剂")
    f.DrugFactory(dosage_form="注射剂", route="injection")
    institution = f.InstitutionFactory()
    physician = f.PhysicianFactory(institution=institution)
    hospital = api_as(f.hospital_user(institution))
    body = {"patient": patient(1), "diagnosis_code": "C34.9", "diagnosis_name": "肺恶性肿瘤", "generic_name": "奥希替尼",
            "physician_code": physician.code, "usage": "80mg qd", "course_days": 90}
    response = hospital.post("/api/v1/applications/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "dosage_form_required"
    assert Application.objects.count() == 0
    response = hospital.post("/api/v1/applications/", {**body, "dosage_form": "片剂"}, format="json")
    assert response.status_code == 201 and response.json()["dosage_form"] == "片剂"


def test_r_cat_6_prescription_for_other_dosage_form_is_no_valid_application(api_as):
    """Application for 奥希替尼 片剂; a prescription for 奥希替尼 注射剂 → 400 no_valid_application, nothing written;
    the tablet → 201."""
    s = rx.setup()
    Application.objects.filter(pk=s.application.pk).update(dosage_form=s.drug.dosage_form)
    injection = f.DrugFactory(generic_name=s.drug.generic_name, dosage_form="注射剂", route="injection")
    body = s.upload_body(items=[{"drug_code": injection.code, "quantity": 1, "days_supply": 30}], delivery="hospital")
    response = api_as(s.hospital).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "no_valid_application"
    assert "注射剂" in response.json()["detail"]
    assert Prescription.objects.count() == 0
    assert api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(), format="json").status_code == 201


def test_r_cat_5_withdrawal_of_one_form_keeps_applications_for_the_other(zhongwei):
    """Withdrawing the only 注射剂 product ends applications for 注射剂 and leaves the 片剂 application approved."""
    from tests.prescriptions.factories import approved_application, person

    tablet = f.DrugFactory(dosage_form="片剂")
    injection = f.DrugFactory(dosage_form="注射剂", route="injection")
    physician = f.PhysicianFactory()
    tab_app = approved_application(person=person(), physician=physician, drug=tablet)
    inj_app = approved_application(person=person(), physician=physician, drug=injection)
    Application.objects.filter(pk=tab_app.pk).update(dosage_form="片剂")
    Application.objects.filter(pk=inj_app.pk).update(dosage_form="注射剂")
    count = services.application_terminate_for_drug_withdrawal(drug=injection, withdrawn_on=dt.date(2026, 11, 1),
                                                              reason="调出", actor=f.bureau_admin())
    assert count == 1
    assert Application.objects.get(pk=inj_app.pk).status == Application.Status.TERMINATED
    assert Application.objects.get(pk=tab_app.pk).status == Application.Status.APPROVED


def test_r_cat_6_manufacturer_switch_needs_physician_then_institution(api_as):
    """Application records 阿斯利康; 齐鲁's tablet before the switch → 400 manufacturer_switch_required. The plain
    hospital user cannot determine (403 stage_duty_required); the physician's account determines (201); the
    physician cannot confirm their own switch (403: no insurance-office duty); the insurance office confirms → the
    application records 齐鲁 and the prescription for 齐鲁's tablet → 201."""
    s = rx.setup()
    give_duties(s.institution, s.physician)
    Application.objects.filter(pk=s.application.pk).update(dosage_form="片剂", manufacturer=s.drug.manufacturer)
    qilu = f.DrugFactory(generic_name=s.drug.generic_name, dosage_form="片剂", manufacturer="齐鲁制药有限公司")
    body = s.upload_body(items=[{"drug_code": qilu.code, "quantity": 1, "days_supply": 30}])
    response = api_as(s.hospital).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "manufacturer_switch_required"
    url = f"/api/v1/applications/{s.application.pk}/manufacturer-switches/"
    response = api_as(s.hospital).post(url, {"to_manufacturer": "齐鲁制药有限公司"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"
    s.physician.refresh_from_db()
    response = api_as(s.physician.user).post(url, {"to_manufacturer": "齐鲁制药有限公司"}, format="json")
    assert response.status_code == 201, response.json()
    switch_id = response.json()["id"]
    assert Application.objects.get(pk=s.application.pk).manufacturer == s.drug.manufacturer  # not yet in effect
    response = api_as(s.physician.user).post(f"{url}{switch_id}/confirm/", format="json")
    assert response.status_code == 403 and response.json()["code"] == "stage_duty_required"
    office = HospitalDuty.objects.get(institution=s.institution, duty="insurance_office").user
    response = api_as(office).post(f"{url}{switch_id}/confirm/", format="json")
    assert response.status_code == 200 and response.json()["manufacturer"] == "齐鲁制药有限公司"
    response = api_as(s.hospital).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == 201, response.json()
