"""R-SEC-1, R-SEC-2 (issue 14 §10, §14): a pharmacy sees only the approved applications naming it, masked, without
diagnosis, reviews or documents; ID numbers never travel in URLs (lookups are POSTs); card numbers are masked like
ID numbers; documents are served ``Cache-Control: no-store``; uploads are not world-readable."""
import os
import stat

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.applications.models import Application, ApplicationDocument
from tests import factories as f
from tests.prescriptions import factories as rx

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def s():
    setup = rx.setup()
    setup.person.card_number = "CARD12345678"
    setup.person.save(update_fields=["card_number"])
    return setup


def _in_review(s):
    return Application.objects.create(
        number="SQ9000000001", person=s.person, insured_region=s.person.insured_region, institution=s.institution,
        pharmacy=s.pharmacy, physician=s.physician, generic_name=s.drug.generic_name,
        therapeutic_area=s.drug.therapeutic_area, diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤", usage="x",
        course_days=30, status=Application.Status.IN_REVIEW, submitted_at=timezone.now(),
        applied_on=timezone.localdate())


def test_r_sec_1_pharmacy_lists_only_approved_applications_naming_it(api_as, s):
    in_review = _in_review(s)
    client = api_as(s.pharmacist)
    ids = [row["id"] for row in client.get("/api/v1/applications/").json()["results"]]
    assert ids == [s.application.pk]
    assert client.get(f"/api/v1/applications/{in_review.pk}/").status_code == 404


def test_r_sec_2_pharmacy_sees_an_application_masked_without_diagnosis_or_documents(api_as, s):
    ApplicationDocument.objects.create(application=s.application, kind="medical_record", original_name="病历.pdf",
                                       content_type="application/pdf", size=len(PDF), sha256="0" * 64,
                                       file=SimpleUploadedFile("病历.pdf", PDF))
    client = api_as(s.pharmacist)
    data = client.get(f"/api/v1/applications/{s.application.pk}/").json()
    assert data["diagnosis_code"] == "" and data["diagnosis_name"] == ""
    assert data["documents"] == [] and data["reviews"] == []
    assert data["patient"]["card_number"] == "" and data["patient"]["phone"] == ""
    assert s.person.id_number not in str(data)
    doc = s.application.documents.get()
    assert client.get(f"/api/v1/applications/{s.application.pk}/documents/").status_code == 404
    assert client.get(f"/api/v1/applications/{s.application.pk}/documents/{doc.pk}/").status_code == 404
    # the filing hospital still sees the diagnosis and the document, the card number masked like an ID number
    hospital = api_as(s.hospital).get(f"/api/v1/applications/{s.application.pk}/").json()
    assert hospital["diagnosis_code"] == "C34.9" and len(hospital["documents"]) == 1
    assert hospital["patient"]["card_number"] == "CARD****5678"


def test_r_sec_2_documents_are_served_no_store(api_as, s, settings):
    doc = ApplicationDocument.objects.create(
        application=s.application, kind="medical_record", original_name="病历.pdf", content_type="application/pdf",
        size=len(PDF), sha256="0" * 64, file=SimpleUploadedFile("病历.pdf", PDF))
    resp = api_as(s.hospital).get(f"/api/v1/applications/{s.application.pk}/documents/{doc.pk}/")
    assert resp.status_code == 200
    assert "no-store" in resp["Cache-Control"]


def test_r_sec_2_id_numbers_are_refused_in_urls(api_as, client, s):
    bureau = api_as(f.reviewer("640500"))
    for url in (f"/api/v1/manual-claims/?id_number={s.person.id_number}",
                f"/api/v1/cross-region-filings/?id_number={s.person.id_number}",
                f"/api/v1/applications/?number={s.person.id_number}"):
        resp = bureau.get(url)
        assert resp.status_code == 400 and resp.json()["code"] == "id_number_in_url", url
    # the same lookups are POSTs
    assert bureau.post("/api/v1/manual-claims/search/", {"id_number": s.person.id_number},
                       format="json").status_code == 200
    assert bureau.post("/api/v1/cross-region-filings/search/", {"id_number": s.person.id_number},
                       format="json").status_code == 200


def test_r_sec_2_uploads_are_not_world_readable(settings, s):
    doc = ApplicationDocument.objects.create(
        application=s.application, kind="medical_record", original_name="病历.pdf", content_type="application/pdf",
        size=len(PDF), sha256="0" * 64, file=SimpleUploadedFile("病历.pdf", PDF))
    mode = os.stat(doc.file.path).st_mode
    assert not mode & stat.S_IROTH and not mode & stat.S_IWOTH
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o640
    directory = os.stat(os.path.dirname(doc.file.path)).st_mode
    assert not directory & stat.S_IROTH
