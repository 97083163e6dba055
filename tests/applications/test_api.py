"""API.md "Treatment applications": create, read with scoping (R-SEC-1), every decision path (R-APP-4),
resubmission, documents."""
import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.applications import services
from apps.applications.models import Application, ApplicationReview, Stage
from tests import factories as f
from tests.applications.factories import patient, setup_hospital, stage_actor

# the API (an edge) reads the clock; the fixtures are dated around 1 December 2026
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _bad_check_digit():
    good = f.id_number(seq=1)
    return good[:17] + ("1" if good[17] != "1" else "2")


@pytest.fixture
def world(zhongwei, changsha):
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    return {"institution": institution, "physician": physician, "pharmacy": pharmacy, "hospital": hospital,
            "reviewer": f.reviewer("640500"), "reviewer_cs": f.reviewer("430100")}


def body(world, seq=1, **overrides):
    data = {"patient": patient(seq), "diagnosis_code": "C34.9", "diagnosis_name": "肺恶性肿瘤",
            "generic_name": "奥希替尼", "physician_code": world["physician"].code,
            "pharmacy_code": world["pharmacy"].code, "usage": "80mg qd", "course_days": 90}
    data.update(overrides)
    return data


def create(api_as, world, seq=1):
    response = api_as(world["hospital"]).post("/api/v1/applications/", body(world, seq), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def hosp(api_as, app_id):
    """A client for the holder of the application's current hospital stage (R-APP-4)."""
    return api_as(stage_actor(Application.objects.get(pk=app_id)))


def decide(client, app_id, decision, opinion=""):
    return client.post(f"/api/v1/applications/{app_id}/decisions/", {"decision": decision, "opinion": opinion},
                       format="json")


def test_r_app_2_hospital_creates_application(api_as, world):
    data = create(api_as, world)
    app = Application.objects.get(pk=data["id"])
    assert data["number"] == app.number and data["status"] == "submitted"
    assert data["current_stage"] == "physician"
    assert data["patient"]["id_number"].count("*") == 8  # masked (R-SEC-2)
    assert app.person.name == "患者1" and app.pharmacy == world["pharmacy"]
    assert app.therapeutic_area.code == "oncology"


@pytest.mark.parametrize("overrides, code, status", [
    ({"patient": {**patient(1), "id_number": _bad_check_digit()}}, "invalid_id_number", 400),
    ({"generic_name": "不存在的药"}, "drug_not_listed", 400),
    ({"physician_code": "D999999999"}, "physician_not_filed", 400),
    ({"pharmacy_code": "P999999999"}, "pharmacy_not_designated", 400),
    ({"course_days": 0}, "invalid", 400),
])
def test_r_sec_4_bad_application_refused_and_nothing_written(api_as, world, overrides, code, status):
    response = api_as(world["hospital"]).post("/api/v1/applications/", body(world, **overrides), format="json")
    assert response.status_code == status and response.json()["code"] == code
    assert Application.objects.count() == 0


def test_r_app_8_physician_of_other_area_refused(api_as, world):
    other = f.PhysicianFactory(institution=world["institution"], areas=["endocrine"])
    response = api_as(world["hospital"]).post("/api/v1/applications/", body(world, physician_code=other.code),
                                              format="json")
    assert response.status_code == 400 and response.json()["code"] == "therapeutic_area_mismatch"


def test_r_doc_3_proposed_physician_cannot_sign(api_as, world):
    proposed = f.PhysicianFactory(institution=world["institution"], status="proposed", filed_on=None)
    response = api_as(world["hospital"]).post("/api/v1/applications/", body(world, physician_code=proposed.code),
                                              format="json")
    assert response.status_code == 400 and response.json()["code"] == "physician_not_filed"


def test_pharmacy_and_reviewer_cannot_create(api_as, world):
    for user in (f.pharmacy_user(world["pharmacy"]), world["reviewer"]):
        response = api_as(user).post("/api/v1/applications/", body(world), format="json")
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_r_app_4_full_chain_approve_via_api(api_as, world):
    app_id = create(api_as, world)["id"]
    hospital = api_as(world["hospital"])
    for expected_next in ("pharmacy_dept", "insurance_office", "bureau"):
        response = decide(hosp(api_as, app_id), app_id, "approve", "同意")
        assert response.status_code == 201
        assert response.json()["current_stage"] == expected_next and response.json()["status"] == "in_review"
    response = decide(api_as(world["reviewer"]), app_id, "approve", "符合条件")
    data = response.json()
    assert data["status"] == "approved" and data["current_stage"] == ""
    assert data["valid_until"] == f"{dt.date.today().year + 1}-12-31"
    assert [r["stage"] for r in data["reviews"]] == ["physician", "pharmacy_dept", "insurance_office", "bureau"]
    assert data["reviews"][-1]["opinion"] == "符合条件"


def test_r_app_4_reject_needs_opinion_and_ends(api_as, world):
    app_id = create(api_as, world)["id"]
    hospital = api_as(world["hospital"])
    response = decide(hosp(api_as, app_id), app_id, "reject", "   ")
    assert response.status_code == 400 and response.json()["code"] == "opinion_required"
    assert "opinion" in response.json()["fields"]
    assert ApplicationReview.objects.count() == 0
    response = decide(hosp(api_as, app_id), app_id, "reject", "诊断依据不足")
    assert response.json()["status"] == "rejected"
    response = decide(hosp(api_as, app_id), app_id, "approve", "同意")
    assert response.status_code == 409 and response.json()["code"] == "application_not_in_review"


def test_r_app_4_return_goes_back_to_physician_and_resubmit(api_as, world):
    app_id = create(api_as, world)["id"]
    hospital = api_as(world["hospital"])
    decide(hosp(api_as, app_id), app_id, "approve", "")
    decide(hosp(api_as, app_id), app_id, "approve", "")
    decide(hosp(api_as, app_id), app_id, "approve", "")
    response = decide(api_as(world["reviewer"]), app_id, "return", "请补充基因检测报告")
    assert response.json()["status"] == "returned" and response.json()["current_stage"] == "physician"
    # a returned application is not decided until resubmitted
    assert decide(hosp(api_as, app_id), app_id, "approve").status_code == 409
    response = hospital.post(f"/api/v1/applications/{app_id}/resubmit/", {"note": "已补充"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "submitted" and response.json()["current_stage"] == "physician"
    assert [r["decision"] for r in response.json()["reviews"]][-2:] == ["return", "resubmit"]


def test_r_app_4_role_not_owning_stage_gets_403(api_as, world):
    app_id = create(api_as, world)["id"]
    response = decide(api_as(world["reviewer"]), app_id, "approve", "")  # physician stage belongs to the hospital
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    hospital = api_as(world["hospital"])
    for _ in range(3):
        decide(hosp(api_as, app_id), app_id, "approve")
    response = decide(hospital, app_id, "approve")  # bureau stage
    assert response.status_code == 403
    assert Application.objects.get(pk=app_id).current_stage == Stage.BUREAU


def test_r_sec_1_other_region_reviewer_gets_404_and_cannot_decide(api_as, world):
    app_id = create(api_as, world)["id"]
    hospital = api_as(world["hospital"])
    for _ in range(3):
        decide(hosp(api_as, app_id), app_id, "approve")
    other = api_as(world["reviewer_cs"])
    assert other.get(f"/api/v1/applications/{app_id}/").status_code == 404
    response = decide(other, app_id, "approve", "同意")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert other.get("/api/v1/applications/").json()["count"] == 0
    assert Application.objects.get(pk=app_id).status == Application.Status.IN_REVIEW


def test_r_sec_1_other_hospital_gets_404(api_as, world):
    app_id = create(api_as, world)["id"]
    other_hospital = api_as(f.hospital_user())
    assert other_hospital.get(f"/api/v1/applications/{app_id}/").status_code == 404
    assert decide(other_hospital, app_id, "approve").status_code == 404
    assert other_hospital.get("/api/v1/applications/").json()["count"] == 0
    assert api_as(world["hospital"]).get("/api/v1/applications/").json()["count"] == 1
    assert api_as(world["reviewer"]).get("/api/v1/applications/").json()["count"] == 1


def test_r_app_2_document_upload_sniffs_content(api_as, world):
    app_id = create(api_as, world)["id"]
    hospital = api_as(world["hospital"])
    url = f"/api/v1/applications/{app_id}/documents/"
    ok = hospital.post(url, {"file": SimpleUploadedFile("病历.pdf", PDF), "kind": "medical_record"},
                       format="multipart")
    assert ok.status_code == 201 and ok.json()["content_type"] == "application/pdf"
    img = hospital.post(url, {"file": SimpleUploadedFile("card.bin", PNG), "kind": "insurance_card"},
                        format="multipart")
    assert img.status_code == 201 and img.json()["content_type"] == "image/png"
    fake = hospital.post(url, {"file": SimpleUploadedFile("report.pdf", b"MZ\x90\x00 not a pdf"),
                               "kind": "medical_record"}, format="multipart")
    assert fake.status_code == 400 and fake.json()["code"] == "unsupported_file_type"
    listing = hospital.get(url).json()
    assert [d["content_type"] for d in listing] == ["application/pdf", "image/png"]
    download = api_as(world["reviewer"]).get(listing[0]["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert api_as(world["reviewer_cs"]).get(listing[0]["url"]).status_code == 404


def test_r_app_2_document_size_limit(api_as, world, monkeypatch):
    app_id = create(api_as, world)["id"]
    monkeypatch.setattr(services, "DOCUMENT_MAX_BYTES", 100)
    response = api_as(world["hospital"]).post(
        f"/api/v1/applications/{app_id}/documents/",
        {"file": SimpleUploadedFile("big.pdf", PDF + b"0" * 200), "kind": "medical_record"}, format="multipart")
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert Application.objects.get(pk=app_id).documents.count() == 0
