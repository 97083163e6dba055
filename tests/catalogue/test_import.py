"""R-CAT-2 (all-or-nothing Excel import with previews), R-CAT-3 through imports, R-SEC-1/3/4, issue 3 §6–7."""
import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.catalogue.models import Drug, ImportAudit, ImportRun, PaymentStandard
from apps.catalogue.selectors import import_changes_for
from apps.core.excel.engine import ChangeLog
from apps.catalogue.resources import H
from tests import factories as f
from tests.catalogue.helpers import DRUG_HEADERS, drug_code, drug_row, drug_upload, read_workbook, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return f.system_admin()


@pytest.fixture
def client(api_as, admin):
    return api_as(admin)


def post(client, file, **data):
    return client.post("/api/v1/drugs/imports/", {"file": file, **data}, format="multipart")


def test_r_cat_2_clean_import_creates_every_row_with_its_first_payment_standard(client):
    # given a clean workbook of three drugs
    rows = [drug_row(1), drug_row(2, category="常规乙类", payment_standard=Decimal("93.60"), first_self_pay_ratio=0),
            drug_row(3, code=drug_code(3, "Z"), first_self_pay_ratio=0.05, cold_chain="是", route="注射")]
    # when imported
    response = post(client, drug_upload(rows))
    # then every row is created with its values and an open payment-standard version from the agreement start
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"], body["status"]) == (3, 0, 0, "succeeded")
    regular = Drug.objects.get(code=drug_code(2))
    assert regular.category == Drug.Category.REGULAR_B and regular.payment_standard == Decimal("93.60")
    assert regular.first_self_pay_ratio == Decimal("0")
    z = Drug.objects.get(code=drug_code(3, "Z"))
    assert z.first_self_pay_ratio == Decimal("0.0500") and z.cold_chain and z.route == Drug.Route.INJECTION
    assert Drug.objects.get(code=drug_code(1)).first_self_pay_ratio == Decimal("0.1000")
    versions = PaymentStandard.objects.filter(drug=regular)
    assert [(v.amount, v.valid_from, v.valid_until) for v in versions] == [(Decimal("93.60"), dt.date(2026, 1, 1), None)]


def test_r_cat_2_export_then_import_changes_nothing(client, admin):
    # given a catalogue with varied values
    post(client, drug_upload([drug_row(1), drug_row(2, agreement_end=None, restricted_scope="", cold_chain="是"),
                              drug_row(3, first_self_pay_ratio="12.5%", payment_standard=Decimal("73.92"))]))
    before = list(Drug.objects.order_by("code").values())
    # when the export is imported again
    exported = client.get("/api/v1/drugs/export/")
    assert exported.status_code == 200
    assert read_workbook(exported.content)[0][:14] == DRUG_HEADERS
    response = post(client, SimpleUploadedFile("export.xlsx", exported.content))
    # then nothing changes
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (0, 0, 3)
    assert list(Drug.objects.order_by("code").values()) == before
    assert PaymentStandard.objects.count() == 3


def test_r_cat_2_reimporting_the_same_file_changes_nothing(client):
    content = drug_upload([drug_row(1), drug_row(2)]).read()
    post(client, upload(content))
    updated_at = list(Drug.objects.order_by("code").values_list("updated_at", flat=True))
    response = post(client, upload(content))
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (0, 0, 2)
    assert list(Drug.objects.order_by("code").values_list("updated_at", flat=True)) == updated_at
    assert PaymentStandard.objects.count() == 2


BAD_CELLS = [
    ("code", "XL01XEA123", "医保药品代码", "应为 23 位"),
    ("code", "AL01XEA0000000000000009", "医保药品代码", "应以 X（西药）或 Z（中成药）开头"),
    ("payment_standard", "一千元", "支付标准", "不是有效的数字"),
    ("first_self_pay_ratio", "150%", "先行自付比例", "大于 100%，请填 0–100% 之间的比例"),
    ("first_self_pay_ratio", -0.1, "先行自付比例", "不能为负数"),
    ("first_self_pay_ratio", 10, "先行自付比例", "如指百分之10，请改填“10%”或“0.1”"),
    ("agreement_end", dt.date(2025, 12, 31), "协议期结束", "早于协议期开始"),
    ("category", "甲类", "类别", "未知类别"),
    ("therapeutic_area", "外星病", "治疗领域", "未知治疗领域"),
    ("agreement_start", "2026-02-30", "协议期开始", "不是有效的日期"),
    ("generic_name", None, "通用名", "必填"),
]


