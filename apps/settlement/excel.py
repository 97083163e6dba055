"""Excel workbooks of the monthly report (R-SET-3) and of statements (R-SET-1), formatted for printing:
a title row, bold headers repeated on each printed page, number formats, column widths, landscape A4 fitted
to the page width, a footer with page numbers."""
from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter

from apps.core.excel.safety import neutralise_formulas

MONEY_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.00%"
INT_FORMAT = "#,##0"

_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")

# (key in the row dict, header, kind, width)
MEASURES = [
    ("visits", "人次", "int", 10),
    ("total", "医疗费用总额（元）", "money", 18),
    ("fund_payment", "统筹基金支付（元）", "money", 18),
    ("personal_payment", "个人支付（元）", "money", 16),
    ("reimbursement_ratio", "实际报销比例", "ratio", 13),
]

SECTIONS = [
    ("by_region", "按地区", [("region_code", "区划代码", "text", 11), ("region_name", "地区", "text", 16)]),
    ("by_institution", "按开方医疗机构", [("code", "机构编码", "text", 14), ("name", "医疗机构", "text", 28)]),
    ("by_pharmacy", "按定点药店", [("code", "药店编码", "text", 14), ("name", "定点药店", "text", 28)]),
    ("by_drug", "按药品", [("code", "医保药品代码", "text", 26), ("generic_name", "通用名", "text", 16),
                          ("manufacturer", "生产企业", "text", 26), ("quantity", "数量（盒）", "int", 10)]),
    ("by_insurance_type", "按险种", [("name", "险种", "text", 16)]),
]


_FORMATS = {"money": MONEY_FORMAT, "ratio": RATIO_FORMAT, "int": INT_FORMAT, "text": "@"}


def _styles(wb: Workbook) -> dict[str, str]:
    """One named style per kind of cell (much cheaper than styling every cell one property at a time)."""
    names = {}
    for kind, number_format in _FORMATS.items():
        name = f"cell_{kind}"
        wb.add_named_style(NamedStyle(name=name, number_format=number_format, border=_BORDER))
        names[kind] = name
    return names


def _value(kind: str, raw):
    if raw is None or raw == "":
        return None
    if kind == "money":
        return Decimal(raw)
    if kind == "ratio":
        return float(Decimal(raw))  # a display ratio, not money
    if kind == "int":
        return int(raw)
    return raw


def _sheet(wb: Workbook, *, title: str, heading: str, columns: list, rows: list[dict], totals: dict | None,
           first: bool = False):
    ws = wb.active if first else wb.create_sheet()
    ws.title = title[:31]
    ncols = len(columns)
    ws.cell(row=1, column=1, value=heading).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    for col, (_, header, _, width) in enumerate(columns, start=1):
        cell = ws.cell(row=2, column=col, value=header)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    r = 3
    styles = wb._settlement_styles
    for row in rows:
        for col, (key, _, kind, _) in enumerate(columns, start=1):
            ws.cell(row=r, column=col, value=_value(kind, row.get(key))).style = styles[kind]
        r += 1
    if totals is not None:
        ws.cell(row=r, column=1, value="合计").font = Font(bold=True)
        for col, (key, _, kind, _) in enumerate(columns, start=1):
            if key in totals and kind != "text":
                cell = ws.cell(row=r, column=col, value=_value(kind, totals.get(key)))
                cell.number_format = {"money": MONEY_FORMAT, "ratio": RATIO_FORMAT, "int": INT_FORMAT}[kind]
                cell.font = Font(bold=True)
            ws.cell(row=r, column=col).border = _BORDER
    ws.freeze_panes = "A3"
    ws.print_title_rows = "2:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddHeader.right.text = heading
    return ws


def monthly_report_workbook(report: dict) -> bytes:
    """R-SET-3: one sheet for the totals and one per breakdown."""
    wb = Workbook()
    wb._settlement_styles = _styles(wb)
    region = report["region"]["name"] if report.get("region") else "全部统筹区"
    title = f"双通道药品 {report['period']} 月度统计（{region}）"
    summary_cols = [("label", "项目", "text", 18)] + MEASURES
    _sheet(wb, title="汇总", heading=title, columns=summary_cols,
           rows=[dict(report["totals"], label="本月合计")], totals=None, first=True)
    for key, name, leading in SECTIONS:
        _sheet(wb, title=name, heading=f"{title} · {name}", columns=leading + MEASURES, rows=report[key],
               totals=report["totals"] if key != "by_drug" else None)
    buffer = BytesIO()
    neutralise_formulas(wb)  # no formula injection (R-SEC-4)
    wb.save(buffer)
    return buffer.getvalue()


def statements_workbook(*, period_label: str, statements) -> bytes:
    """R-SET-1: the month's statements, one line per organisation, with the deposit and the payable."""
    columns = [("kind", "机构类型", "text", 12), ("code", "编码", "text", 14), ("name", "名称", "text", 28),
               ("visits", "人次", "int", 10), ("total", "医疗费用总额（元）", "money", 18),
               ("fund_payment", "统筹基金支付（元）", "money", 18), ("personal_payment", "个人支付（元）", "money", 16),
               ("deposit", "质量保证金 5%（元）", "money", 18), ("payable", "应拨付（元）", "money", 16),
               ("status", "状态", "text", 10)]
    rows, sums = [], {"visits": 0, "total": Decimal("0"), "fund_payment": Decimal("0"),
                      "personal_payment": Decimal("0"), "deposit": Decimal("0"), "payable": Decimal("0")}
    for s in statements:
        org = s.organisation
        rows.append({"kind": s.get_organisation_kind_display(), "code": org.code, "name": org.name,
                     "visits": s.visits, "total": s.total, "fund_payment": s.fund_payment,
                     "personal_payment": s.personal_payment, "deposit": s.deposit, "payable": s.payable,
                     "status": s.get_status_display()})
        for key in sums:
            sums[key] += getattr(s, key)
    wb = Workbook()
    wb._settlement_styles = _styles(wb)
    _sheet(wb, title="结算单", heading=f"双通道药品 {period_label} 月度结算汇总", columns=columns, rows=rows,
           totals=sums, first=True)
    buffer = BytesIO()
    neutralise_formulas(wb)  # no formula injection (R-SEC-4)
    wb.save(buffer)
    return buffer.getvalue()
