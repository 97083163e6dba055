"""The import template a clerk can fill without the manual (issue 15 item 13): the data sheet with the kind's
headers (bold, frozen, wide enough for the Chinese titles), drop-down lists for every enumeration (data
validation), a 填写说明 sheet (each column: required or not, what to write, an example; the percentage
convention; what happens on an error) and a 示例 sheet with one filled row. The data sheet stays first and has
only the header row, so the filled template imports as it is (the engine reads the first sheet)."""
from __future__ import annotations

import io
import unicodedata

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FONT = Font(bold=True, color="C00000")
MAX_ROWS = 5000  # rows covered by the drop-down lists


def display_width(text) -> int:
    """Characters as Excel shows them: a Chinese character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text or ""))


def _options(spec, column) -> list[str]:
    extra = spec.template_options().get(column.attr)
    return list(extra) if extra else list(getattr(column.parse, "options", []) or [])


def _example(spec, column) -> str:
    if column.attr in spec.example:
        return str(spec.example[column.attr])
    options = _options(spec, column)
    if options:
        return options[0]
    return str(getattr(column.parse, "example", ""))


def _hint(spec, column) -> str:
    options = spec.template_options().get(column.attr)
    if options:
        shown = " / ".join(options[:12]) + (" 等" if len(options) > 12 else "")
        return f"从下拉列表选择：{shown}"
    return getattr(column.parse, "hint", "") or "文本"


def _required(column) -> bool:
    """Whether a value must be written: the parser refuses a blank cell (the column may still be optional)."""
    try:
        column.parse(None)
    except Exception:  # noqa: BLE001 — any refusal of a blank cell means "required"
        return True
    return False


def template_workbook(spec) -> bytes:
    columns = list(spec.columns)
    wb = Workbook()
    data = wb.active
    data.title = spec.label[:31]
    data.append([c.header for c in columns])
    for index, column in enumerate(columns, start=1):
        cell = data.cell(row=1, column=index)
        cell.font = REQUIRED_FONT if _required(column) else Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=False)
        letter = get_column_letter(index)
        widest = max(display_width(column.header), display_width(_example(spec, column)))
        data.column_dimensions[letter].width = min(max(widest + 4, 10), 60)
        options = _options(spec, column)
        if options:
            validation = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True,
                                        showErrorMessage=True, errorTitle="请从列表选择",
                                        error=f"“{column.header}”应为：{'、'.join(options)}")
            if len(validation.formula1) > 255:  # Excel's limit for an inline list: list the values on a sheet
                lists = wb["可选值"] if "可选值" in wb.sheetnames else wb.create_sheet("可选值")
                col = lists.max_column + (1 if lists.max_row > 1 or lists["A1"].value else 0)
                lists.cell(row=1, column=col, value=column.header)
                for r, value in enumerate(options, start=2):
                    lists.cell(row=r, column=col, value=value)
                ref = get_column_letter(col)
                validation = DataValidation(type="list", formula1=f"'可选值'!${ref}$2:${ref}${len(options) + 1}",
                                            allow_blank=True, showErrorMessage=True, errorTitle="请从列表选择",
                                            error=f"“{column.header}”应从列表中选择")
            data.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
    data.freeze_panes = "A2"
    data.row_dimensions[1].height = 22

    notes = wb.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 24
    notes.column_dimensions["B"].width = 8
    notes.column_dimensions["C"].width = 60
    notes.column_dimensions["D"].width = 28
    notes.append([f"{spec.label}导入模板 · 填写说明"])
    notes["A1"].font = Font(bold=True, size=14)
    for line in (
        f"1. 在第一个工作表“{data.title}”中，从第 2 行起每行填写一条记录；不要修改第 1 行的列标题，也不要改动工作表的顺序。",
        "2. 红色列标题为必填列；其余可以留空。带下拉箭头的列请从列表中选择。",
        "3. 比例（百分比）填 10% 或 0.1，两者都表示百分之十；只填 10 会被拒绝（会被读成 1000%）。",
        "4. 日期填 2026-01-01 这样的格式；金额只填数字，不带“元”等单位。",
        "5. 上传后先预览：任何一行有误则整个文件都不写入，页面列出行号、列和原因；按提示改正后重新上传。",
        "6. “示例”工作表是一条填好的记录，仅供参考，不会被导入。",
    ):
        notes.append([line])
    notes.append([])
    notes.append(["列名", "必填", "填写要求", "示例"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for column in columns:
        notes.append([column.header, "是" if _required(column) else "否", _hint(spec, column), _example(spec, column)])
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    sample = wb.create_sheet("示例")
    sample.append([c.header for c in columns])
    sample.append([_example(spec, c) for c in columns])
    for index, column in enumerate(columns, start=1):
        sample.cell(row=1, column=index).font = Font(bold=True)
        sample.column_dimensions[get_column_letter(index)].width = data.column_dimensions[get_column_letter(index)].width
    sample.freeze_panes = "A2"

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
