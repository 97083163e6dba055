"""Output formats of the money side (the payment list as a print-ready workbook and as CSV; JSON shapes shared by
the API and the pages). The figures come from ``money_selectors``; nothing here computes money."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.http import HttpResponse

from apps.core.excel.safety import csv_safe, neutralise_formulas

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS = [
    ("number", "结算单号", 20), ("code", "机构编码", 14), ("name", "机构名称", 28), ("bank_name", "开户银行", 24),
    ("bank_account_name", "账户名称", 24), ("bank_account_no", "银行账号", 24), ("fund_payment", "统筹基金支付", 14),
    ("deposit", "预留保证金", 12), ("deductions", "扣除/追回", 12), ("payable", "应拨付", 14),
    ("held", "暂缓拨付", 12), ("pay_now", "本次拨付", 14),
]
MONEY_KEYS = {"fund_payment", "deposit", "deductions", "payable", "held", "pay_now"}


def payment_list_json(listing: dict) -> dict:
    def cell(key, value):
        return f"{value:.2f}" if key in MONEY_KEYS else value

    return {"period": listing["period"],
            "results": [{k: cell(k, v) for k, v in row.items() if k != "organisation_kind"} | {
                "organisation_kind": row["organisation_kind"]} for row in listing["rows"]],
            "totals": {k: f"{v:.2f}" for k, v in listing["totals"].items()}}


def payment_list_workbook(listing: dict) -> bytes:
    """A4 landscape, title and header repeated on every printed page, money as #,##0.00, a totals row."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "拨付清单"
    last = get_column_letter(len(COLUMNS))
    ws.merge_cells(f"A1:{last}1")
    ws["A1"] = f"双通道药品月度结算拨付清单（{listing['period']}）"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for col, (_, title, width) in enumerate(COLUMNS, start=1):
        c = ws.cell(row=2, column=col, value=title)
        c.font = Font(bold=True)
        c.border = border
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    r = 2
    for row in listing["rows"]:
        r += 1
        for col, (key, _, _) in enumerate(COLUMNS, start=1):
            c = ws.cell(row=r, column=col, value=row[key])
            c.border = border
            if key in MONEY_KEYS:
                c.number_format = "#,##0.00"
            elif key == "bank_account_no":
                c.number_format = "@"
    r += 1
    ws.cell(row=r, column=1, value="合计").font = Font(bold=True)
    for col, (key, _, _) in enumerate(COLUMNS, start=1):
        c = ws.cell(row=r, column=col)
        c.border = border
        if key in MONEY_KEYS:
            c.value = listing["totals"][key]
            c.number_format = "#,##0.00"
            c.font = Font(bold=True)
    ws.freeze_panes = "A3"
    ws.print_title_rows = "1:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    out = io.BytesIO()
    neutralise_formulas(wb)  # no formula injection (R-SEC-4)
    wb.save(out)
    return out.getvalue()


def payment_list_xlsx_response(listing: dict) -> HttpResponse:
    response = HttpResponse(payment_list_workbook(listing), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="payment-list-{listing["period"]}.xlsx"'
    return response


def payment_list_csv(listing: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title, _ in COLUMNS])
    for row in listing["rows"]:
        writer.writerow([f"{row[k]:.2f}" if k in MONEY_KEYS else csv_safe(row[k]) for k, _, _ in COLUMNS])
    writer.writerow(["合计"] + [f"{listing['totals'][k]:.2f}" if k in MONEY_KEYS else "" for k, _, _ in COLUMNS[1:]])
    return out.getvalue()


def payment_list_csv_response(listing: dict) -> HttpResponse:
    # UTF-8 with BOM so that Excel on Windows opens the Chinese headers correctly
    response = HttpResponse("\ufeff" + payment_list_csv(listing), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payment-list-{listing["period"]}.csv"'
    return response


def _money(value) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else value


def differences_json(diff: dict) -> dict:
    return {
        "matches": diff["matches"],
        "figures": [{k: _money(v) for k, v in f.items()} for f in diff["figures"]],
        "lines": [{**{k: v for k, v in line.items() if k not in ("system", "reported", "difference")},
                   "system": {k: _money(v) for k, v in line["system"].items()},
                   "reported": {k: _money(v) for k, v in line["reported"].items()},
                   "difference": {k: _money(v) for k, v in line["difference"].items()}} for line in diff["lines"]],
        "dispensings": diff["dispensings"],
    }
