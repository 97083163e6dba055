import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command

from apps.core.models import DesignationStatus as S
from apps.institutions.models import Institution
from apps.physicians.models import Physician
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_r_sec_1_hospital_gets_404_for_another_hospitals_physician(api_as):
    mine = f.PhysicianFactory()
    other = f.PhysicianFactory()
    client = api_as(f.hospital_user(mine.institution))
    assert client.get(f"/api/v1/physicians/{mine.pk}/").json()["code"] == mine.code
    resp = client.get(f"/api/v1/physicians/{other.pk}/")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert [p["code"] for p in client.get("/api/v1/physicians/").json()["results"]] == [mine.code]


def test_r_sec_1_reviewer_of_another_region_gets_404(api_as):
    zw = f.InstitutionFactory(region=f.region("640502"))
    physician = f.PhysicianFactory(institution=zw)
    client = api_as(f.reviewer("430100"))
    assert client.get(f"/api/v1/institutions/{zw.pk}/").status_code == 404
    assert client.get(f"/api/v1/physicians/{physician.pk}/").status_code == 404
    assert client.get("/api/v1/institutions/").json()["count"] == 0
    assert api_as(f.reviewer("640500")).get(f"/api/v1/institutions/{zw.pk}/").status_code == 200


def test_r_sec_1_roles_that_may_not_write_get_403(api_as):
    institution = f.InstitutionFactory()
    for user in (f.reviewer(), f.hospital_user(institution), f.pharmacy_user()):
        client = api_as(user)
        resp = client.post(f"/api/v1/institutions/{institution.pk}/suspend/", {"reason": "x"}, format="json")
        assert resp.status_code in (403, 404)
        assert resp.json()["code"] in ("permission_denied", "not_found")
    resp = api_as(f.reviewer()).post(f"/api/v1/institutions/{institution.pk}/suspend/", {"reason": "x"}, format="json")
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    institution.refresh_from_db()
    assert institution.status == S.ADMITTED


