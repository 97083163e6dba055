"""R-SEC-4 (issue 14 §8): every number of an import is held to the range of the model field it is written to, in
the preview, for every import kind (the engine derives the range from the field: ``apps.core.excel.ranges``). A
value that would overflow on write is a located row error (row, column, a Chinese reason saying what to change) and
nothing is written."""
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl.cell import WriteOnlyCell

from apps.applications.models import OtherFundUse
from apps.catalogue.models import Drug, ImportRun
from apps.catalogue.resources import H
from apps.core.excel import ranges
from apps.core.exceptions import ApplicationError
from apps.procurement import importing
from apps.procurement.models import Purchase, WinningProduct
from tests import factories as f
from tests.catalogue.helpers import DRUG_HEADERS, drug_row

pytestmark = pytest.mark.django_db


# --- the range derived from the model field --------------------------------------------------------------------

def test_r_sec_4_decimal_range_comes_from_max_digits_and_decimal_places():
    """Drug.payment_standard is DecimalField(max_digits=14, decimal_places=2): at most 12 whole digits, so the
    largest value is 999999999999.99; 12345678901234.56 has 14 whole digits."""
    check = ranges.check_for(Drug, "payment_standard")
    assert check(Decimal("999999999999.99")) is None
    problem = check(Decimal("12345678901234.56"))
    assert "999999999999.99" in problem and "12 位" in problem
    assert "小数超过 2 位" in check(Decimal("1.005"))


def test_r_sec_4_validators_and_the_database_integer_range_bound_the_value():
    """first_self_pay_ratio has MinValueValidator(0) and MaxValueValidator(1); Purchase.quantity is a
    PositiveIntegerField (0 … 2,147,483,647 in PostgreSQL's integer)."""
    ratio = ranges.check_for(Drug, "first_self_pay_ratio")
    assert ratio(Decimal("1")) is None and "最大值 1" in ratio(Decimal("1.5"))
    assert "不能为负数" in ratio(Decimal("-0.1"))
    quantity = ranges.check_for(Purchase, "quantity")
    assert quantity(2_147_483_647) is None
    assert "不能为负数" in quantity(-1)
    assert "2147483647" in quantity(2_147_483_648)


def test_r_sec_4_columns_without_a_range_are_not_checked():
    assert ranges.check_for(Drug, "therapeutic_area") is None  # a foreign key
    assert ranges.check_for(Drug, "standard_effective") is None  # not a field (an instruction column)
    assert ranges.check_for(Drug, "cold_chain") is None
    assert ranges.check_for(Drug, "generic_name", parsed_max_length=128) is None  # the parser already caps it
    assert "超过本列上限 128" in ranges.check_for(Drug, "generic_name")("药" * 129)


# --- the catalogue: every bad number located in the preview ----------------------------------------------------

