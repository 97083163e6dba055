"""Section 10 imports on the shared Excel engine (R-CAT-2): all or nothing, preview, every bad row located."""
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.exceptions import ApplicationError
from apps.core.models import Event, EventAction
from apps.procurement import importing, services
from apps.procurement.models import (
    BaseUse, FundEntry, ProcurementImport, Purchase, RegionBase, Repayment, WinningProduct,
)
from tests import factories as f
from tests.procurement import factories as pf

pytestmark = pytest.mark.django_db

PURCHASE_HEADERS = ["医疗机构编码", "品种编码", "生产企业", "数量", "金额", "发票号", "发票日期"]


def xlsx(headers, rows, name="导入.xlsx"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return SimpleUploadedFile(name, out.getvalue())


@pytest.fixture
def setup():
    """One variety V001 at 10.00 (firm 甲), agreed for 中卫市人民医院 (H640500001) in 2026; 中宁 has none."""
    admin = f.bureau_admin()
    a = f.InstitutionFactory(code="H640500001", name="中卫市人民医院")
    b = f.InstitutionFactory(code="H640500002", name="中宁县人民医院")
    p = pf.product(pf.round_(), code="V001", firms=["甲"], price="10.00")
    pf.bases(p, 200, {a: 1})
    services.contract_decompose(product=p, cycle_year=1, actor=admin)
    return {"admin": admin, "a": a, "b": b, "product": p}


def _errors(exc):
    return [(e["row"], e["column"], e["message"]) for e in exc.value.data["errors"]]


def test_r_vbp_3_purchase_import_refuses_every_bad_row_and_writes_nothing(setup):
    """Rows 2–7 each break one rule (row 8 repeats row 2's invoice number); every one is located; nothing is
    written, not even the good row."""
    Purchase.objects.create(institution=setup["a"], product=setup["product"], firm="甲", is_winning=True, quantity=1,
                            amount=Decimal("10.00"), invoice_no="OLD1", invoice_date=dt.date(2026, 1, 5),
                            due_on=dt.date(2026, 2, 4))
    upload = xlsx(PURCHASE_HEADERS, [
        ("H640500001", "V001", "甲", 10, "100.00", "N1", "2026-02-01"),   # 2 good
        ("H640500002", "V001", "甲", 10, "100.00", "N2", "2026-02-01"),   # 3 no agreement
        ("H640500001", "V999", "甲", 10, "100.00", "N3", "2026-02-01"),   # 4 unknown variety
        ("H640500001", "V001", "甲", -5, "50.00", "N4", "2026-02-01"),    # 5 negative quantity
        ("H640500001", "V001", "甲", 10, "100.00", "OLD1", "2026-02-01"),  # 6 invoice seen before
        ("H640500001", "V001", "甲", 10, "120.00", "N6", "2026-02-01"),   # 7 not at the winning price
        ("H640500001", "V001", "甲", 10, "100.00", "N1", "2026-02-02"),   # 8 invoice twice in the file
    ])
    with pytest.raises(ApplicationError) as exc:
        importing.import_file(kind=importing.PURCHASES, upload=upload, actor=setup["admin"], dry_run=False)
    assert exc.value.code == "invalid_import"
    errors = _errors(exc)
    by_row = {row: (column, message) for row, column, message in errors}
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8]
    assert by_row[3][0] == "医疗机构编码" and "没有品种 V001 的约定采购量" in by_row[3][1]
    assert by_row[4][0] == "品种编码" and "未知品种编码" in by_row[4][1]
    assert by_row[5][0] == "数量" and "负数" in by_row[5][1]
    assert by_row[6][0] == "发票号" and "已导入过" in by_row[6][1]
    assert by_row[7][0] == "金额" and "100.00" in by_row[7][1]
    assert by_row[8][0] == "发票号" and "重复" in by_row[8][1]
    assert Purchase.objects.count() == 1 and not ProcurementImport.objects.exists()