def test_r_ins_3_admit_suspend_exit_through_the_api(api_as):
    client = api_as(f.bureau_admin())
    f.region("640502")
    resp = client.post("/api/v1/institutions/", {
        "code": "H640500321", "name": "中卫市第二人民医院", "region": "640502", "level": 2, "kind": "treating",
        "has_clinical_department": True, "sells_at_negotiated_price": True, "info_system_capable": False,
    }, format="json")
    assert resp.status_code == 201 and resp.json()["status"] == "applied"
    pk = resp.json()["id"]
    agreement = {"agreement_no": "SXT-1", "agreement_start": "2026-01-01", "agreement_end": "2027-12-31"}
    refused = client.post(f"/api/v1/institutions/{pk}/admit/", agreement, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "criteria_not_met"
    assert "信息系统可审核、流转、追溯处方" in refused.json()["detail"]
    assert client.patch(f"/api/v1/institutions/{pk}/", {"info_system_capable": True}, format="json").status_code == 200
    admitted = client.post(f"/api/v1/institutions/{pk}/admit/", agreement, format="json").json()
    assert admitted["status"] == "admitted" and admitted["agreement_end"] == "2027-12-31"
    assert all(c["met"] for c in admitted["criteria"])
    assert client.post(f"/api/v1/institutions/{pk}/suspend/", {"reason": "整改"}, format="json").json()["status"] == "suspended"
    assert client.post(f"/api/v1/institutions/{pk}/exit/", {"reason": "退出"}, format="json").json()["status"] == "exited"
    again = client.post(f"/api/v1/institutions/{pk}/suspend/", {"reason": "x"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_status"


def test_admin_of_another_region_cannot_create_in_foreign_region(api_as):
    client = api_as(f.bureau_admin("430100"))
    f.region("640502")
    resp = client.post("/api/v1/institutions/", {"code": "H640500999", "name": "x", "region": "640502", "level": 2},
                       format="json")
    assert resp.status_code == 400 and "region" in resp.json()["fields"]
    assert not Institution.objects.filter(code="H640500999").exists()


def test_r_doc_3_hospital_proposes_and_bureau_files_through_the_api(api_as):
    institution = f.InstitutionFactory()
    hospital = api_as(f.hospital_user(institution))
    resp = hospital.post("/api/v1/physicians/", {
        "name": "杜仲", "department": "肿瘤内科", "title": "associate_chief", "is_certifying": True,
        "therapeutic_areas": ["oncology"]}, format="json")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["status"] == "proposed" and body["institution"] == institution.code
    # the hospital cannot file its own proposal
    assert hospital.post(f"/api/v1/physicians/{body['id']}/file/", {}, format="json").status_code == 403
    filed = api_as(f.reviewer()).post(f"/api/v1/physicians/{body['id']}/file/", {"filed_on": "2026-06-01"},
                                      format="json")
    assert filed.status_code == 200 and filed.json()["status"] == "filed" and filed.json()["filed_on"] == "2026-06-01"
    revoked = api_as(f.bureau_admin()).post(f"/api/v1/physicians/{body['id']}/revoke/",
                                            {"reason": "调离", "on": "2026-09-01"}, format="json")
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_on"] == "2026-09-01"


def test_r_doc_1_ineligible_proposal_refused_with_fields(api_as):
    institution = f.InstitutionFactory(level=3)
    resp = api_as(f.hospital_user(institution)).post("/api/v1/physicians/", {
        "name": "年轻医生", "department": "内科", "title": "resident", "therapeutic_areas": ["oncology"]},
        format="json")
    assert resp.status_code == 400
    assert resp.json()["code"] == "physician_not_eligible" and "title" in resp.json()["fields"]
    assert not Physician.objects.exists()


def test_hospital_cannot_propose_for_another_hospital_through_the_api(api_as):
    mine, other = f.InstitutionFactory(), f.InstitutionFactory()
    resp = api_as(f.hospital_user(mine)).post("/api/v1/physicians/", {
        "institution": other.code, "name": "x", "department": "内科", "title": "chief",
        "therapeutic_areas": ["oncology"]}, format="json")
    assert resp.status_code == 400 and "institution" in resp.json()["fields"]


def test_pharmacy_cannot_see_physicians_and_reads_its_own_pharmacy(api_as):
    pharmacy = f.PharmacyFactory()
    other = f.PharmacyFactory()
    f.PhysicianFactory()
    client = api_as(f.pharmacy_user(pharmacy))
    assert client.get("/api/v1/physicians/").json()["count"] == 0
    assert client.get(f"/api/v1/pharmacies/{pharmacy.pk}/").status_code == 200
    assert client.get(f"/api/v1/pharmacies/{other.pk}/").status_code == 404


def test_list_filters_and_search(api_as):
    f.InstitutionFactory(name="中卫市人民医院", level=3)
    f.InstitutionFactory(name="中宁县人民医院", level=2, kind="treating", region=f.region("640521"))
    client = api_as(f.reviewer())
    assert client.get("/api/v1/institutions/?search=中宁").json()["count"] == 1
    assert client.get("/api/v1/institutions/?level=3").json()["count"] == 1
    assert client.get("/api/v1/institutions/?region=640521").json()["count"] == 1
    assert client.get("/api/v1/institutions/?region=640500").json()["count"] == 2
    f.PhysicianFactory(title="chief", department="内分泌科", areas=["endocrine"])
    assert client.get("/api/v1/physicians/?therapeutic_area=endocrine").json()["count"] == 1
    assert client.get("/api/v1/physicians/?title=associate_chief").json()["count"] == 0


def test_r_pha_2_revoke_licence_through_the_api(api_as):
    pharmacy = f.PharmacyFactory()
    resp = api_as(f.bureau_admin()).post(f"/api/v1/pharmacies/{pharmacy.pk}/revoke-licence/",
                                         {"revoked_on": "2026-06-01", "reason": "药监吊销"}, format="json")
    assert resp.status_code == 200
    assert resp.json()["status"] == "exited" and resp.json()["trading_licence_valid"] is False


def test_r_pay_1_policy_lookup_and_create_through_the_api(api_as):
    f.policy("640500", "zhongwei-2021")
    f.region("640521")
    client = api_as(f.bureau_admin())
    resp = client.get("/api/v1/policies/lookup/?region=640521&on=2026-06-01")
    assert resp.status_code == 200 and resp.json()["region"] == "640500"
    assert resp.json()["deductible_outpatient_employee"] == "500.00"
    created = client.post("/api/v1/policies/", {"region": "640521", "preset": "hunan-2026", "valid_from": "2026-07-01"},
                          format="json")
    assert created.status_code == 201
    assert client.get("/api/v1/policies/lookup/?region=640521&on=2026-07-01").json()["ratio_outpatient_employee"] == "0.7000"
    hospital = api_as(f.hospital_user())
    assert hospital.post("/api/v1/policies/", {"region": "640500", "preset": "hunan-2026", "valid_from": "2027-01-01"},
                         format="json").status_code == 403


def test_users_api_for_bureau_admins_only_and_scoped(api_as):
    admin = f.bureau_admin()
    institution = f.InstitutionFactory()
    client = api_as(admin)
    resp = client.post("/api/v1/users/", {"username": "zw_hosp", "password": "Strong-pass-2026!", "role": "hospital",
                                          "institution": institution.code}, format="json")
    assert resp.status_code == 201 and resp.json()["institution"] == institution.code
    cs_user = f.reviewer("430100")
    assert client.get(f"/api/v1/users/{cs_user.pk}/").status_code == 404
    assert api_as(f.reviewer()).get("/api/v1/users/").status_code == 403


def test_calendar_api_read_for_all_write_for_admin(api_as):
    reader = api_as(f.hospital_user())
    days = reader.get("/api/v1/calendar/?year=2026&kind=workday").json()
    assert days["count"] == 6 and days["results"][0]["date"] == "2026-01-04"
    assert reader.post("/api/v1/calendar/", {"date": "2027-01-01", "kind": "holiday"}, format="json").status_code == 403
    # the calendar is shared reference data: a region's administrator reads it, a system-wide role writes it (R-SEC-1)
    body = {"date": "2027-01-01", "kind": "holiday", "name": "元旦"}
    assert api_as(f.bureau_admin()).post("/api/v1/calendar/", body, format="json").status_code == 403
    created = api_as(f.system_admin()).post("/api/v1/calendar/", body, format="json")
    assert created.status_code == 201 and created.json()["kind_display"] == "法定节假日"


def test_r_sec_3_audit_log_entry_with_before_and_after_on_registry_change(api_as):
    institution = f.InstitutionFactory(name="旧名称医院")
    admin = f.bureau_admin()
    api_as(admin).patch(f"/api/v1/institutions/{institution.pk}/", {"name": "新名称医院"}, format="json")
    entry = LogEntry.objects.get_for_object(institution).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.changes_dict["name"] == ["旧名称医院", "新名称医院"]
    assert entry.actor == admin


def test_api_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_demo_registries_load_twice_without_error():
    """The registries part of the demo is re-runnable (the whole loader twice: tests/demo/test_loader.py)."""
    from apps.demo import regions
    from apps.demo.loader import moment_of
    day = dt.date(2026, 11, 25)
    regions.load(today=day, now=moment_of(day))
    counts = (Institution.objects.count(), Physician.objects.count())
    regions.load(today=day, now=moment_of(day))
    assert (Institution.objects.count(), Physician.objects.count()) == counts
    assert Institution.objects.get(code="H640500001").status == S.ADMITTED
    assert Physician.objects.filter(status="filed").count() >= 10
