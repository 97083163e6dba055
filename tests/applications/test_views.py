"""Browser screens through Django's test client: workspace, masking and logged reveal (R-SEC-2), decisions with
form errors (R-APP-4), printable 申请表, hospital pages and the public lookup (R-APP-9)."""
import pytest
from django.utils import timezone
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.applications import services
from apps.applications.models import Application
from apps.core.events import events_for
from apps.core.masking import mask_id_number
from tests import factories as f
from tests.applications.factories import stage_actor
from tests.applications.factories import patient, setup_hospital, submit, stage_actor

# the pages take "now" from the clock (views are edges); the world (agreements, policies) is dated around 2026-12-01
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(zhongwei, changsha):
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    reviewer = f.reviewer("640500")
    apps_at_bureau = []
    for seq in (1, 2, 3):
        app = submit(hospital, physician, seq=seq)
        for _ in range(3):
            app = services.application_decide(application=app, actor=stage_actor(app), decision="approve", now=timezone.now())
        apps_at_bureau.append(app)
    return {"institution": institution, "physician": physician, "hospital": hospital, "reviewer": reviewer,
            "apps": apps_at_bureau}


def login(client, user):
    client.force_login(user)
    return client


def test_r_app_5_queue_lists_bureau_stage_with_counts(client, world):
    response = login(client, world["reviewer"]).get(reverse("applications:queue"))
    html = response.content.decode()
    assert response.status_code == 200
    for app in world["apps"]:
        assert app.number in html
        assert app.person.id_number not in html  # masked (R-SEC-2)
        assert mask_id_number(app.person.id_number) in html
    assert response.context["counts"]["waiting"] == 3


def test_r_sec_2_detail_masks_and_reveal_is_logged(client, world):
    app = world["apps"][0]
    c = login(client, world["reviewer"])
    html = c.get(reverse("applications:detail", args=[app.pk])).content.decode()
    assert app.person.id_number not in html and app.person.phone not in html
    assert "显示完整号码" in html
    html = c.post(reverse("applications:reveal", args=[app.pk, "id_number"]), follow=True).content.decode()  # POST-redirect-GET
    assert app.person.id_number in html
    event = events_for(app).get(action="personal_number_revealed")
    assert event.actor == world["reviewer"] and event.data["field"] == "id_number"


def test_r_app_4_reject_without_opinion_shows_why(client, world):
    app = world["apps"][0]
    response = login(client, world["reviewer"]).post(reverse("applications:detail", args=[app.pk]),
                                                     {"decision": "reject", "opinion": ""})
    assert response.status_code == 200
    assert "不同意时必须填写" in response.content.decode()
    app.refresh_from_db()
    assert app.status == Application.Status.IN_REVIEW and app.reviews.filter(stage="bureau").count() == 0