def test_r_vbp_3_purchase_import_preview_then_apply(setup):
    """Two invoices (100.00 of winning 甲 and 30 packs of another firm): the preview writes nothing; applying writes
    both, due 30 days after their dates, and records the import."""
    rows = [("H640500001", "V001", "甲", 10, "100.00", "N1", dt.date(2026, 2, 1)),
            ("H640500001", "V001", "乙制药", 30, "450.00", "N2", dt.date(2026, 2, 3))]
    preview = importing.import_file(kind=importing.PURCHASES, upload=xlsx(PURCHASE_HEADERS, rows),
                                    actor=setup["admin"], dry_run=True)
    assert (preview["status"], preview["created"], preview["total_rows"]) == ("previewed", 2, 2)
    assert not Purchase.objects.exists()

    done = importing.import_file(kind=importing.PURCHASES, upload=xlsx(PURCHASE_HEADERS, rows), actor=setup["admin"],
                                 dry_run=False, expected_digest=preview["digest"])
    assert (done["status"], done["created"]) == ("applied", 2)
    n1, n2 = Purchase.objects.order_by("invoice_no")
    assert (n1.is_winning, n1.due_on, n2.is_winning) == (True, dt.date(2026, 3, 3), False)
    log = ProcurementImport.objects.get()
    assert Event.objects.filter(action=EventAction.PROCUREMENT_IMPORTED, object_id=str(log.pk)).exists()


def test_r_vbp_5_repayment_import_refuses_more_than_the_invoice(setup):
    """Invoice N1 = 100.00: rows 60.00 and 50.00 together exceed it → row 3 refused, nothing written; 60 + 40
    imports, each with its fund entry; the same voucher again is refused."""
    importing.import_file(kind=importing.PURCHASES, actor=setup["admin"], dry_run=False, upload=xlsx(
        PURCHASE_HEADERS, [("H640500001", "V001", "甲", 10, "100.00", "N1", "2026-02-01"),
                           ("H640500001", "V001", "甲", 1, "10.00", "N2", "2026-02-01")]))
    headers = ["发票号", "回款金额", "回款日期", "回款凭证号"]
    with pytest.raises(ApplicationError) as exc:
        importing.import_file(kind=importing.REPAYMENTS, actor=setup["admin"], dry_run=False, upload=xlsx(
            headers, [("N1", "60.00", "2026-02-20", "HK1"), ("N1", "50.00", "2026-02-21", "HK2"),
                      ("N404", "1.00", "2026-02-21", "HK3")]))
    assert _errors(exc) == [
        (3, "回款金额", "回款 50.00 元大于发票 N1 的未回款金额 40.00 元（发票金额 100.00 元）"),
        (4, "发票号", "未找到发票号“N404”（本统筹区没有导入过这张发票）"),
    ]
    assert not Repayment.objects.exists()
    importing.import_file(kind=importing.REPAYMENTS, actor=setup["admin"], dry_run=False, upload=xlsx(
        headers, [("N1", "60.00", "2026-02-20", "HK1"), ("N1", "40.00", "2026-02-21", "HK2")]))
    assert Repayment.objects.count() == 2 and FundEntry.objects.filter(kind="repayment").count() == 2
    with pytest.raises(ApplicationError) as exc:
        importing.import_file(kind=importing.REPAYMENTS, actor=setup["admin"], dry_run=True, upload=xlsx(
            headers, [("N2", "1.00", "2026-02-22", "HK1")]))
    assert _errors(exc) == [(2, "回款凭证号", "回款凭证号 HK1 已导入过，同一笔回款不能重复导入")]


