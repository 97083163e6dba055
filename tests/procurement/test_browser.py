"""End to end in Chromium as the bureau administrator: a purchase file with one bad row is refused with the row
and column located and nothing written; the corrected file is previewed, confirmed and written (R-VBP-3, R-CAT-2)."""
import datetime as dt

import openpyxl
import pytest

from apps.procurement import services
from apps.procurement.models import Purchase
from tests import factories as f
from tests.procurement import factories as pf

HEADERS = ["医疗机构编码", "品种编码", "生产企业", "数量", "金额", "发票号", "发票日期"]


def _file(path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return str(path)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r_vbp_3_purchase_import_in_the_browser_bad_row_refused_then_good_file(page, login_page, live_server, tmp_path):
    f.bureau_admin(username="vbpadmin")
    hospital = f.InstitutionFactory(code="H640500001", name="中卫市人民医院")
    product = pf.product(pf.round_(), code="V001", firms=["甲"], price="10.00")
    pf.bases(product, 200, {hospital: 1})
    services.contract_decompose(product=product, cycle_year=1, actor=None)
    bad = _file(tmp_path / "bad.xlsx", [("H640500001", "V001", "甲", 10, "100.00", "N1", dt.date(2026, 2, 1)),
                                        ("H640500001", "V001", "甲", -3, "30.00", "N2", dt.date(2026, 2, 2))])
    good = _file(tmp_path / "good.xlsx", [("H640500001", "V001", "甲", 10, "100.00", "N1", dt.date(2026, 2, 1)),
                                          ("H640500001", "V001", "甲", 3, "30.00", "N2", dt.date(2026, 2, 2))])

    login_page("vbpadmin")
    page.goto(f"{live_server.url}/procurement/imports/")
    page.select_option("select[name=kind]", "vbp_purchases")
    page.set_input_files("input[name=file]", bad)
    page.click("#preview-button")
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1
    cells = errors.first.locator("td").all_inner_texts()
    assert cells[0] == "3" and cells[1] == "数量" and "负数" in cells[2]
    assert "未写入任何数据" in page.locator("#import-result").inner_text()
    assert not Purchase.objects.exists()

    page.select_option("select[name=kind]", "vbp_purchases")
    page.set_input_files("input[name=file]", good)
    page.click("#preview-button")
    assert "新增 2" in page.locator("#import-preview").inner_text()
    assert not Purchase.objects.exists()
    page.click("#confirm-button")
    assert "新增 2" in page.locator("#import-done").inner_text()
    assert sorted(Purchase.objects.values_list("invoice_no", "quantity")) == [("N1", 10), ("N2", 3)]

    # the completion page draws its chart from the same rows: agreed 100, 13 bought by the end of February → 13 %
    page.goto(f"{live_server.url}/procurement/completion/?month=2026-02")
    page.wait_for_function("window.procurementChart && window.procurementChart.data.datasets[0].data.length === 1")
    assert "13%" in page.locator("#completion-table tbody tr").first.inner_text()