def test_r_app_4_approve_and_next_moves_to_next_item(client, world):
    first, second, _ = world["apps"]
    response = login(client, world["reviewer"]).post(reverse("applications:detail", args=[first.pk]),
                                                     {"decision": "approve", "opinion": "", "and_next": "1"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("applications:detail", args=[second.pk]))
    first.refresh_from_db()
    assert first.status == Application.Status.APPROVED and first.valid_until is not None


def test_r_sec_1_other_region_reviewer_404_in_browser(client, world):
    app = world["apps"][0]
    c = login(client, f.reviewer("430100"))
    assert c.get(reverse("applications:detail", args=[app.pk])).status_code == 404
    assert c.post(reverse("applications:detail", args=[app.pk]), {"decision": "approve"}).status_code == 404
    assert app.person.name not in c.get(reverse("applications:queue")).content.decode()


def test_r_app_2_documents_shown_inline(client, world):
    app = submit(world["hospital"], world["physician"], seq=9)
    services.application_document_add(application=app, actor=world["hospital"], kind="medical_record",
                                      uploaded_file=SimpleUploadedFile("病历.pdf", PDF))
    c = login(client, world["reviewer"])
    html = c.get(reverse("applications:detail", args=[app.pk])).content.decode()
    doc = app.documents.get()
    url = reverse("applications:document_file", args=[app.pk, doc.pk])
    assert f'<iframe class="doc-view" title="病历.pdf" src="{url}"' in html
    response = c.get(url)
    assert response["Content-Type"] == "application/pdf" and response["X-Frame-Options"] == "SAMEORIGIN"
    assert b"".join(response.streaming_content) == PDF


def test_r_app_2_printable_form_has_001_fields(client, world):
    app = world["apps"][0]
    html = login(client, world["reviewer"]).get(reverse("applications:print", args=[app.pk])).content.decode()
    for label in ("使用申请表", "医保卡号", "人员类别", "享受待遇定点医疗机构", "医疗机构初审信息", "复审意见",
                  "申请人签字", app.generic_name, app.number):
        assert label in html
    assert app.person.id_number not in html


def test_hospital_creates_application_in_browser(client, world):
    c = login(client, world["hospital"])
    data = patient(20)
    form = {"name": data["name"], "id_number": data["id_number"], "insurance_type": "employee",
            "insured_region": "640500", "phone": data["phone"], "card_number": "C1", "employer": "",
            "pharmacy_code": "", "diagnosis_code": "C34.9", "diagnosis_name": "肺恶性肿瘤",
            "generic_name": "奥希替尼", "physician_code": world["physician"].code, "usage": "80mg qd",
            "course_days": "90", "sex": "female"}
    response = c.post(reverse("applications:create"), form)
    assert "与身份证号不一致" in response.content.decode()  # shown once, at the field (R-APP-3)
    form["sex"] = "male"
    response = c.post(reverse("applications:create"), form)
    app = Application.objects.get(person__id_number=data["id_number"])
    assert response.status_code == 302 and response.url == reverse("applications:detail", args=[app.pk])
    assert app.current_stage == "physician"
    # the physician's own account takes the first hospital stage in the browser (R-APP-4 stage duties)
    c.logout()
    c = login(client, stage_actor(app))
    c.post(reverse("applications:detail", args=[app.pk]), {"decision": "approve", "opinion": "符合"})
    app.refresh_from_db()
    assert app.current_stage == "pharmacy_dept"


def test_r_app_9_lookup_right_pair_shows_only_progress(client, world):
    app = world["apps"][0]
    response = client.post(reverse("applications:lookup"),
                           {"number": app.number, "id_suffix": app.person.id_number[-6:]})
    html = response.content.decode()
    assert response.context["result"]["status_code"] == "in_review"
    assert "经办机构审核" in html
    assert app.person.name not in html and app.person.id_number not in html and app.person.phone not in html
    assert world["institution"].name not in html


def test_r_app_9_wrong_guesses_throttled_and_logged(client, world, caplog):
    app = world["apps"][0]
    for _ in range(services.LOOKUP_MAX_FAILURES):
        response = client.post(reverse("applications:lookup"), {"number": app.number, "id_suffix": "000000"})
        assert response.context["result"] is None and response.context["not_found"]
    assert events_for(app).filter(action="public_lookup_failed").count() == services.LOOKUP_MAX_FAILURES
    assert "application lookup failed" in caplog.text
    # now even the right pair is refused for a while
    response = client.post(reverse("applications:lookup"),
                           {"number": app.number, "id_suffix": app.person.id_number[-6:]})
    assert response.status_code == 429 and response.context["result"] is None
    assert "过多" in response.content.decode()


def test_r_doc_3_filing_requests_in_reviewer_workspace(client, world):
    from apps.physicians.models import Physician

    proposed = f.PhysicianFactory(institution=world["institution"], status="proposed", filed_on=None)
    other = f.PhysicianFactory(institution=world["institution"], status="proposed", filed_on=None)
    c = login(client, world["reviewer"])
    assert proposed.name in c.get(reverse("applications:filings")).content.decode()
    # refusing needs a reason
    response = c.post(reverse("applications:filing_detail", args=[proposed.pk]), {"decision": "reject", "reason": ""})
    assert "不予备案时必须填写理由" in response.content.decode()
    proposed.refresh_from_db()
    assert proposed.status == Physician.Status.PROPOSED
    # filing moves on to the next request
    response = c.post(reverse("applications:filing_detail", args=[proposed.pk]), {"decision": "file", "reason": ""})
    assert response.status_code == 302 and response.url == reverse("applications:filing_detail", args=[other.pk])
    proposed.refresh_from_db()
    assert proposed.status == Physician.Status.FILED and proposed.filed_on is not None
    # a hospital cannot file
    assert login(client, world["hospital"]).get(reverse("applications:filings")).status_code == 403
    # another region's reviewer does not see it
    assert login(client, f.reviewer("430100")).get(
        reverse("applications:filing_detail", args=[other.pk])).status_code == 404


def test_bureau_terminates_in_browser_with_reason(client, world):
    app = world["apps"][0]
    c = login(client, world["reviewer"])
    c.post(reverse("applications:detail", args=[app.pk]), {"decision": "approve", "opinion": ""})
    c.post(reverse("applications:terminate", args=[app.pk]), {"reason": ""})
    app.refresh_from_db()
    assert app.status == Application.Status.APPROVED
    c.post(reverse("applications:terminate", args=[app.pk]), {"reason": "参保关系转出"})
    app.refresh_from_db()
    assert app.status == Application.Status.TERMINATED and app.termination_reason == "参保关系转出"
    # a hospital user cannot terminate
    other = world["apps"][1]
    login(client, world["hospital"]).post(reverse("applications:terminate", args=[other.pk]), {"reason": "x"})
    other.refresh_from_db()
    assert other.status == Application.Status.IN_REVIEW


def test_r_app_5_home_figures_show_waiting_and_overdue(world):
    from apps.applications.home import home_figures

    figures = {str(fig.label): fig.value for fig in home_figures(world["reviewer"])}
    assert figures["待审核申请"] == 3 and figures["超时未办结"] == 0 and figures["责任医师待备案"] == 0
    hospital = {str(fig.label): fig.value for fig in home_figures(world["hospital"])}
    assert hospital["待审核申请"] == 0 and hospital["已退回待补充"] == 0