@pytest.mark.parametrize("field,value,column,reason", BAD_CELLS, ids=[c[0] + ":" + str(c[1]) for c in BAD_CELLS])
def test_r_cat_2_bad_cell_is_reported_with_row_column_reason_and_nothing_written(client, field, value, column, reason):
    # given a file whose third data row (Excel row 4) is bad
    rows = [drug_row(1), drug_row(2), drug_row(9, **{field: value})]
    # when imported
    response = post(client, drug_upload(rows))
    # then 400 invalid_import naming the row, the column and the reason, and nothing is written
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_import" and body["error_count"] == 1
    error = body["errors"][0]
    assert (error["row"], error["column"]) == (4, column)
    assert reason in error["message"]
    assert Drug.objects.count() == 0 and PaymentStandard.objects.count() == 0


def test_r_cat_2_code_twice_in_the_file_is_reported_on_the_second_row(client):
    response = post(client, drug_upload([drug_row(1), drug_row(2), drug_row(1, generic_name="别的药")]))
    body = response.json()
    assert response.status_code == 400
    assert body["errors"] == [{"row": 4, "column": "医保药品代码",
                               "message": f"医保药品代码 {drug_code(1)} 在文件中重复（与第 2 行相同），请删除其中一行或改正编码"}]
    assert Drug.objects.count() == 0


def test_r_cat_2_not_a_workbook_is_refused(client):
    response = post(client, SimpleUploadedFile("目录.xlsx", b"code,name\n1,2\n"))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_import"
    assert "不是有效的 Excel 工作簿" in response.json()["errors"][0]["message"]
    assert Drug.objects.count() == 0


def test_r_cat_2_empty_sheet_is_refused(client):
    response = post(client, upload(drug_upload([], headers=[]).read()))
    assert response.status_code == 400
    assert "工作表为空" in response.json()["detail"]
    response = post(client, drug_upload([]))
    assert response.status_code == 400 and "没有数据行" in response.json()["detail"]


def test_r_cat_2_missing_column_is_refused(client):
    headers = [h for h in DRUG_HEADERS if h != "支付标准"]
    response = post(client, drug_upload([drug_row(1)], headers=headers))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"row": 1, "column": "支付标准", "message": "缺少必需的列“支付标准”：请在第 1 行加上该列标题"
                                                                             "（列标题须与下载的模板一致）"}]
    assert Drug.objects.count() == 0


def test_r_cat_2_thousands_of_bad_rows_list_the_first_200_and_count_the_rest(client):
    rows = [drug_row(i, payment_standard="x") for i in range(1, 3001)]
    response = post(client, drug_upload(rows))
    body = response.json()
    assert response.status_code == 400
    assert body["error_count"] == 3000 and len(body["errors"]) == 200 and body["more_errors"] == 2800
    assert body["errors"][0]["row"] == 2 and body["errors"][-1]["row"] == 201
    assert Drug.objects.count() == 0


def test_r_cat_2_preview_writes_nothing_and_confirm_applies_exactly_the_preview(client):
    # given an existing drug and a file changing it and adding another
    post(client, drug_upload([drug_row(1)]))
    rows = [drug_row(1, manufacturer="新企业有限公司", payment_standard=Decimal("900.00")), drug_row(2), ]
    # when previewed
    preview = post(client, drug_upload(rows), dry_run="true", effective_date="2026-07-01")
    # then counts and changed fields are shown and nothing is written
    body = preview.json()
    assert preview.status_code == 200 and body["status"] == "previewed"
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 1, 0)
    change = next(c for c in body["changes"] if c["action"] == "update")
    assert change["fields"] == {"生产企业": ["测试制药有限公司", "新企业有限公司"], "支付标准": ["1000.00", "900.00"]}
    assert Drug.objects.count() == 1 and Drug.objects.get().manufacturer == "测试制药有限公司"
    # when confirmed
    confirmed = client.post(f"/api/v1/drugs/imports/{body['id']}/confirm/")
    # then exactly the previewed changes are applied
    assert confirmed.status_code == 201, confirmed.json()
    assert (confirmed.json()["created"], confirmed.json()["updated"]) == (1, 1)
    assert Drug.objects.count() == 2
    drug = Drug.objects.get(code=drug_code(1))
    assert drug.manufacturer == "新企业有限公司" and drug.payment_standard == Decimal("900.00")
    # and a confirmed run cannot be applied twice
    assert client.post(f"/api/v1/drugs/imports/{body['id']}/confirm/").status_code == 409


def test_r_cat_2_confirm_is_refused_when_the_catalogue_changed_since_the_preview(client, admin):
    from apps.catalogue.services import drug_update

    post(client, drug_upload([drug_row(1)]))
    preview = post(client, drug_upload([drug_row(1, generic_name="改名")]), dry_run="true").json()
    drug_update(drug=Drug.objects.get(), actor=admin, generic_name="已被他人修改")
    response = client.post(f"/api/v1/drugs/imports/{preview['id']}/confirm/")
    assert response.status_code == 400 and "预览" in response.json()["detail"]
    assert Drug.objects.get().generic_name == "已被他人修改"


