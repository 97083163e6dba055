from io import BytesIO

import pytest
from openpyxl import Workbook

from apps.core.events import events_for
from apps.core.models import CalendarDay, DesignationStatus as S
from apps.institutions.models import Institution
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = f.bureau_admin(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def test_r_ins_3_admin_action_admit_calls_the_service_and_reports_failing_criteria(admin_client):
    ok = f.InstitutionFactory(status=S.APPLIED, level=2, kind="treating")
    bad = f.InstitutionFactory(status=S.APPLIED, level=2, kind="treating", info_system_capable=False)
    url = "/admin/institutions/institution/"
    form = admin_client.post(url, {"action": "admit", "_selected_action": [ok.pk, bad.pk]})
    assert form.status_code == 200 and "补充协议编号" in form.content.decode()
    resp = admin_client.post(url, {"action": "admit", "_selected_action": [ok.pk, bad.pk], "apply": "1",
                                   "agreement_no": "SXT-9", "agreement_start": "2026-01-01",
                                   "agreement_end": "2027-12-31"}, follow=True)
    text = resp.content.decode()
    assert "信息系统可审核、流转、追溯处方" in text
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert ok.status == S.ADMITTED and ok.agreement_no == "SXT-9"
    assert bad.status == S.APPLIED
    assert events_for(ok).get().actor == admin_client.user


def test_admin_change_form_keeps_status_read_only_and_saves_through_service(admin_client):
    institution = f.InstitutionFactory(name="旧名")
    url = f"/admin/institutions/institution/{institution.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
    data = {"name": "新名", "region": institution.region.pk, "address": "", "contact_name": "", "contact_phone": "",
            "level": 3, "hospital_type": "general", "specialty": "", "kind": "certifying",
            "has_clinical_department": "on", "sells_at_negotiated_price": "on", "info_system_capable": "on",
            "no_penalty_past_year": "on", "registration_changed_on": "", "unable_to_serve_since": "",
            "status": "exited"}
    resp = admin_client.post(url, data)
    assert resp.status_code == 302
    institution.refresh_from_db()
    assert institution.name == "新名" and institution.status == S.ADMITTED
    assert events_for(institution).get().action == "institution_updated"


def test_admin_change_refused_by_service_shows_message_and_changes_nothing(admin_client):
    f.InstitutionFactory(level=3)
    treating = f.InstitutionFactory(level=2, kind="treating", name="二级医院")
    url = f"/admin/institutions/institution/{treating.pk}/change/"
    data = {"name": "二级医院改", "region": treating.region.pk, "level": 2, "hospital_type": "general",
            "kind": "certifying", "has_clinical_department": "on", "sells_at_negotiated_price": "on",
            "info_system_capable": "on", "no_penalty_past_year": "on"}
    resp = admin_client.post(url, data, follow=True)
    assert "最高等级" in resp.content.decode()
    treating.refresh_from_db()
    assert treating.kind == "treating" and treating.name == "二级医院"


def test_r_app_5_admin_calendar_import_page_lists_bad_rows(admin_client):
    wb = Workbook()
    ws = wb.active
    ws.append(["日期", "类型", "名称"])
    ws.append(["2027-13-01", "法定节假日", "x"])
    buf = BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "c.xlsx"
    resp = admin_client.post("/admin/core/calendarday/import/", {"file": buf})
    assert resp.status_code == 200
    assert "日期无效：2027-13-01" in resp.content.decode()
    assert not CalendarDay.objects.filter(date__year=2027).exists()


def test_admin_user_unlock_action(admin_client):
    import datetime as dt

    from django.utils import timezone
    user = f.reviewer()
    user.locked_until = timezone.now() + dt.timedelta(minutes=10)
    user.failed_login_count = 3
    user.save()
    admin_client.post("/admin/accounts/user/", {"action": "unlock", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert user.locked_until is None and user.failed_login_count == 0


def test_admin_pages_render(admin_client):
    f.PhysicianFactory()
    for url in ["/admin/", "/admin/core/region/", "/admin/core/event/", "/admin/core/sanction/",
                "/admin/physicians/physician/", "/admin/pharmacies/pharmacy/", "/admin/policies/paymentpolicy/",
                "/admin/accounts/user/", "/admin/core/calendarday/", "/admin/physicians/physician/add/",
                "/admin/institutions/institution/add/"]:
        assert admin_client.get(url).status_code == 200, url
    assert Institution.objects.count() == 1


def test_r_sec_1_non_superuser_bureau_admin_uses_admin_within_its_region(client):
    zw = f.InstitutionFactory(name="中卫医院")
    f.InstitutionFactory(code="H430100700", name="长沙医院", region=f.region("430102"))
    user = f.bureau_admin("430100", is_staff=True)
    client.force_login(user)
    page = client.get("/admin/institutions/institution/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "长沙医院" in text and "中卫医院" not in text
    assert client.get(f"/admin/institutions/institution/{zw.pk}/change/").status_code == 302  # not found → index
    # the holiday calendar is shared reference data: a region's administrator reads it, only a system-wide role
    # imports it (issue 14 §5)
    assert client.get("/admin/core/calendarday/").status_code == 200
    assert client.get("/admin/core/calendarday/import/").status_code == 302


def test_reviewer_has_no_admin_access(client):
    client.force_login(f.reviewer(is_staff=True))
    assert client.get("/admin/institutions/institution/").status_code == 403
