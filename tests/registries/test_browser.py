import pytest

from apps.core.models import DesignationStatus as S
from tests import factories as f


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r_ins_3_bureau_admin_searches_and_suspends_an_institution_in_the_browser(login_page, live_server):
    f.InstitutionFactory(name="中宁县人民医院", level=2, kind="treating", region=f.region("640521"))
    target = f.InstitutionFactory(name="中卫市人民医院")
    f.bureau_admin(username="zw_admin")
    page = login_page("zw_admin")
    page.hover("nav.mainnav >> text=定点管理")  # the registries drop-down menu
    page.click("nav.mainnav >> text=定点医疗机构")
    page.fill("input[name=q]", "中卫")
    page.click("form.filters button[type=submit]")
    assert page.locator("table.data tbody tr").count() == 1
    page.click("table.data >> text=中卫市人民医院")
    assert page.locator("ul.criteria li.met").count() == 5
    page.click("summary:has-text('暂停')")
    page.fill("details[open] textarea[name=reason]", "信息系统升级")
    page.click("details[open] button[type=submit]")
    page.wait_for_load_state()
    assert "已暂停" in page.locator(".msg-success").inner_text()
    assert "信息系统升级" in page.locator("ol.timeline").inner_text()
    target.refresh_from_db()
    assert target.status == S.SUSPENDED


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r_doc_3_hospital_proposes_a_physician_in_the_browser(login_page, live_server):
    from apps.catalogue.models import TherapeuticArea

    # transactional tests flush the migrations' reference data: make sure one area exists
    TherapeuticArea.objects.get_or_create(code="oncology", defaults={"name": "肿瘤", "group": "oncology"})
    institution = f.InstitutionFactory(name="中卫市人民医院")
    f.hospital_user(institution, username="zw_hospital")
    page = login_page("zw_hospital")
    page.click("nav.mainnav >> text=责任医师")
    page.click("text=提名责任医师")
    page.fill("input[name=name]", "华佗")
    page.fill("input[name=department]", "肿瘤内科")
    page.select_option("select[name=title]", "attending")
    page.check("input[name=therapeutic_areas] >> nth=0")
    page.click("button[type=submit]:has-text('提交提名')")
    page.wait_for_load_state()
    # level-3 hospital in a region without the relaxation: attending is refused, nothing saved (R-DOC-1)
    assert "副主任医师" in page.locator("[role=alert]").inner_text()  # one refusal, one message (at its field)
    page.select_option("select[name=title]", "associate_chief")
    page.click("button[type=submit]:has-text('提交提名')")
    page.wait_for_load_state()
    assert "等待经办机构备案" in page.locator(".msg-success").inner_text()
    assert "待备案" in page.locator("h1 + .badge, .toolbar .badge").first.inner_text()