def test_r_cat_3_import_changing_a_standard_closes_the_old_version_the_day_before(client):
    post(client, drug_upload([drug_row(1)]))
    response = post(client, drug_upload([drug_row(1, payment_standard=Decimal("880.00"))]), effective_date="2026-07-01")
    assert response.status_code == 201 and response.json()["updated"] == 1
    versions = list(PaymentStandard.objects.order_by("valid_from").values_list("amount", "valid_from", "valid_until"))
    assert versions == [(Decimal("1000.00"), dt.date(2026, 1, 1), dt.date(2026, 6, 30)),
                        (Decimal("880.00"), dt.date(2026, 7, 1), None)]


def test_r_cat_3_import_standard_change_effective_before_the_current_version_is_a_row_error(client):
    post(client, drug_upload([drug_row(1)]))
    response = post(client, drug_upload([drug_row(1, payment_standard=Decimal("880.00"))]), effective_date="2026-01-01")
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "支付标准" and "须晚于" in response.json()["errors"][0]["message"]
    assert PaymentStandard.objects.count() == 1 and Drug.objects.get().payment_standard == Decimal("1000.00")


def test_r_sec_3_import_leaves_one_audit_record_per_run_with_every_rows_change(client, admin):
    """Issue 16: two applied runs → two ImportAudit records (no audit row per drug); the second lists drug 1's
    changed name (测试药1 → 新名) and drug 2's creation, and drug 3, unchanged, is not listed."""
    first = drug_upload([drug_row(1), drug_row(3)]).read()
    post(client, upload(first, "第一批.xlsx"))
    post(client, drug_upload([drug_row(1, generic_name="新名"), drug_row(2), drug_row(3)]))
    assert not LogEntry.objects.get_for_model(Drug).exists()
    audits = list(ImportAudit.objects.order_by("applied_at", "pk"))
    assert len(audits) == 2 and audits[0].file_name == "第一批.xlsx"
    assert audits[0].file_sha256 == hashlib.sha256(first).hexdigest() and audits[0].actor_id == admin.pk
    assert (audits[1].created_count, audits[1].updated_count) == (1, 1)
    entries = sorted(entry for _header, entry in ChangeLog.lines(audits[1].change_log))
    assert entries[0] == [2, drug_code(1), "u", {"generic_name": ["测试药1", "新名"]}]
    assert entries[1][:3] == [3, drug_code(2), "c"] and len(entries) == 2


def test_r_sec_3_what_the_imports_changed_for_one_drug_from_the_run_audits(client, admin):
    """The selector and the page answer "what did the imports change for drug X": created by run 1 (payment
    standard 1000.00, ratio 10%), its standard changed 1000.00 → 880.00 by run 2; drug 2 is not in the answer."""
    post(client, drug_upload([drug_row(1), drug_row(2)]))
    post(client, drug_upload([drug_row(1, payment_standard=Decimal("880.00")), drug_row(2)]),
         effective_date="2026-07-01")
    entries = import_changes_for(user=admin, key=drug_code(1).lower())
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["changes"] == [("支付标准", "1000.00", "880.00")]
    created = dict((header, new) for header, _old, new in entries[1]["changes"])
    assert created["支付标准"] == "1000.00" and created["先行自付比例"] == "10%" and created["类别"] == "协议期内谈判药品"
    assert entries[1]["run"].created_count == 2
    # the page, for a bureau reviewer of the same region; other roles are refused
    from django.test import Client

    browser = Client()
    browser.force_login(admin)
    page = browser.get("/catalogue/imports/changes/", {"code": drug_code(1)})
    assert page.status_code == 200
    html = page.content.decode()
    assert "880.00" in html and "新增" in html and drug_code(2) not in html
    pharmacy = Client()
    pharmacy.force_login(f.pharmacy_user())
    assert pharmacy.get("/catalogue/imports/changes/", {"code": drug_code(1)}).status_code == 403


def test_issue3_import_log_keeps_file_and_who_when_counts(client, admin):
    content = drug_upload([drug_row(1)]).read()
    post(client, upload(content, "省目录2026.xlsx"))
    run = ImportRun.objects.get()
    assert run.created_by == admin and run.file_name == "省目录2026.xlsx" and run.created_count == 1
    with run.file.open("rb") as fh:
        assert fh.read() == content
    listed = client.get("/api/v1/drugs/imports/runs/").json()
    assert listed["count"] == 1 and listed["results"][0]["file_name"] == "省目录2026.xlsx"


