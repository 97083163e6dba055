"""The engine's streaming sheet reader yields what openpyxl's ``iter_rows(values_only=True)`` yields, with Excel
row numbers (R-CAT-2 reports rows as in Excel)."""
import datetime as dt
import io

import openpyxl
import pytest

from apps.core.excel.xlsx import SheetReader, WorkbookError


def _workbook(write_only: bool) -> bytes:
    wb = openpyxl.Workbook(write_only=write_only)
    ws = wb.create_sheet("目录") if write_only else wb.active
    rows = [
        ["a & b <c>", "引号\"'", None, True, False, 1, 2.5, dt.date(2026, 1, 2), dt.datetime(2026, 3, 4, 5, 6), " 空 "],
        [None, None, "x"],
        [],
        ["after gap", 0.1, 93.6, 4788, "line1\nline2", "tab\there", "XL01XEA0000000000000001"],
    ]
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _trimmed(row):
    row = list(row)
    while row and row[-1] is None:
        row.pop()
    return row


@pytest.mark.parametrize("write_only", [False, True], ids=["shared-strings", "inline-strings"])
def test_reader_matches_openpyxl(write_only):
    content = _workbook(write_only)
    expected = [_trimmed(r) for r in openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
                .worksheets[0].iter_rows(values_only=True)]
    reader = SheetReader(io.BytesIO(content))
    scanned = {n: _trimmed(v) for n, v in reader.rows()}
    # calamine gives a date-formatted cell at midnight as a date, openpyxl as a datetime (the engine takes both)
    expected = [[dt.datetime.combine(v, dt.time()) if type(v) is dt.date else v for v in row] for row in expected]
    scanned = {n: [dt.datetime.combine(v, dt.time()) if type(v) is dt.date else v for v in row]
               for n, row in scanned.items()}
    assert [scanned.get(i + 1, []) for i in range(len(expected))] == expected
    assert 3 not in scanned or scanned[3] == []
    # the sheet's row tags (an estimate for progress): the empty row 3 has one in write-only mode only
    assert reader.count_rows() == (4 if write_only else 3)


def test_reader_refuses_what_is_not_a_workbook():
    with pytest.raises(WorkbookError):
        SheetReader(io.BytesIO(b"PK\x03\x04 not really a zip"))
    with pytest.raises(WorkbookError):
        SheetReader(io.BytesIO("医保药品代码,通用名\n".encode()))


# --- issue 16: the first sheet is given to calamine in windows of rows (memory flat in the row count) -------------

def _with_shared_strings(content: bytes) -> bytes:
    """``content`` (openpyxl inlines its strings) as Excel writes it: every text cell a reference into
    ``xl/sharedStrings.xml`` (one of them rich text, in runs), declared in the workbook's relationships."""
    import re
    import zipfile
    from xml.sax.saxutils import escape

    src = zipfile.ZipFile(io.BytesIO(content))
    strings: list[str] = []

    def shared(match):
        text = match.group(2)
        strings.append(text)
        return b'<c r="' + match.group(1) + b'" t="s"><v>' + str(len(strings) - 1).encode() + b"</v></c>"

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.startswith("xl/worksheets/"):
                data = re.sub(rb'<c r="([A-Z]+\d+)"[^>]*t="inlineStr"[^>]*><is><t[^>]*>(.*?)</t></is></c>', shared,
                              data, flags=re.S)
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSST" Type="http://schemas.openxml'
                                    b'formats.org/officeDocument/2006/relationships/sharedStrings" '
                                    b'Target="sharedStrings.xml"/></Relationships>')
            elif name == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="applicat'
                                    b'ion/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            dst.writestr(name, data)
        items = []
        for text in strings:
            if text == "富文本".encode():
                items.append("<si><r><t>富</t></r><r><rPr><b/></rPr><t>文本</t></r></si>".encode())
            else:
                items.append(b'<si><t xml:space="preserve">' + text + b"</t></si>")
        dst.writestr("xl/sharedStrings.xml", b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                     b'openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">' % (len(items), len(items))
                     + b"".join(items) + b"</sst>")
    assert strings and escape  # the workbook had text cells to share
    return out.getvalue()


