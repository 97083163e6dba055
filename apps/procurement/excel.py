"""Excel export of the completion page (R-VBP-3), formatted like the other reports: a title row, bold headers,
number formats, column widths."""
from __future__ import annotations

from io import BytesIO
from urllib.parse import quote

from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from apps.core.excel.safety import neutralise_formulas

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS = [
    # header, width, number format, value
    ("医疗机构编码", 14, "@", lambda r: r["institution"].code),
    ("医疗机构", 26, "@", lambda r: r["institution"].name),
    ("品种编码", 12, "@", lambda r: r["product"].code),
    ("通用名", 16, "@", lambda r: r["product"].generic_name),
    ("剂型", 10, "@", lambda r: r["product"].dosage_form),
    ("规格", 16, "@", lambda r: r["product"].specification),
    ("周期年度", 9, "0", lambda r: r["contract"].cycle_year),
    ("约定采购量", 12, "#,##0", lambda r: r["agreed"]),
    ("已采购（中选）", 14, "#,##0", lambda r: r["purchased"]),
    ("完成率", 10, "0.00%", lambda r: float(r["completion"])),
    ("均衡进度", 10, "0.00%", lambda r: float(r["expected"])),
    ("进度落后", 9, "@", lambda r: "是" if r["behind_pace"] else "否"),
    ("非中选用量", 12, "#,##0", lambda r: r["other_use"]),
    ("中选药品使用比例", 14, "0.00%", lambda r: None if r["winning_share"] is None else float(r["winning_share"])),
    ("使用量低", 9, "@", lambda r: "是" if r["low_use"] else "否"),
]


def completion_workbook(rows: list[dict], *, month: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "完成情况"
    ws.cell(row=1, column=1, value=f"带量采购约定采购量完成情况（截至 {month} 月末）").font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    fill = PatternFill("solid", fgColor="DDE6F0")
    for col, (header, width, _fmt, _value) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=2, column=col, value=header)
        cell.font, cell.fill = Font(bold=True), fill
        ws.column_dimensions[get_column_letter(col)].width = width
    for r, row in enumerate(rows, start=3):
        for col, (_h, _w, fmt, value) in enumerate(COLUMNS, start=1):
            cell = ws.cell(row=r, column=col, value=value(row))
            cell.number_format = fmt
    ws.freeze_panes = "A3"
    ws.print_title_rows = "2:2"
    ws.page_setup.orientation = "landscape"
    out = BytesIO()
    neutralise_formulas(wb)  # no formula injection (R-SEC-4)
    wb.save(out)
    return out.getvalue()


def completion_response(rows: list[dict], *, month: str) -> HttpResponse:
    response = HttpResponse(completion_workbook(rows, month=month), content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(f'procurement-completion-{month}.xlsx')}"
    return response
