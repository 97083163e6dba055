"""Prescription upload: R-RX-1..4 (every R-RX-2 refusal code), replay and conflict, scoping."""
import datetime as dt

import pytest
from django.utils import timezone

from apps.core.events import EventAction
from apps.core.models import DesignationStatus, Event, RegionSettings
from apps.physicians.models import Physician
from apps.prescriptions.models import Prescription, PrescriptionItem
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


@pytest.fixture
def s():
    return rx.setup()


def upload(api_as, s, body):
    return api_as(s.hospital).post("/api/v1/prescriptions/", body, format="json")


def assert_refused(response, code, status=400):
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert Prescription.objects.count() == 0 and PrescriptionItem.objects.count() == 0


def test_r_rx_1_upload_flows_to_pharmacy_with_expiry(api_as, s):
    issued = timezone.now() - dt.timedelta(hours=1)
    r = upload(api_as, s, s.upload_body(issued_at=issued))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "flowed" and body["serial_no"] == "RX0001"
    p = Prescription.objects.get(pk=body["id"])
    assert p.pharmacy == s.pharmacy and p.person == s.person and p.application == s.application
    assert p.expires_at == issued + dt.timedelta(days=3)  # R-RX-4 default
    assert p.items.get().quantity == 3


def test_r_rx_4_validity_days_from_region_settings(api_as, s):
    RegionSettings.objects.create(region=f.region("640500"), prescription_validity_days=2)
    issued = timezone.now() - dt.timedelta(hours=1)
    r = upload(api_as, s, s.upload_body(issued_at=issued))
    assert Prescription.objects.get(pk=r.json()["id"]).expires_at == issued + dt.timedelta(days=2)


