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
