import pytest

from apps.core.models import DesignationStatus as S
from apps.physicians.models import Physician
from tests import factories as f

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def test_bureau_institution_list_search_filters_and_detail(client):
    a = f.InstitutionFactory(name="中卫市人民医院", level=3)
    b = f.InstitutionFactory(name="中宁县人民医院", level=2, kind="treating", region=f.region("640521"),
                             status=S.APPLIED)
    f.InstitutionFactory(code="H430100500", name="长沙医院", region=f.region("430102"))
    login(client, f.reviewer())
    text = client.get("/institutions/").content.decode()
    assert a.name in text and b.name in text and "长沙医院" not in text
    text = client.get("/institutions/?q=中宁").content.decode()
    assert b.name in text and a.name not in text
    text = client.get("/institutions/?status=applied&level=2&region=640521").content.decode()
    assert b.name in text and a.name not in text
    detail = client.get(f"/institutions/{a.pk}/").content.decode()
    assert "纳入条件" in detail and "信息系统可审核、流转、追溯处方" in detail
    assert "确认暂停" not in detail  # reviewers have no lifecycle buttons


def test_r_ins_3_detail_page_actions_call_services_and_show_errors(client):
    admin = f.bureau_admin()
    login(client, admin)
    applicant = f.InstitutionFactory(status=S.APPLIED, level=2, kind="treating", info_system_capable=False)
    resp = client.post(f"/institutions/{applicant.pk}/admit/", {
        "agreement_no": "SXT-1", "agreement_start": "2026-01-01", "agreement_end": "2027-12-31"}, follow=True)
    assert "不符合纳入条件：信息系统可审核、流转、追溯处方" in resp.content.decode()
    applicant.refresh_from_db()
    assert applicant.status == S.APPLIED
    admitted = f.InstitutionFactory()
    resp = client.post(f"/institutions/{admitted.pk}/suspend/", {"reason": "处方流转异常"}, follow=True)
    admitted.refresh_from_db()
    assert admitted.status == S.SUSPENDED
    page = resp.content.decode()
    assert "已暂停" in page and "处方流转异常" in page  # status history on the detail page
    assert "已纳入 → 暂停" in page
    resp = client.post(f"/institutions/{admitted.pk}/sanction/", {"kind": "interview", "decided_on": "2026-05-01",
                                                                   "reason": "约谈负责人"}, follow=True)
    assert "约谈负责人" in resp.content.decode()


def test_r_sec_1_hospital_sees_own_institution_and_404_for_other(client):
    mine, other = f.InstitutionFactory(), f.InstitutionFactory()
    other_physician = f.PhysicianFactory(institution=other)
    login(client, f.hospital_user(mine))
    assert client.get("/institutions/").url == f"/institutions/{mine.pk}/"
    assert client.get(f"/institutions/{other.pk}/").status_code == 404
    assert client.get(f"/physicians/{other_physician.pk}/").status_code == 404
    assert client.post(f"/institutions/{mine.pk}/exit/", {"reason": "x"}).status_code == 403


def test_r_doc_3_hospital_proposes_in_the_browser_and_reviewer_files(client):
    institution = f.InstitutionFactory()
    login(client, f.hospital_user(institution))
    resp = client.post("/physicians/propose/", {
        "name": "孙思邈", "department": "肿瘤内科", "title": "resident", "is_treating": "on",
        "therapeutic_areas": [f.area("oncology").pk]})
    assert resp.status_code == 200 and "责任医师须具有副主任医师及以上职称" in resp.content.decode()
    resp = client.post("/physicians/propose/", {
        "name": "孙思邈", "department": "肿瘤内科", "title": "chief", "is_treating": "on",
        "therapeutic_areas": [f.area("oncology").pk], "no_insurance_sanction_3y": "on",
        "no_pharmacy_incident_3y": "on"})
    physician = Physician.objects.get(name="孙思邈")
    assert resp.status_code == 302 and physician.institution == institution and physician.status == "proposed"
    client.logout()
    login(client, f.reviewer())
    client.post(f"/physicians/{physician.pk}/file/", {"filed_on": "2026-06-01"})
    physician.refresh_from_db()
    assert physician.status == "filed"
    assert client.post(f"/physicians/{physician.pk}/revoke/", {"reason": "x"}).status_code == 403  # admin only