def test_r_rx_3_replay_same_content_returns_same_prescription(api_as, s):
    body = s.upload_body()
    first = upload(api_as, s, body)
    again = upload(api_as, s, body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Prescription.objects.count() == 1 and PrescriptionItem.objects.count() == 1


def test_r_rx_3_same_serial_different_content_is_conflict(api_as, s):
    upload(api_as, s, s.upload_body())
    r = upload(api_as, s, s.upload_body(quantity=2))
    assert r.status_code == 409 and r.json()["code"] == "serial_conflict"
    assert Prescription.objects.count() == 1
    assert Prescription.objects.get().items.get().quantity == 3


def test_r_rx_3_serial_unique_per_institution_not_globally(api_as, s):
    upload(api_as, s, s.upload_body())
    other_physician = f.PhysicianFactory()
    other_hospital = f.hospital_user(other_physician.institution)
    app = rx.approved_application(person=s.person, physician=other_physician, drug=s.drug)
    body = s.upload_body(application=app.pk, physician_code=other_physician.code)
    r = api_as(other_hospital).post("/api/v1/prescriptions/", body, format="json")
    assert r.status_code == 201
    assert Prescription.objects.filter(serial_no="RX0001").count() == 2


def test_r_rx_2_physician_not_filed(api_as, s):
    s.physician.status = Physician.Status.PROPOSED
    s.physician.save()
    assert_refused(upload(api_as, s, s.upload_body()), "physician_not_filed")


def test_r_rx_2_revoked_physician_refused_after_revocation(api_as, s):
    s.physician.status, s.physician.revoked_on = Physician.Status.REVOKED, timezone.localdate() - dt.timedelta(days=1)
    s.physician.save()
    assert_refused(upload(api_as, s, s.upload_body()), "physician_not_filed")


def test_r_rx_2_physician_of_another_institution_refused(api_as, s):
    stranger = f.PhysicianFactory()
    assert_refused(upload(api_as, s, s.upload_body(physician_code=stranger.code)), "physician_not_filed")


def test_r_rx_2_no_valid_application(api_as, s):
    s.application.valid_until = timezone.localdate() - dt.timedelta(days=1)
    s.application.save()
    assert_refused(upload(api_as, s, s.upload_body()), "no_valid_application")


def test_r_rx_2_application_for_another_generic_is_not_valid(api_as, s):
    other = f.DrugFactory(generic_name="阿美替尼")
    body = s.upload_body()
    body["items"][0]["drug_code"] = other.code
    assert_refused(upload(api_as, s, body), "no_valid_application")


def test_r_app_8_therapeutic_area_mismatch(api_as, s):
    s.physician.therapeutic_areas.set([f.area("endocrine")])
    assert_refused(upload(api_as, s, s.upload_body()), "therapeutic_area_mismatch")


def test_r_rx_2_drug_not_listed_after_withdrawal(api_as, s):
    s.drug.withdrawn_on = timezone.localdate() - dt.timedelta(days=10)
    s.drug.save()
    assert_refused(upload(api_as, s, s.upload_body()), "drug_not_listed")


def test_r_rx_2_unknown_drug_is_not_listed(api_as, s):
    body = s.upload_body()
    body["items"][0]["drug_code"] = "X" + "9" * 22
    assert_refused(upload(api_as, s, body), "drug_not_listed")


def test_r_rx_2_days_supply_over_30(api_as, s):
    assert_refused(upload(api_as, s, s.upload_body(days_supply=31)), "days_supply_exceeded")


def test_r_rx_2_long_term_allows_84_days_not_85(api_as, s):
    assert upload(api_as, s, s.upload_body("LT1", days_supply=84, long_term=True)).status_code == 201
    r = upload(api_as, s, s.upload_body("LT2", days_supply=85, long_term=True))
    assert r.status_code == 400 and r.json()["code"] == "days_supply_exceeded"
    assert Prescription.objects.count() == 1


def test_r_rx_2_pharmacy_not_designated(api_as, s):
    s.pharmacy.status = DesignationStatus.SUSPENDED
    s.pharmacy.save()
    assert_refused(upload(api_as, s, s.upload_body()), "pharmacy_not_designated")


def test_r_rx_2_unknown_pharmacy_not_designated(api_as, s):
    assert_refused(upload(api_as, s, s.upload_body(pharmacy_code="P999")), "pharmacy_not_designated")


def test_r_rx_1_malformed_upload_is_invalid(api_as, s):
    body = s.upload_body()
    del body["items"]
    r = upload(api_as, s, body)
    assert_refused(r, "invalid")
    assert "items" in r.json()["fields"]


def test_r_rx_1_only_hospitals_upload(api_as, s):
    r = api_as(s.pharmacist).post("/api/v1/prescriptions/", s.upload_body(), format="json")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


def test_r_app_1_inpatient_needs_no_application_and_goes_to_ward(api_as, s):
    body = s.upload_body("IN1", care_setting="inpatient", application=None, delivery="ward",
                         patient={"name": "李四", "id_number": f.id_number("640502", seq=77),
                                  "insurance_type": "resident", "insured_region": "640502"})
    r = upload(api_as, s, body)
    assert r.status_code == 201, r.content
    p = Prescription.objects.get(pk=r.json()["id"])
    assert p.application is None and p.delivery == "ward" and p.person.name == "李四"


def test_r_rx_7_injection_is_delivered_to_hospital(api_as, s):
    injection = f.DrugFactory(route="injection")
    body = s.upload_body()
    body["items"][0]["drug_code"] = injection.code
    r = upload(api_as, s, body)
    assert r.status_code == 201 and r.json()["delivery"] == "hospital"
    body = s.upload_body("RX2", delivery="pickup")
    body["items"][0]["drug_code"] = injection.code
    assert upload(api_as, s, body).status_code == 400


def test_r_sec_1_pharmacy_sees_only_what_flowed_to_it_and_download_is_recorded(api_as, s):
    pid = upload(api_as, s, s.upload_body()).json()["id"]
    other = f.pharmacy_user()
    assert api_as(other).get(f"/api/v1/prescriptions/{pid}/").status_code == 404
    assert api_as(other).get("/api/v1/prescriptions/").json()["count"] == 0
    assert Prescription.objects.get(pk=pid).downloaded_at is None
    listed = api_as(s.pharmacist).get("/api/v1/prescriptions/?status=flowed").json()
    assert [p["id"] for p in listed["results"]] == [pid]
    assert listed["results"][0]["patient"]["id_number"].count("*") == 8  # R-SEC-2 masked
    first = Prescription.objects.get(pk=pid).downloaded_at
    assert first is not None
    api_as(s.pharmacist).get(f"/api/v1/prescriptions/{pid}/")
    assert Prescription.objects.get(pk=pid).downloaded_at == first
    hospital_view = api_as(s.hospital).get(f"/api/v1/prescriptions/{pid}/").json()
    assert hospital_view["downloaded_at"] is not None


def test_r_sec_3_first_download_writes_one_typed_event(api_as, s):
    """R-RX-6 / R-SEC-3: the pharmacy's first download is an event like every other change (one row, its actor,
    action ``prescription_downloaded`` labelled 药店下载处方); a second download writes nothing."""
    pid = upload(api_as, s, s.upload_body()).json()["id"]
    api_as(s.pharmacist).get("/api/v1/prescriptions/?status=flowed")
    api_as(s.pharmacist).get(f"/api/v1/prescriptions/{pid}/")
    events = Event.objects.filter(action=EventAction.PRESCRIPTION_DOWNLOADED, object_id=str(pid))
    assert events.count() == 1
    assert events.get().actor == s.pharmacist and events.get().get_action_display() == "药店下载处方"


def test_r_sec_1_other_hospital_cannot_see_prescription(api_as, s):
    pid = upload(api_as, s, s.upload_body()).json()["id"]
    assert api_as(f.hospital_user()).get(f"/api/v1/prescriptions/{pid}/").status_code == 404
