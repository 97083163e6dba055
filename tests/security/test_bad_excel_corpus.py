"""R-SEC-4 (issue 14 §8): a corpus of bad workbooks, each uploaded to a real import: every one answers 4xx (never
500), a row at fault is located, and no row is written. Built from a valid institutions workbook, changed one way
each: package damage, XML attacks (entity bomb, external entity, DTD), sizes (column ZZZZZZ, a row without end),
and cell values (numbers out of range, date serials, text where numbers go…)."""
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.institutions.models import Institution
from apps.institutions.resources import H as IH
from tests import factories as f
from tests.catalogue.helpers import workbook_bytes

pytestmark = pytest.mark.django_db

SHEET = "xl/worksheets/sheet1.xml"


def _row(**over):
    row = {IH["code"]: "H640500901", IH["name"]: "中卫市第二人民医院", IH["region"]: "640502", IH["level"]: "三级",
           IH["hospital_type"]: "综合医院", IH["kind"]: "治疗类", IH["has_clinical_department"]: "是",
           IH["sells_at_negotiated_price"]: "是", IH["info_system_capable"]: "是", IH["no_penalty_past_year"]: "是"}
    row.update({IH.get(k, k): v for k, v in over.items()})
    return row


def _good(**over) -> bytes:
    return workbook_bytes([_row(**over)], list(IH.values()))