def test_physician_list_filters(client):
    f.PhysicianFactory(name="甲", title="chief", department="内分泌科", areas=["endocrine"])
    f.PhysicianFactory(name="乙", title="associate_chief", department="肿瘤内科")
    login(client, f.reviewer())
    text = client.get("/physicians/?area=endocrine").content.decode()
    assert "甲" in text and "乙" not in text
    text = client.get("/physicians/?title=associate_chief&department=肿瘤").content.decode()
    assert "乙" in text and "内分泌科" not in text


def test_pharmacy_pages_and_licence_revocation(client):
    pharmacy = f.PharmacyFactory(name="国大药房")
    login(client, f.bureau_admin())
    assert "国大药房" in client.get("/pharmacies/?q=国大").content.decode()
    client.post(f"/pharmacies/{pharmacy.pk}/revoke-licence/", {"revoked_on": "2026-06-01", "reason": "吊销"})
    pharmacy.refresh_from_db()
    assert pharmacy.status == S.EXITED
    client.logout()
    login(client, f.pharmacy_user(pharmacy))
    assert client.get("/pharmacies/").url == f"/pharmacies/{pharmacy.pk}/"


def test_home_figures_show_the_users_real_counts(client):
    institution = f.InstitutionFactory()
    f.InstitutionFactory(status=S.APPLIED)
    f.PhysicianFactory(institution=institution)
    f.PhysicianFactory(institution=institution, status="proposed", filed_on=None)
    f.PhysicianFactory()  # another hospital's
    login(client, f.reviewer())
    figures = {str(fig.label): fig.value for fig in client.get("/", follow=True).context["figures"]}
    assert figures["已纳入定点医疗机构"] == 2  # the factory's third institution (for the last physician) too
    assert figures["待纳入医疗机构申请"] == 1
    assert figures["已备案责任医师"] == 2 and figures["待备案的医师提名"] == 1
    client.logout()
    login(client, f.hospital_user(institution))
    figures = {str(fig.label): fig.value for fig in client.get("/").context["figures"]}
    assert figures["本院已备案责任医师"] == 1 and figures["本院待备案提名"] == 1


def test_navigation_by_role(client):
    login(client, f.hospital_user())
    nav = [str(item["label"]) for item in client.get("/").context["nav_items"]]
    assert "本院信息" in nav and "责任医师" in nav and "定点医疗机构" not in nav
    client.logout()
    login(client, f.bureau_admin())
    nav = [str(item["label"]) for item in client.get("/", follow=True).context["nav_items"]]
    assert {"定点医疗机构", "责任医师", "定点药店"} <= set(nav)
    # the Django admin is for system administrators only: a region's administrator gets no links into it
    assert not {"支付政策", "节假日安排"} & set(nav)
    client.logout()
    login(client, f.system_admin())
    nav = [str(item["label"]) for item in client.get("/", follow=True).context["nav_items"]]
    assert {"定点医疗机构", "责任医师", "定点药店", "支付政策", "节假日安排"} <= set(nav)


def test_r_ins_5_coverage_and_r_doc_4_departments_report(client):
    covered = f.region("640502")
    f.region("640521")
    institution = f.InstitutionFactory(region=covered)
    f.PharmacyFactory(region=covered)
    f.PhysicianFactory(institution=institution, department="肿瘤内科")
    f.PhysicianFactory(institution=institution, department="肿瘤内科")
    f.PhysicianFactory(institution=institution, department="内分泌科")
    from apps.institutions.selectors import coverage_gaps
    from apps.physicians.selectors import departments_below_two_physicians

    user = f.reviewer()
    gaps = coverage_gaps(user=user)
    assert [(g["region"].code, g["has_institution"], g["has_pharmacy"]) for g in gaps] == [("640521", False, False)]
    rows = departments_below_two_physicians(user=user)
    assert [(r["department"], r["filed"]) for r in rows] == [("内分泌科", 1)]
    login(client, user)
    text = client.get("/institutions/report/").content.decode()
    assert "640521" in text and "内分泌科" in text
