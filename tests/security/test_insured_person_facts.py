"""R-SEC-1, R-SEC-3 (issue 14 §2): an insured person's identity and insurance facts are not a hospital's to
overwrite. A hospital of another region changes nothing (its inpatient upload or application keeps the stored
facts); a hospital of the person's own pooling region proposes a change that the insured region's bureau approves
(then written, with the event) or rejects."""
import datetime as dt

import pytest
from django.utils import timezone

from apps.applications.models import InsuredPersonChange
from apps.applications.services import (
    insured_person_change_approve, insured_person_change_reject, insured_person_upsert,
)
from apps.core.exceptions import ApplicationError
from apps.core.models import Event
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TODAY = NOW.date()


@pytest.fixture
def s():
    return rx.setup()


def _facts(person):
    person.refresh_from_db()
    return (person.name, person.insurance_type, person.insured_region.code, person.phone, person.employer,
            person.card_number)


def _changed_patient(person, region="430102"):
    return {"name": "李四", "id_number": person.id_number, "insurance_type": "resident", "insured_region": region,
            "phone": "13800000000", "employer": "长沙某公司", "card_number": "CS0000000001"}


def test_r_sec_1_inpatient_upload_by_another_regions_hospital_keeps_the_patients_facts(api_as, s):
    """A Changsha hospital's inpatient prescription for a Zhongwei patient: uploaded, the patient untouched (the
    old code rewrote name, insurance type, insured region, phone and employer)."""
    before = _facts(s.person)
    f.region("430102")
    institution = f.InstitutionFactory(code="H430100001", region=f.region("430102"))
    physician = f.PhysicianFactory(code="D430100001", institution=institution)
    hospital = f.hospital_user(institution)
    body = s.upload_body("RX-IN-1", physician_code=physician.code, application=None, care_setting="inpatient",
                         delivery="ward", patient=_changed_patient(s.person))
    resp = api_as(hospital).post("/api/v1/prescriptions/", body, format="json")
    assert resp.status_code == 201, resp.json()
    assert _facts(s.person) == before
    assert not InsuredPersonChange.objects.exists()


def test_r_sec_1_application_by_another_regions_hospital_changes_nothing(s):
    before = _facts(s.person)
    institution = f.InstitutionFactory(code="H430100002", region=f.region("430102"))
    hospital = f.hospital_user(institution)
    patient = _changed_patient(s.person)
    person = insured_person_upsert(**{k: v for k, v in patient.items() if k != "insured_region"},
                                   insured_region_code=patient["insured_region"], today=TODAY, actor=hospital, now=NOW)
    assert person.pk == s.person.pk
    assert _facts(s.person) == before
    assert not InsuredPersonChange.objects.exists()


def test_r_sec_3_own_region_hospital_proposes_and_the_bureau_approves(s):
    """Zhongwei hospital sends a new phone: nothing changes until Zhongwei's bureau approves; then the phone is
    written with an event naming the change; Changsha's bureau cannot even see it."""
    before = _facts(s.person)
    patient = {"name": s.person.name, "id_number": s.person.id_number, "insurance_type": s.person.insurance_type,
               "insured_region_code": s.person.insured_region.code, "phone": "13911112222"}
    insured_person_upsert(**patient, today=TODAY, actor=s.hospital, now=NOW)
    assert _facts(s.person) == before
    change = InsuredPersonChange.objects.get(person=s.person)
    assert change.status == "pending" and change.after == {"phone": "13911112222"}
    assert change.institution == s.institution and change.requested_by == s.hospital

    with pytest.raises(ApplicationError) as refused:
        insured_person_change_approve(change=change, actor=f.reviewer("430100"), now=NOW)
    assert refused.value.status == 404
    assert _facts(s.person) == before

    insured_person_change_approve(change=change, actor=f.reviewer("640500"), now=NOW)
    s.person.refresh_from_db()
    assert s.person.phone == "13911112222"
    change.refresh_from_db()
    assert change.status == "approved"
    event = Event.objects.filter(action="insured_person_updated", object_id=str(s.person.pk)).latest("id")
    assert event.data["fields"] == ["phone"] and event.data["change"] == change.pk


def test_r_sec_3_bureau_rejects_a_proposed_change(s):
    before = _facts(s.person)
    insured_person_upsert(name="王五", id_number=s.person.id_number, insurance_type=s.person.insurance_type,
                          insured_region_code=s.person.insured_region.code, today=TODAY, actor=s.hospital, now=NOW)
    change = InsuredPersonChange.objects.get(person=s.person)
    with pytest.raises(ApplicationError):
        insured_person_change_reject(change=change, actor=f.reviewer("640500"), now=NOW, reason="")
    insured_person_change_reject(change=change, actor=f.reviewer("640500"), now=NOW, reason="与身份证不符")
    change.refresh_from_db()
    assert change.status == "rejected"
    assert _facts(s.person) == before
    with pytest.raises(ApplicationError) as again:
        insured_person_change_approve(change=change, actor=f.reviewer("640500"), now=NOW)
    assert again.value.status == 409


def test_r_sec_3_a_new_person_is_still_created_by_the_filing_hospital(s):
    number = f.id_number("640502", seq=555)
    person = insured_person_upsert(name="赵六", id_number=number, insurance_type="employee",
                                   insured_region_code="640502", today=TODAY, actor=s.hospital, now=NOW)
    assert person.pk and person.name == "赵六"


def test_r_sec_2_change_admin_masks_phone_and_card(client, s):
    insured_person_upsert(name=s.person.name, id_number=s.person.id_number, insurance_type=s.person.insurance_type,
                          insured_region_code=s.person.insured_region.code, phone="13911112222",
                          card_number="CARD12345678", today=TODAY, actor=s.hospital, now=NOW)
    change = InsuredPersonChange.objects.get(person=s.person)
    client.force_login(f.bureau_admin("640500", is_staff=True))
    page = client.get(f"/admin/applications/insuredpersonchange/{change.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "13911112222" not in text and "139****2222" in text
    assert "CARD12345678" not in text and "CARD****5678" in text
