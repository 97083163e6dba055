"""R-SEC-1 (issue 14 §1): a prescription attaches only to an application filed by the uploading institution.
Another institution's application — in another region or the same one — is answered exactly like an application
that does not exist, so application ids cannot be enumerated; nothing is written."""
import pytest

from apps.prescriptions.models import Prescription
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]

URL = "/api/v1/prescriptions/"


@pytest.fixture
def s():
    return rx.setup()


def _other_hospital(region_code: str, code: str):
    institution = f.InstitutionFactory(code=code, region=f.region(region_code))
    physician = f.PhysicianFactory(code="D" + code[1:], institution=institution)
    return f.hospital_user(institution), physician


def _refusal(resp):
    body = resp.json()
    return resp.status_code, body["code"], body["detail"], body["fields"]


@pytest.mark.parametrize("region_code,code", [("430102", "H430100001"), ("640502", "H640500777")])
def test_r_sec_1_another_institutions_application_is_refused_like_a_missing_one(api_as, s, region_code, code):
    """A Changsha hospital, and another Zhongwei hospital, name the Zhongwei hospital's application: the answer is
    the one for an id that does not exist (400 no_valid_application, same text), and no prescription is written."""
    hospital, physician = _other_hospital(region_code, code)
    client = api_as(hospital)
    foreign = client.post(URL, s.upload_body("RX-F1", physician_code=physician.code), format="json")
    missing = client.post(URL, s.upload_body("RX-F2", physician_code=physician.code, application=987654321),
                          format="json")
    assert _refusal(foreign) == _refusal(missing)
    assert _refusal(foreign)[:2] == (400, "no_valid_application")
    assert not Prescription.objects.filter(institution=hospital.institution).exists()


def test_r_sec_1_own_application_still_uploads(api_as, s):
    resp = api_as(s.hospital).post(URL, s.upload_body("RX-OWN"), format="json")
    assert resp.status_code == 201, resp.json()


def test_r_sec_1_patient_by_id_number_only_through_own_applications(api_as, s):
    """Without an application id, a patient whose applications are all another institution's answers like an
    unknown ID number (no attaching to the other hospital's application through the patient)."""
    hospital, physician = _other_hospital("640502", "H640500778")
    client = api_as(hospital)
    by_person = s.upload_body("RX-P1", physician_code=physician.code, application=None,
                              patient={"id_number": s.person.id_number})
    unknown = s.upload_body("RX-P2", physician_code=physician.code, application=None,
                            patient={"id_number": f.id_number("640502", seq=777)})
    first, second = client.post(URL, by_person, format="json"), client.post(URL, unknown, format="json")
    assert _refusal(first) == _refusal(second)
    assert first.status_code == 400
    assert not Prescription.objects.filter(institution=hospital.institution).exists()