def test_r_vbp_1_r_vbp_2_products_bases_and_base_use_imported_then_decomposed():
    """A round's two varieties (one and three firms), their bases and three institutions' base use, imported;
    V2 (three firms, base 1,000 → 700) decomposed 3 : 2 : 1 → 350, 233, 117 (233.33 and 116.67: the remainder
    goes to the larger, .67)."""
    admin = f.bureau_admin()
    hospitals = [f.InstitutionFactory(code=f"H64050000{i}") for i in (1, 2, 3)]
    r = pf.round_()
    importing.import_file(kind=importing.PRODUCTS, actor=admin, dry_run=False, round_id=r.pk, upload=xlsx(
        ["品种编码", "通用名", "剂型", "规格", "中选企业", "中选企业数", "中选价格", "执行日期"],
        [("V1", "阿托伐他汀钙", "片剂", "20mg*7片", "甲", 1, "3.50", "2026-01-01"),
         ("V2", "氨氯地平", "片剂", "5mg*28片", "甲、乙、丙", 3, "2.10", "2026-01-01")]))
    v2 = WinningProduct.objects.get(code="V2")
    assert (v2.firms, v2.cycle_years, v2.round) == (["甲", "乙", "丙"], 2, r)
    with pytest.raises(ApplicationError) as exc:  # firm count disagrees with the firms listed
        importing.import_file(kind=importing.PRODUCTS, actor=admin, dry_run=True, round_id=r.pk, upload=xlsx(
            ["品种编码", "通用名", "剂型", "规格", "中选企业", "中选企业数", "中选价格", "执行日期"],
            [("V3", "x", "片剂", "1", "甲、乙", 3, "2.10", "2026-01-01")]))
    assert _errors(exc)[0][:2] == (2, "中选企业数")

    importing.import_file(kind=importing.BASES, actor=admin, dry_run=False, upload=xlsx(
        ["品种编码", "计算基数"], [("V1", 400), ("V2", 1000)]))
    importing.import_file(kind=importing.BASE_USES, actor=admin, dry_run=False, upload=xlsx(
        ["品种编码", "医疗机构编码", "基期使用量"],
        [("V2", h.code, w) for h, w in zip(hospitals, (3, 2, 1))]))
    assert RegionBase.objects.get(product=v2).quantity == 1000 and BaseUse.objects.count() == 3
    contract = services.contract_decompose(product=v2, cycle_year=1, actor=admin)
    assert [a.agreed_volume for a in contract.agreements.order_by("institution__code")] == [350, 233, 117]
    with pytest.raises(ApplicationError) as exc:  # bases are frozen once decomposed
        importing.import_file(kind=importing.BASE_USES, actor=admin, dry_run=True, upload=xlsx(
            ["品种编码", "医疗机构编码", "基期使用量"], [("V2", hospitals[0].code, 9)]))
    assert "已分解" in _errors(exc)[0][2]


def test_import_kinds_are_registered_with_the_shared_engine():
    from apps.core.excel import registry

    assert {importing.PURCHASES, importing.REPAYMENTS, importing.PRODUCTS, importing.BASES,
            importing.BASE_USES} <= set(registry.kinds())


def test_templates_and_exports_come_from_the_same_columns(setup):
    """Each kind's template has the import's headers; the purchases export round-trips the imported rows."""
    from apps.core.excel import exporting

    importing.import_file(kind=importing.PURCHASES, actor=setup["admin"], dry_run=False, upload=xlsx(
        PURCHASE_HEADERS, [("H640500001", "V001", "甲", 10, "100.00", "N1", "2026-02-01")]))
    for kind, spec in importing.SPECS.items():
        sheet = openpyxl.load_workbook(io.BytesIO(exporting.export_workbook(kind=kind, user=setup["admin"], empty=True))).active
        assert [c.value for c in sheet[1]] == spec.headers
    sheet = openpyxl.load_workbook(io.BytesIO(exporting.export_workbook(
        kind=importing.PURCHASES, user=setup["admin"]))).active
    assert [c.value for c in sheet[2]][:3] == ["H640500001", "V001", "甲"]


def test_purchases_through_the_generic_import_workflow(setup):
    """The catalogue's ``/api/v1/imports/<kind>/`` serves every registered kind: a preview of vbp_purchases."""
    from rest_framework.test import APIClient

    c = APIClient()
    c.force_authenticate(setup["admin"])
    upload = xlsx(PURCHASE_HEADERS, [("H640500001", "V001", "甲", 10, "100.00", "N1", "2026-02-01")])
    response = c.post(f"/api/v1/imports/{importing.PURCHASES}/", {"file": upload, "dry_run": "true"},
                      format="multipart")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["created"]) == ("previewed", 1)
    assert not Purchase.objects.exists()
