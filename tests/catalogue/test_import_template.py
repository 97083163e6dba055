"""Issue 15 item 13 (R-CAT-2): a template a clerk can fill — frozen bold header wide enough for the Chinese titles,
drop-down lists for every enumeration, an instructions sheet with the percentage convention, an example sheet —
and the filled template imports as it is."""
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.catalogue.models import Drug
from apps.catalogue.resources import H
from apps.core.excel.template import display_width
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api_as):
    return api_as(f.system_admin())


def _template(api):
    response = api.get("/api/v1/drugs/imports/template/")
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.content))


def _validations(ws) -> dict[str, list[str]]:
    headers = {cell.column_letter: cell.value for cell in ws[1]}
    out = {}
    for dv in ws.data_validations.dataValidation:
        letter = str(dv.sqref).split(":")[0].rstrip("0123456789")
        out[headers[letter]] = dv.formula1.strip('"').split(",")
    return out


def test_r_cat_2_template_sheets_header_widths_and_frozen_row(api):
    wb = _template(api)
    data = wb.worksheets[0]
    assert wb.sheetnames[0] == "药品目录" and "填写说明" in wb.sheetnames and "示例" in wb.sheetnames
    assert data.max_row == 1 and data.freeze_panes == "A2"
    for cell in data[1]:
        assert cell.font.bold
        assert data.column_dimensions[cell.column_letter].width >= display_width(cell.value), cell.value


def test_r_cat_2_template_lists_every_enumeration(api):
    lists = _validations(_template(api).worksheets[0])
    assert lists[H["category"]][0] == "协议期内谈判药品" and "常规乙类" in lists[H["category"]]
    assert set(lists[H["cold_chain"]]) == {"是", "否"}
    assert "口服" in lists[H["route"]] and "注射" in lists[H["route"]]
    assert "肿瘤" in lists[H["therapeutic_area"]]


def test_r_cat_2_template_instructions_explain_the_percentage_convention(api):
    notes = _template(api)["填写说明"]
    text = "\n".join(str(c.value) for row in notes.iter_rows() for c in row if c.value)
    assert "10% 或 0.1" in text and "不要只填 10" in text and "2026-01-01" in text
    rows = {r[0].value: [c.value for c in r] for r in notes.iter_rows() if r[0].value in H.values()}
    assert rows[H["first_self_pay_ratio"]][1] == "是" and rows[H["restricted_scope"]][1] == "否"


def test_r_cat_2_the_example_row_copied_into_the_template_imports(api):
    """The 示例 row pasted under the header of the data sheet is a valid drug."""
    wb = _template(api)
    example = [c.value for c in wb["示例"][2]]
    wb.worksheets[0].append(example)
    out = io.BytesIO()
    wb.save(out)
    response = api.post("/api/v1/drugs/imports/", {"file": SimpleUploadedFile("目录.xlsx", out.getvalue())},
                        format="multipart")
    assert response.status_code == 201, response.json()
    drug = Drug.objects.get()
    assert drug.generic_name == "奥希替尼" and str(drug.first_self_pay_ratio) == "0.1000"