def _catalogue_like(rows: int) -> bytes:
    """A sheet with what windows must not lose: leading empty rows and columns, empty rows, rows starting in
    different columns, dates, numbers, yes/no, text with markup characters and a rich-text string."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for i in range(rows):
        if i % 9 == 4:
            continue  # an empty row
        lead = 2 + (i % 3 == 0)  # column B or C
        for offset, value in enumerate([f"XL01XEA{i:016d}", "富文本" if i == 7 else f"名 <{i}> & 药",
                                        i * 1.25, dt.date(2026, 1, 1) + dt.timedelta(days=i), i % 2 == 0, 10**i % 97]):
            ws.cell(row=i + 3, column=lead + offset, value=value)  # rows 1 and 2 stay empty
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("chunk", [1 << 20, 7], ids=["1MiB-reads", "7-byte-reads"])
@pytest.mark.parametrize("shared", [False, True], ids=["inline-strings", "shared-strings"])
@pytest.mark.parametrize("window", [1, 2, 5, 1000])
def test_r_cat_2_the_windowed_reader_yields_exactly_the_rows_of_the_whole_sheet(shared, window, chunk, monkeypatch):
    """Every tag of the sheet is cut by a read when the reads are 7 bytes long: the windows and the row count must
    not depend on where the reads end."""
    from apps.core.excel import xlsx

    monkeypatch.setattr(xlsx, "READ_CHUNK", chunk)
    content = _catalogue_like(40)
    if shared:
        content = _with_shared_strings(content)
    whole = SheetReader(io.BytesIO(content))
    whole._windows = None  # calamine on the whole sheet, as before issue 16
    expected = list(whole.rows())
    reader = SheetReader(io.BytesIO(content), window_rows=window)
    assert reader._windows is not None
    present = len([i for i in range(40) if i % 9 != 4])
    packages = list(reader._windows.packages(io.BytesIO(content), window))
    assert len(packages) == -(-present // window)  # one package per window of row tags
    got = list(reader.rows())
    assert got == expected
    assert got[0][0] == 3 and got[0][1][:3] == (None, None, "XL01XEA0000000000000000")  # rows as in Excel
    assert got[1][0] == 4 and got[1][1][:2] == (None, "XL01XEA0000000000000001")  # columns from A
    assert any("富文本" in values for _n, values in got) and len(got) == present
    assert reader.count_rows() == present


def test_r_cat_2_a_sheet_whose_rows_carry_no_numbers_is_read_whole():
    """A writer that leaves out the rows' ``r`` numbers: calamine numbers them one after the other, which a window
    cannot know, so the sheet is read whole (same rows)."""
    import re
    import zipfile

    content = _catalogue_like(12)
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<row r="\d+"', b"<row", data)
            dst.writestr(name, data)
    reader = SheetReader(io.BytesIO(out.getvalue()), window_rows=2)
    assert reader._windows is None
    rows = list(reader.rows())
    assert rows and [values for _n, values in rows] == [values for _n, values in
                                                        SheetReader(io.BytesIO(content)).rows()]


def test_r_cat_2_windows_of_a_sheet_written_with_a_namespace_prefix():
    """Some writers put the sheet's elements in a prefixed namespace (``<x:row>``): the windows find those rows."""
    import re
    import zipfile

    content = _catalogue_like(20)
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<(/?)(\w+)([\s>/])", rb"<\1x:\2\3", data).replace(b" xmlns=", b" xmlns:x=")
            dst.writestr(name, data)
    prefixed = out.getvalue()
    reader = SheetReader(io.BytesIO(prefixed), window_rows=3)
    assert reader._windows is not None
    expected = list(SheetReader(io.BytesIO(content)).rows())
    assert len(expected) == 18 and list(reader.rows()) == expected
