"""Issue 15 item 4 (R-CAT-2, R-CAT-3): export → edit → re-import works with the effective-date column the export
wrote; import errors say what to change; "未写入任何数据" is said once."""
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.catalogue.models import ImportRun, PaymentStandard
from apps.catalogue.resources import H
from tests import factories as f
from tests.catalogue.helpers import drug_code, drug_row, drug_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return f.system_admin()


def _post(api, content: bytes, **data):
    return api.post("/api/v1/drugs/imports/", {"file": SimpleUploadedFile("export.xlsx", content), **data},
                    format="multipart")


def _edit(content: bytes, code: str, **cells) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[headers.index(H["code"])].value == code:
            for key, value in cells.items():
                row[headers.index(H[key])].value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_r_cat_3_exported_file_with_an_edited_price_reimports_from_the_runs_effective_date(api_as, admin):
    """1,000.00 from 2026-01-01 (the export writes 2026-01-01 in 支付标准生效日期); the clerk changes the price to
    950.00 and leaves the date: the new standard runs from the import's date 2026-12-01, the old one ends
    2026-11-30."""
    api = api_as(admin)
    _post(api, drug_upload([drug_row(1), drug_row(2)]).read())
    exported = api.get("/api/v1/drugs/export/").content
    edited = _edit(exported, drug_code(1), payment_standard=950)
    response = _post(api, edited, effective_date="2026-12-01")
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (0, 1, 1)
    versions = list(PaymentStandard.objects.filter(drug__code=drug_code(1)).order_by("valid_from")
                    .values_list("amount", "valid_from", "valid_until"))
    assert versions == [(Decimal("1000.00"), dt.date(2026, 1, 1), dt.date(2026, 11, 30)),
                        (Decimal("950.00"), dt.date(2026, 12, 1), None)]


def test_r_cat_3_an_effective_date_not_after_the_current_one_says_which_date_to_write(api_as, admin):
    api = api_as(admin)
    _post(api, drug_upload([drug_row(1)]).read())
    exported = api.get("/api/v1/drugs/export/").content
    edited = _edit(exported, drug_code(1), payment_standard=950, standard_effective=dt.date(2025, 6, 1))
    response = _post(api, edited, effective_date="2026-12-01")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["column"] == H["standard_effective"]
    assert "请把本行“支付标准生效日期”改为 2026-01-02 或之后的日期" in error["message"]
    assert PaymentStandard.objects.count() == 1


@pytest.mark.parametrize("value, advice", [
    (10, "如指百分之10，请改填“10%”或“0.1”"), ("150%", "请填 0–100% 之间的比例"), (-0.1, "不能为负数"),
])
def test_r_cat_2_ratio_errors_are_not_contradictory_and_say_what_to_write(api_as, admin, value, advice):
    response = _post(api_as(admin), drug_upload([drug_row(1, first_self_pay_ratio=value)]).read())
    message = response.json()["errors"][0]["message"]
    assert advice in message and "超出 0–100% 范围" not in message


def test_r_cat_2_failed_import_page_says_nothing_was_written_once(admin):
    client = Client()
    client.force_login(admin)
    content = drug_upload([drug_row(1, first_self_pay_ratio=10), drug_row(2, generic_name=None)]).read()
    response = client.post("/catalogue/imports/", {"kind": ImportRun.Kind.DRUGS,
                                                   "file": SimpleUploadedFile("目录.xlsx", content)}, follow=True)
    html = response.content.decode()
    assert html.count("未写入任何数据") == 1, html[html.find("run-errors") - 200:][:1500]
    assert "请填写该格" in html and "请改填" in html
