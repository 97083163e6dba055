"""Issue 15: forms a hospital, a pharmacy and a reviewer fill in Chromium, and what was saved."""
import pytest
from django.core.cache import cache

from apps.applications.models import Application
from tests import factories as f
from tests.applications.factories import setup_hospital

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_r_app_2_hospital_fills_new_application_and_the_patient_name_is_saved(login_page, live_server):
    """Each 申请表 field appears once (姓名 and 年龄 used to be repeated because "name" is inside
    "diagnosis_name" and "age" inside "usage"); the name typed in 姓名 is the name saved."""
    f.policy("640500", "zhongwei-2021")
    cache.clear()
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    page = login_page(hospital.username)
    page.goto(f"{live_server.url}/applications/new/")
    labels = page.locator("#create-form label").all_inner_texts()
    names = page.locator("#create-form [name]").evaluate_all("els => els.map(e => e.name)")
    for field in ("name", "age", "usage", "diagnosis_name"):
        assert names.count(field) == 1, (field, names)
    assert sum(1 for label in labels if label.strip().startswith("姓名")) == 1
    assert sum(1 for label in labels if label.strip().startswith("年龄")) == 1

    page.fill("input[name=name]", "王小明")
    page.fill("input[name=id_number]", f.id_number(seq=7))
    page.select_option("select[name=insurance_type]", "employee")
    page.fill("input[name=insured_region]", "640500")
    page.fill("input[name=phone]", "13900000007")
    page.select_option("select[name=pharmacy_code]", pharmacy.code)
    page.fill("input[name=diagnosis_code]", "C34.9")
    page.fill("input[name=diagnosis_name]", "肺恶性肿瘤")
    page.fill("input[name=generic_name]", "奥希替尼")
    page.select_option("select[name=physician_code]", physician.code)
    page.fill("input[name=usage]", "80mg qd")
    page.fill("input[name=course_days]", "90")
    page.click("#create-form button[type=submit]")
    page.wait_for_load_state()

    application = Application.objects.get()
    assert application.person.name == "王小明"
    assert application.diagnosis_name == "肺恶性肿瘤" and application.usage == "80mg qd"
    assert application.course_days == 90 and application.pharmacy_id == pharmacy.pk
    assert application.number in page.locator("body").inner_text()
