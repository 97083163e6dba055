"""Browser pages of the catalogue (issue 3 §3, §6, §7): list with search and filters, drug page with the
payment-standard history and withdrawal record, import preview → confirm, the import log."""
import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.catalogue.models import Drug, ImportRun
from apps.catalogue.services import drug_update, drug_withdraw
from tests import factories as f
from tests.catalogue.helpers import drug_code, drug_row, drug_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = f.system_admin()
    client.force_login(admin)
    client.user = admin
    return client


def test_catalogue_list_searches_and_filters(client):
    f.DrugFactory(generic_name="奥希替尼", manufacturer="阿斯利康制药有限公司")
    f.DrugFactory(generic_name="司美格鲁肽", manufacturer="诺和诺德", dosage_form="注射液",
                  route=Drug.Route.INJECTION, therapeutic_area=f.area("endocrine"))
    client.force_login(f.pharmacy_user())
    url = reverse("catalogue:drug_list")
    assert "司美格鲁肽" in client.get(url, {"q": "诺和"}).content.decode()
    assert "奥希替尼" not in client.get(url, {"q": "诺和"}).content.decode()
    page = client.get(url, {"therapeutic_area": "endocrine", "route": "injection", "dosage_form": "注射液"}).content.decode()
    assert "司美格鲁肽" in page and "奥希替尼" not in page
    assert "没有符合条件的药品" in client.get(url, {"listed_on": "2020-01-01"}).content.decode()


def test_r_cat_3_r_cat_5_drug_page_shows_history_and_withdrawal(admin_client):
    drug = f.DrugFactory(payment_standard=Decimal("1000.00"))
    drug_update(drug=drug, actor=admin_client.user, payment_standard=Decimal("950.00"),
                effective_date=dt.date(2026, 7, 1))
    drug_withdraw(drug=drug, withdrawn_on=dt.date(2026, 10, 1), reason="18.4", note="零使用", actor=admin_client.user,
                  now=dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    page = admin_client.get(reverse("catalogue:drug_detail", args=[drug.pk])).content.decode()
    assert "950.00" in page and "1,000.00" in page and "2026-06-30" in page
    assert "第十八条（四）" in page and "零使用" in page and "已调出" in page


def test_r_cat_5_withdraw_from_the_drug_page(admin_client):
    drug = f.DrugFactory()
    response = admin_client.post(reverse("catalogue:drug_withdraw", args=[drug.pk]),
                                 {"withdrawn_on": "2026-10-01", "reason": "17.2", "note": "负面清单"}, follow=True)
    assert "已调出目录" in response.content.decode()
    drug.refresh_from_db()
    assert drug.withdrawn_on == dt.date(2026, 10, 1) and drug.withdrawal_reason == "17.2"


def test_r_cat_3_edit_page_changes_the_standard_from_the_effective_date(admin_client):
    drug = f.DrugFactory(payment_standard=Decimal("1000.00"))
    url = reverse("catalogue:drug_edit", args=[drug.pk])
    form = admin_client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(therapeutic_area=drug.therapeutic_area_id, payment_standard="880.00", effective_date="2026-08-01",
                agreement_end="2027-12-31", agreement_start="2026-01-01", cold_chain="")
    data.pop("cold_chain")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    assert list(drug.payment_standards.order_by("valid_from").values_list("amount", "valid_until")) == [
        (Decimal("1000.00"), dt.date(2026, 7, 31)), (Decimal("880.00"), None)]


def test_r_cat_2_import_page_preview_then_confirm(admin_client):
    response = admin_client.post(reverse("catalogue:import_list"),
                                 {"kind": "drugs", "file": drug_upload([drug_row(1), drug_row(2)])})
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("catalogue:import_detail", args=[run.pk])
    page = admin_client.get(response.url).content.decode()
    assert "将新增" in page and "确认导入" in page and Drug.objects.count() == 0
    admin_client.post(reverse("catalogue:import_confirm", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "succeeded" and Drug.objects.count() == 2
    log = admin_client.get(reverse("catalogue:import_list")).content.decode()
    assert "目录.xlsx" in log and "已导入" in log


def test_r_cat_2_import_page_lists_errors_and_writes_nothing(admin_client):
    admin_client.post(reverse("catalogue:import_list"),
                      {"kind": "drugs", "file": drug_upload([drug_row(1, code="XL01"), drug_row(2)])})
    run = ImportRun.objects.get()
    page = admin_client.get(reverse("catalogue:import_detail", args=[run.pk])).content.decode()
    assert "未写入任何数据" in page and "应为 23 位" in page and "确认导入" not in page
    assert Drug.objects.count() == 0


def test_r_sec_1_pages_by_role(client):
    drug = f.DrugFactory(code=drug_code(7))
    client.force_login(f.hospital_user())
    assert client.get(reverse("catalogue:drug_detail", args=[drug.pk])).status_code == 200
    assert client.get(reverse("catalogue:import_list")).status_code == 403
    assert client.get(reverse("catalogue:drug_create")).status_code == 403
    client.force_login(f.reviewer())
    assert client.get(reverse("catalogue:import_list")).status_code == 200
    assert client.post(reverse("catalogue:import_list"), {"kind": "drugs"}).status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_r_cat_2_preview_confirm_and_progress(login_page, live_server, settings, tmp_path):
    settings.IMPORT_ASYNC_ROW_THRESHOLD = 2  # eager Celery in tests: the background run finishes at once
    f.system_admin(username="catalogue_admin")
    page = login_page("catalogue_admin")
    path = tmp_path / "目录.xlsx"
    path.write_bytes(drug_upload([drug_row(i) for i in range(1, 6)]).read())
    page.goto(f"{live_server.url}{reverse('catalogue:import_list')}")
    page.set_input_files("input[name=file]", str(path))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#run-counts")
    assert "将新增" in page.inner_text("#run-counts")
    page.click("#confirm-import")
    page.wait_for_selector("#run-counts")
    assert "已新增" in page.inner_text("#run-counts")
    assert Drug.objects.count() == 5
    page.goto(f"{live_server.url}{reverse('catalogue:drug_list')}?q=测试药3")
    assert "测试药3" in page.inner_text("table.data")