def test_issue3_large_import_runs_as_a_task_with_a_status_endpoint(client, settings, django_capture_on_commit_callbacks):
    settings.IMPORT_ASYNC_ROW_THRESHOLD = 5
    rows = [drug_row(i) for i in range(1, 11)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, drug_upload(rows))
    # the API answers at once with the run's id and where to poll
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["asynchronous"] and body["progress"]["total"] == 10
    status = client.get(body["status_url"]).json()
    assert status["status"] == "pending" and Drug.objects.count() == 0
    # the queued Celery task runs the import
    for callback in callbacks:
        callback()
    status = client.get(body["status_url"])
    assert status.status_code == 200
    assert status.json()["status"] == "succeeded" and status.json()["created"] == 10
    assert status.json()["progress"] == {"processed": 10, "total": 10, "percent": 100}
    assert Drug.objects.count() == 10


def test_issue3_failed_async_run_reports_its_errors_on_the_status_endpoint(client, settings,
                                                                           django_capture_on_commit_callbacks):
    settings.IMPORT_ASYNC_ROW_THRESHOLD = 1
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, drug_upload([drug_row(1), drug_row(2, payment_standard="?")]))
    status = client.get(response.json()["status_url"])
    assert status.status_code == 400 and status.json()["code"] == "invalid_import"
    assert status.json()["errors"][0]["row"] == 3 and Drug.objects.count() == 0


def test_r_sec_1_only_bureau_admins_import_and_runs_are_scoped_to_the_region(api_as, client, changsha):
    pharmacy = api_as(f.pharmacy_user())
    assert post(pharmacy, drug_upload([drug_row(1)])).status_code == 403
    reviewer = api_as(f.reviewer())
    assert post(reviewer, drug_upload([drug_row(1)])).status_code == 403
    run_id = post(client, drug_upload([drug_row(1)])).json()["id"]
    assert reviewer.get(f"/api/v1/drugs/imports/{run_id}/").status_code == 200
    other_admin = api_as(f.bureau_admin("430100"))
    assert other_admin.get(f"/api/v1/drugs/imports/{run_id}/").status_code == 404
    assert pharmacy.get(f"/api/v1/drugs/imports/{run_id}/").status_code == 403


def test_r_cat_2_template_has_the_headers_and_no_rows(client):
    response = client.get("/api/v1/drugs/imports/template/")
    assert response.status_code == 200
    rows = read_workbook(response.content)  # the data sheet: the header row only (issue 15: lists and notes aside)
    assert rows[0][:14] == DRUG_HEADERS and rows[0][14] == H["standard_effective"] and len(rows) == 1


def test_r_cat_2_text_with_tabs_newlines_backslashes_and_entities_survives_import(client):
    scope = "限二线治疗\t（需基因检测）\n经 \\ 专家评估 & <复核>"
    response = post(client, drug_upload([drug_row(1, restricted_scope=scope, generic_name="A&B <药>")]))
    assert response.status_code == 201, response.json()
    drug = Drug.objects.get()
    assert drug.restricted_scope == scope and drug.generic_name == "A&B <药>"
    audit = ImportAudit.objects.get()
    header, entry = next(ChangeLog.lines(audit.change_log))
    assert entry[3][header["columns"].index("restricted_scope")] == scope


def test_r_cat_2_a_write_refused_by_the_database_in_a_later_chunk_rolls_back_every_chunk(client, monkeypatch):
    """Issue 16: PostgreSQL writes a chunk (COPY, in a writer thread) while the next one is read. A refusal by the
    database in a later chunk — here drug 4 already exists but the run did not see it, as after a concurrent
    import — still ends the run failed with nothing written, the earlier chunks' drugs included."""
    from apps.catalogue.resources import DrugImportSpec
    from apps.core.excel import engine

    post(client, drug_upload([drug_row(4)]))
    monkeypatch.setattr(engine, "STREAM_CHUNK", 2)
    unseen = DrugImportSpec.load_existing

    def load_existing(self, keys, ctx):  # the concurrent import's drug 4 is not seen
        return {k: v for k, v in unseen(self, keys, ctx).items() if k != drug_code(4)}

    monkeypatch.setattr(DrugImportSpec, "load_existing", load_existing)
    response = post(client, drug_upload([drug_row(n) for n in (1, 2, 3, 4, 5)]))
    assert response.status_code == 400, response.json()
    assert "未写入任何数据" in response.json()["detail"]
    assert list(Drug.objects.values_list("code", flat=True)) == [drug_code(4)]
    assert PaymentStandard.objects.count() == 1 and ImportAudit.objects.count() == 1
    run = ImportRun.objects.order_by("-pk").first()
    assert run.status == ImportRun.Status.FAILED and run.created_count == 0