def _rezip(content: bytes, change) -> bytes:
    """Rewrite the package, ``change(name, data) -> data | None`` (None drops the part)."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info.filename, data)
    return out.getvalue()


def _sheet(content: bytes, fn) -> bytes:
    return _rezip(content, lambda name, data: fn(data) if name == SHEET else data)


def _shared_strings_attack(content: bytes, doctype: bytes) -> bytes:
    def change(name, data):
        if name == "xl/sharedStrings.xml":
            return data.replace(b"?>", b"?>" + doctype, 1) if data.startswith(b"<?xml") else doctype + data
        return data
    parts = zipfile.ZipFile(io.BytesIO(content)).namelist()
    if "xl/sharedStrings.xml" not in parts:  # write-only workbooks inline their strings: attack the sheet
        return _sheet(content, lambda d: d.replace(b"?>", b"?>" + doctype, 1) if d.startswith(b"<?xml")
                      else doctype + d)
    return _rezip(content, change)


BOMB = (b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
XXE = b'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def _huge_row(content: bytes) -> bytes:
    cells = b"".join(b'<c r="A%d" t="inlineStr"><is><t>x</t></is></c>' % i for i in range(10))
    filler = b"<c t=\"inlineStr\"><is><t>" + b"y" * (1024 * 1024) + b"</t></is></c>"
    return _sheet(content, lambda d: d.replace(b"</sheetData>", b"<row r=\"3\">" + cells + filler * 20 +
                                                b"</sheetData>"))


def _column(content: bytes, letters: bytes) -> bytes:
    return _sheet(content, lambda d: d.replace(b'r="B2"', b'r="' + letters + b'2"', 1))


def _hidden_first_sheet() -> bytes:
    """The first sheet (hidden) holds a valid row the uploader cannot see; the visible second sheet holds another."""
    import openpyxl

    wb = openpyxl.Workbook()
    hidden = wb.active
    hidden.title = "旧数据"
    hidden.sheet_state = "hidden"
    visible = wb.create_sheet("机构")
    headers = list(IH.values())
    for ws, row in ((hidden, _row()), (visible, _row(code="H640500902", name="中卫市第三人民医院"))):
        ws.append(headers)
        ws.append([row.get(h) for h in headers])
    wb.active = 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _duplicate_header() -> bytes:
    """The name column twice (B and the last column), with different names in the row."""
    headers = list(IH.values()) + [IH["name"]]
    row = _row()
    return workbook_bytes([{**row}], headers)


CORPUS = {
    "not a zip": lambda: b"this is not a workbook",
    "empty file": lambda: b"",
    "truncated zip": lambda: _good()[:200],
    "zip without workbook": lambda: _rezip(_good(), lambda n, d: None if n == "xl/workbook.xml" else d),
    "zip without sheet": lambda: _rezip(_good(), lambda n, d: None if n == SHEET else d),
    "zip without rels": lambda: _rezip(_good(), lambda n, d: None if n == "_rels/.rels" else d),
    "broken sheet xml": lambda: _sheet(_good(), lambda d: d[: len(d) // 2]),
    "broken workbook xml": lambda: _rezip(_good(), lambda n, d: d[:40] if n == "xl/workbook.xml" else d),
    "entity bomb": lambda: _shared_strings_attack(_good(), BOMB),
    "external entity": lambda: _shared_strings_attack(_good(), XXE),
    "doctype in sheet": lambda: _sheet(_good(), lambda d: d.replace(b"?>", b"?><!DOCTYPE x []>", 1)
                                       if d.startswith(b"<?xml") else b"<!DOCTYPE x []>" + d),
    "column ZZZZZZ": lambda: _column(_good(), b"ZZZZZZ"),
    "column beyond XFD": lambda: _column(_good(), b"XFE"),
    "one huge row": lambda: _huge_row(_good()),
    "invalid utf-8": lambda: _sheet(_good(), lambda d: d.replace(b"</sheetData>", b"<row r=\"9\"><c r=\"A9\" "
                                                                b"t=\"inlineStr\"><is><t>\xff\xfe</t></is></c>"
                                                                b"</row></sheetData>")),
    "no header row": lambda: workbook_bytes([], []),
    "missing columns": lambda: workbook_bytes([_row()], list(IH.values())[:3]),
    "unknown header only": lambda: workbook_bytes([{"随便": 1}], ["随便"]),
    "level 1e30": lambda: _good(level=1e30),
    "level huge int": lambda: _good(level=10 ** 30),
    "code too long": lambda: _good(code="H" + "9" * 300),
    "region not a region": lambda: _good(region="999999"),
    "region 1e20": lambda: _good(region=1e20),
    "region non-ascii digits": lambda: _good(region="６４０５０２"),
    "level as text": lambda: _good(level="很高"),
    "kind unknown": lambda: _good(kind="火星类"),
    "yes/no unknown": lambda: _good(has_clinical_department="也许"),
    "name empty": lambda: _good(name=""),
    "name 40k chars": lambda: _good(name="医" * 40000),
    "shared string out of range": lambda: _sheet(_good(), lambda d: d.replace(
        b"</sheetData>", b'<row r="9"><c r="A9" t="s"><v>99999</v></c></row></sheetData>')),
    "code formula": lambda: _good(code="=1+1"),
    "duplicate code rows": lambda: workbook_bytes([_row(), _row()], list(IH.values())),
    "hidden first sheet": _hidden_first_sheet,
    # a valid Excel address, but calamine would hold the whole rectangle A1:XFD1048576 (17 billion cells)
    "cell at XFD1048576": lambda: _sheet(_good(), lambda d: d.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')),
    # 4.1 million cells without a reference in one row (16 MB of XML, 40 KB zipped): one column each
    "cells without references": lambda: _sheet(_good(), lambda d: d.replace(
        b"</sheetData>", b'<row r="3">' + b"<c/>" * 4_100_000 + b"</row></sheetData>")),
    "duplicate header": _duplicate_header,
}


@pytest.fixture
def client(api_as, zhongwei):
    f.region("640502", "沙坡头区")
    return api_as(f.bureau_admin())


def test_r_sec_4_bad_excel_corpus_has_at_least_30_kinds():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_r_sec_4_bad_workbook_is_refused_with_4xx_and_writes_nothing(client, kind):
    content = CORPUS[kind]()
    resp = client.post("/api/v1/imports/institutions/", {"file": SimpleUploadedFile("x.xlsx", content)},
                       format="multipart")
    assert 400 <= resp.status_code < 500, (kind, resp.status_code, resp.content[:300])
    body = resp.json()
    assert {"code", "detail"} <= set(body), body
    errors = body.get("errors") or []
    if errors and kind not in ("duplicate code rows",):
        assert all({"row", "column", "message"} <= set(e) for e in errors), errors
    if kind.startswith(("level", "region", "code", "name", "kind", "yes/no")) and errors:
        assert any(e.get("row") == 2 for e in errors), (kind, errors)  # located on the bad row
    assert Institution.objects.count() == 0, kind


def _post(client, content):
    return client.post("/api/v1/imports/institutions/", {"file": SimpleUploadedFile("x.xlsx", content)},
                       format="multipart")


def test_r_sec_4_a_hidden_first_sheet_is_refused_naming_the_sheet(client):
    """The import reads the first sheet: a hidden one would be imported while the visible one is ignored."""
    resp = _post(client, _hidden_first_sheet())
    assert resp.status_code == 400
    [error] = resp.json()["errors"]
    assert "“旧数据”是隐藏的" in error["message"] and "“机构”会被忽略" in error["message"]
    assert "取消隐藏" in error["message"]
    assert Institution.objects.count() == 0


def test_r_sec_4_a_duplicate_header_is_refused_naming_the_header_and_its_columns(client):
    """名称 in column B and again in column R (the 18th): which one holds the names is a guess, so it is refused."""
    resp = _post(client, _duplicate_header())
    assert resp.status_code == 400
    [error] = resp.json()["errors"]
    assert (error["row"], error["column"]) == (1, IH["name"])
    letters = f"B 列、{chr(64 + len(IH) + 1)} 列"
    assert f"列标题“{IH['name']}”出现了 2 次（{letters}）" in error["message"], error["message"]
    assert Institution.objects.count() == 0


@pytest.mark.parametrize("kind, message", [("cell at XFD1048576", "1048576 行 × 16384 列"),
                                           ("cells without references", "列），超过导入上限 8,000,000 个单元格"),
                                           ("column ZZZZZZ", "“ZZZZZZ”超出 Excel 的最大列 XFD")])
def test_r_sec_4_a_sheet_too_large_to_hold_is_refused_before_it_is_read(client, kind, message):
    """The reader holds a sheet as one rectangle: its size is measured on the raw XML and refused with what to do,
    before any memory is spent on it."""
    resp = _post(client, CORPUS[kind]())
    assert resp.status_code == 400
    [error] = resp.json()["errors"]
    assert message in error["message"] and "后重新上传" in error["message"], error["message"]


def test_r_sec_4_an_upload_over_the_size_limit_is_refused_before_it_is_kept(client, settings):
    from apps.catalogue.models import ImportRun

    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    resp = client.post("/api/v1/imports/institutions/", {"file": SimpleUploadedFile("x.xlsx", _good())},
                       format="multipart")
    assert resp.status_code == 413 and resp.json()["code"] == "file_too_large"
    assert not ImportRun.objects.exists() and Institution.objects.count() == 0
