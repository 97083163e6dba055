"""Formula injection in exports (R-SEC-4): a value that starts with ``=`` — a physician named
``=HYPERLINK(…)`` — must arrive in Excel as the text it is, never as a live formula.

In .xlsx a cell is a formula only when it is stored as one; openpyxl stores every string starting with ``=`` as a
formula. Written as a string cell instead it shows and re-imports exactly as typed, so export → import stays a round
trip (django-import-export's ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` would delete the ``=`` and turn every
number into text, breaking it). CSV has no cell types: there the usual defence applies, a leading apostrophe before
``= + - @`` and tab/carriage return. Characters XML cannot hold become U+FFFD instead of failing the export."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _clean(value):
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)
    return value


def neutralise_formulas(wb: Workbook) -> int:
    """Every string cell openpyxl would store as a formula becomes a text cell. Returns how many. For workbooks
    built cell by cell (settlement, procurement exports): call before ``wb.save``."""
    changed = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" and isinstance(cell.value, str):
                    cell.data_type = "s"
                    changed += 1
                elif isinstance(cell.value, str) and ILLEGAL_CHARACTERS_RE.search(cell.value):
                    cell.value = _clean(cell.value)
    return changed


def text_cell(ws, value):
    """A write-only cell holding ``value``; a string is always stored as text."""
    cell = WriteOnlyCell(ws, value=_clean(value))
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def dataset_to_xlsx(dataset) -> bytes:
    """A tablib ``Dataset`` (django-import-export's export) as .xlsx: bold, frozen header row, typed cells, strings
    as text. Replaces ``XLSX().export_data`` for every export of the Excel engine."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=(dataset.title or "Sheet1")[:31])
    ws.freeze_panes = "A2"
    header = []
    for title in dataset.headers or []:
        cell = text_cell(ws, str(title))
        cell.font = Font(bold=True)
        header.append(cell)
    if header:
        ws.append(header)
    for row in dataset:
        ws.append([text_cell(ws, v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_safe(value):
    """A CSV field that a spreadsheet will not evaluate: a leading apostrophe before a formula character."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_PREFIXES):
        return "'" + value
    return value
