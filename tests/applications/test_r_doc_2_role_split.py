"""R-DOC-2 / R-INS-2: where the region splits certifying and treating (the Jilin preset), only a certifying physician
of a certifying institution signs an application, and only a treating physician writes prescriptions. Driven through
REST as the right and the wrong user; Zhongwei (split off) accepts the same physicians."""
import pytest

from apps.applications.models import Application
from apps.core.services import region_settings_apply_preset
from apps.institutions.models import Institution
from apps.prescriptions.models import Prescription
from tests import factories as f
from tests.applications.factories import patient
from tests.prescriptions import factories as rx

# the API (an edge) reads the clock; the fixtures are dated around 1 December 2026
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


def _jilin_hospital(kind=Institution.Kind.CERTIFYING):
    institution = f.InstitutionFactory(region=f.region("220102"), kind=kind)
    region_settings_apply_preset(region=f.region("220100"), preset="jilin")
    return institution


def _body(physician, seq=1):
    return {"patient": patient(seq, region_code="220100", id_number=f.id_number("220102", seq=seq)),
            "diagnosis_code": "C34.9", "diagnosis_name": "肺恶性肿瘤", "generic_name": "奥希替尼",
            "physician_code": physician.code, "usage": "80mg qd", "course_days": 90}


def test_r_doc_2_jilin_certifying_physician_of_certifying_institution_signs(api_as):
    """Jilin preset: split on. A certifying physician (is_certifying) of a certifying institution → 201."""
    f.DrugFactory()
    institution = _jilin_hospital()
    physician = f.PhysicianFactory(institution=institution, is_certifying=True, is_treating=False)
    response = api_as(f.hospital_user(institution)).post("/api/v1/applications/", _body(physician), format="json")
    assert response.status_code == 201, response.json()


def test_r_doc_2_jilin_treating_only_physician_refused_physician_not_certifying(api_as):
    """Jilin: a treating-only physician (is_certifying False) → 400 physician_not_certifying, nothing written."""
    f.DrugFactory()
    institution = _jilin_hospital()
    physician = f.PhysicianFactory(institution=institution, is_certifying=False, is_treating=True)
    response = api_as(f.hospital_user(institution)).post("/api/v1/applications/", _body(physician), format="json")
    assert response.status_code == 400 and response.json()["code"] == "physician_not_certifying"
    assert "认定医师" in response.json()["detail"]
    assert Application.objects.count() == 0


def test_r_ins_2_jilin_treating_institution_cannot_certify(api_as):
    """Jilin: a certifying physician working at a treating-kind institution → physician_not_certifying."""
    f.DrugFactory()
    institution = _jilin_hospital(kind=Institution.Kind.TREATING)
    physician = f.PhysicianFactory(institution=institution, is_certifying=True)
    response = api_as(f.hospital_user(institution)).post("/api/v1/applications/", _body(physician), format="json")
    assert response.status_code == 400 and response.json()["code"] == "physician_not_certifying"
    assert "认定类机构" in response.json()["detail"]
    assert Application.objects.count() == 0


def test_r_doc_2_zhongwei_split_off_accepts_treating_only_physician(api_as, zhongwei):
    """Zhongwei preset: split off. The same treating-only physician signs → 201."""
    region_settings_apply_preset(region=f.region("640500"), preset="zhongwei-2021")
    f.DrugFactory()
    institution = f.InstitutionFactory(kind=Institution.Kind.TREATING)
    physician = f.PhysicianFactory(institution=institution, is_certifying=False)
    body = {**_body(physician), "patient": patient(1)}
    response = api_as(f.hospital_user(institution)).post("/api/v1/applications/", body, format="json")
    assert response.status_code == 201, response.json()


def test_r_doc_2_jilin_certifying_only_physician_cannot_prescribe(api_as):
    """Jilin: upload by a certifying-only physician (is_treating False) → 400 physician_not_treating, no
    prescription; the treating physician of the same hospital uploads the same body → 201."""
    s = rx.setup()
    region_settings_apply_preset(region=f.region("640500"), preset="jilin")
    certifying_only = f.PhysicianFactory(institution=s.institution, is_certifying=True, is_treating=False)
    response = api_as(s.hospital).post("/api/v1/prescriptions/",
                                       s.upload_body(physician_code=certifying_only.code), format="json")
    assert response.status_code == 400 and response.json()["code"] == "physician_not_treating"
    assert Prescription.objects.count() == 0
    response = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(), format="json")
    assert response.status_code == 201, response.json()


def test_r_doc_2_split_off_certifying_only_physician_prescribes(api_as):
    """Zhongwei (split off): the certifying-only physician's prescription is accepted → 201."""
    s = rx.setup()
    certifying_only = f.PhysicianFactory(institution=s.institution, is_certifying=True, is_treating=False)
    response = api_as(s.hospital).post("/api/v1/prescriptions/",
                                       s.upload_body(physician_code=certifying_only.code), format="json")
    assert response.status_code == 201, response.json()