def _drug_workbook(rows: list[dict], date_cells: dict | None = None) -> bytes:
    """``date_cells``: {(row index, header): number} written as a date-formatted number (an Excel date serial)."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("目录")
    ws.append(DRUG_HEADERS)
    for i, row in enumerate(rows):
        cells = []
        for header in DRUG_HEADERS:
            if date_cells and (i, header) in date_cells:
                cell = WriteOnlyCell(ws, value=date_cells[(i, header)])
                cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            else:
                cells.append(row.get(header))
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def admin_client(api_as):
    return api_as(f.system_admin())


def test_r_sec_4_numbers_out_of_range_are_located_row_errors_of_the_preview(admin_client):
    """Row 2 a 1e30 price, row 3 12345678901234.56 (passed the preview before and overflowed the DecimalField on
    write), row 4 a ratio of 150 %, row 5 a date serial of 1e20, row 6 a negative price; row 7 is good. The preview
    answers 400 with each bad row located on its column, and nothing is written."""
    rows = [drug_row(2, payment_standard=1e30), drug_row(3, payment_standard=12345678901234.56),
            drug_row(4, first_self_pay_ratio="150%"), drug_row(5), drug_row(6, payment_standard=-5),
            drug_row(7)]
    content = _drug_workbook(rows, date_cells={(3, H["agreement_start"]): 1e20})
    response = admin_client.post("/api/v1/drugs/imports/", {"file": SimpleUploadedFile("x.xlsx", content),
                                                            "dry_run": "true"}, format="multipart")
    assert response.status_code == 400, response.content[:500]
    errors = {(e["row"], e["column"]): e["message"] for e in response.json()["errors"]}
    assert set(errors) == {(2, H["payment_standard"]), (3, H["payment_standard"]), (4, H["first_self_pay_ratio"]),
                           (5, H["agreement_start"]), (6, H["payment_standard"])}, errors
    assert "请核对" in errors[(2, H["payment_standard"])]
    assert "999999999999.99" in errors[(3, H["payment_standard"])]
    assert "大于 100%" in errors[(4, H["first_self_pay_ratio"])]
    assert "不是有效的日期" in errors[(5, H["agreement_start"])]
    assert "大于 0" in errors[(6, H["payment_standard"])]
    assert not Drug.objects.exists()
    assert ImportRun.objects.get().status == ImportRun.Status.FAILED


def test_r_sec_4_an_overflowing_price_is_refused_before_the_write_too(admin_client):
    """Applied directly (no preview), the 14-whole-digit price is the same located error: no 500, no row."""
    content = _drug_workbook([drug_row(1, payment_standard="12345678901234.56")])
    response = admin_client.post("/api/v1/drugs/imports/", {"file": SimpleUploadedFile("x.xlsx", content)},
                                 format="multipart")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["row"], error["column"]) == (2, H["payment_standard"])
    assert not Drug.objects.exists()


# --- other kinds get the same checks from their own model fields -----------------------------------------------

def _xlsx(headers, rows) -> SimpleUploadedFile:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return SimpleUploadedFile("导入.xlsx", out.getvalue())


def test_r_sec_4_procurement_counts_and_prices_are_held_to_their_fields():
    """Winning products: 中选企业数 is a PositiveSmallIntegerField (≤ 32767) and 中选价格 a DecimalField(14, 2).
    Row 2 has 40000 firms, row 3 a price of 12345678901234.56, row 4 a price of 1e30; nothing is written."""
    from tests.procurement import factories as pf

    admin = f.bureau_admin()
    round_ = pf.round_()
    headers = ["品种编码", "通用名", "剂型", "规格", "中选企业", "中选企业数", "中选价格", "执行日期"]
    upload = _xlsx(headers, [
        ("V101", "药一", "片剂", "10mg", "甲", 40000, "10.00", "2026-03-01"),
        ("V102", "药二", "片剂", "10mg", "甲", 1, 12345678901234.56, "2026-03-01"),
        ("V103", "药三", "片剂", "10mg", "甲", 1, 1e30, "2026-03-01"),
    ])
    with pytest.raises(ApplicationError) as exc:
        importing.import_file(kind=importing.PRODUCTS, upload=upload, actor=admin, dry_run=True, round_id=round_.pk)
    errors = {(e["row"], e["column"]): e["message"] for e in exc.value.data["errors"]}
    assert "32767" in errors[(2, "中选企业数")]
    assert "999999999999.99" in errors[(3, "中选价格")]
    assert "请核对" in errors[(4, "中选价格")]
    assert not WinningProduct.objects.filter(code__in=["V101", "V102", "V103"]).exists()


def test_r_sec_4_other_fund_use_amount_is_held_to_its_field(api_as, zhongwei):
    """基金支付金额 is a DecimalField(14, 2): 12345678901234.56 is located on row 2 and nothing is written."""
    admin = f.bureau_admin()
    upload = _xlsx(["身份证号", "年月", "基金支付金额"], [("640502199001011234", "2026-11", 12345678901234.56)])
    response = api_as(admin).post("/api/v1/imports/other_fund_use/", {"file": upload, "dry_run": "true"},
                                  format="multipart")
    assert response.status_code == 400, response.content[:300]
    messages = [e["message"] for e in response.json()["errors"] if (e["row"], e["column"]) == (2, "基金支付金额")]
    assert messages and "999999999999.99" in messages[0]
    assert not OtherFundUse.objects.exists()


def test_r_sec_4_the_import_export_resource_applies_the_same_range():
    """The django-import-export resource built from the columns (template/export, the benchmark's comparison) parses
    with the same checks: its widget refuses the overflowing price."""
    from apps.catalogue.resources import DRUGS

    widget = DRUGS.resource_class().fields["payment_standard"].widget
    assert widget.clean("999999999999.99") == Decimal("999999999999.99")
    with pytest.raises(ValueError, match="999999999999.99"):
        widget.clean("12345678901234.56")
