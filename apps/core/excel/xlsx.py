"""The reader of the first sheet of an .xlsx workbook, for the import engine: python-calamine (Rust's calamine),
pinned in requirements.txt. It yields each row's Excel row number with its values as openpyxl's
``iter_rows(values_only=True)`` would (blank cells ``None``, whole numbers ``int``, date-formatted cells dates),
3–4× faster than the hand-written XML scanner it replaced (issue 16). Anything it cannot read is a
``WorkbookError`` (the caller reports "not a workbook").

R-SEC-4: before calamine sees the file, the package is checked with the standard library's ``zipfile`` (which
only reads the central directory): a part that would unpack beyond its limit (zip bomb) and any XML part that
declares a DTD or an entity (entity expansion, external entities) are refused. The values are then held to
Excel's own limits (columns up to XFD, cells up to 32,767 characters).
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from typing import IO, Iterator

import python_calamine

# limits on what an uploaded workbook may make the server do (R-SEC-4): Excel's own column limit (XFD), Excel's
# own cell limit, the sheet and every other part at most 256 / 64 MiB unpacked. DTDs and entities are refused.
MAX_COLUMNS = 16384
MAX_CELL_CHARS = 32767
MAX_SHEET_BYTES = 256 * 1024 * 1024
MAX_SHARED_BYTES = 64 * 1024 * 1024
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[ >]")
#: calamine holds a sheet as one dense rectangle (rows × columns, ~32 bytes a cell) before a row is read: a cell at
#: ZZZZZZ2 or XFD1048576 in a 200 KB file asked for gigabytes. The rectangle is measured on the raw XML first.
MAX_CELLS = 8_000_000
# a reference of digits only is a row's (a cell's starts with letters); cells in column AA and beyond are rare and
# read one by one. Attributes are separated by a space in every writer seen; a part with another separator is read
# with the slower whitespace forms.
_ROW_NUMBER = re.compile(rb' r="(\d{1,12})"')
_WIDE_REF = re.compile(rb' r="([A-Z]{2,})\d')
_ROW_NUMBER_ANY = re.compile(rb'\sr="(\d{1,12})"')
_WIDE_REF_ANY = re.compile(rb'\sr="([A-Z]{2,})\d')
_ANY_REFERENCE = re.compile(rb'\sr="')


class WorkbookError(Exception):
    pass


class WorkbookRefused(WorkbookError):
    """A readable workbook refused for a reason the uploader can fix; the message (Chinese) says what to change and
    is shown as it is (other ``WorkbookError``s are reported as "not a workbook")."""


def _check_package(fileobj: IO[bytes]) -> None:
    """R-SEC-4: part sizes and DTDs, from the zip's directory and the head of each XML part."""
    fileobj.seek(0)
    with zipfile.ZipFile(fileobj) as package:
        for info in package.infolist():
            name = info.filename
            limit = MAX_SHEET_BYTES if name.startswith("xl/worksheets/") else MAX_SHARED_BYTES
            if info.file_size > limit:
                raise WorkbookError(f"工作簿部件 {name} 解压后 {info.file_size // (1024 * 1024)} MiB，超过上限")
            if name.endswith((".xml", ".rels")):
                with package.open(info) as part:
                    head = part.read(1 << 16)
                if _DTD.search(head):
                    raise WorkbookError(f"工作簿部件 {name} 含有 DTD 或实体声明")
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with package.open(info) as part:
                    _check_extent(part)
    fileobj.seek(0)


def column_number(letters: bytes) -> int:
    """``b"A"`` → 1, ``b"XFD"`` → 16384."""
    number = 0
    for byte in letters:
        number = number * 26 + byte - 64
    return number


def _check_extent(part: IO[bytes]) -> None:
    """R-SEC-4: the rectangle calamine would allocate for a worksheet part — its last row (or its number of rows) by
    its last column (or its number of cells without a reference) — read from the raw XML in streamed chunks, and
    refused beyond Excel's columns or ``MAX_CELLS``."""
    last_row = row_tags = cells = references = 0
    last_column = 26
    tail = b""
    while chunk := part.read(1 << 20):
        data = tail + chunk
        cut = data.rfind(b">") + 1  # whole tags only; the rest waits for the next chunk
        data, tail = data[:cut], data[cut:]
        spaced = data.count(b' r="')
        odd = data.count(b'r="') != spaced  # another separator (or header="…" of the page margins): exact forms
        rows = (_ROW_NUMBER_ANY if odd else _ROW_NUMBER).findall(data)
        if rows:
            last_row = max(last_row, max(map(int, rows)))
        row_tags += data.count(b"<row")  # (and a <rowBreaks: only ever more)
        cells += data.count(b"<c")  # (and <col, <cfRule…: only ever more)
        references += (len(_ANY_REFERENCE.findall(data)) if odd else spaced) - len(rows)
        for letters in (_WIDE_REF_ANY if odd else _WIDE_REF).findall(data):
            if len(letters) > 3 or column_number(letters) > MAX_COLUMNS:
                raise WorkbookRefused(f"单元格列“{letters.decode()}”超出 Excel 的最大列 XFD，"
                                      f"请删除数据区域以外的列后重新上传")
            last_column = max(last_column, column_number(letters))
    unreferenced = max(0, cells - references)  # cells placed one after the other (each may open a column)
    rows = max(last_row, row_tags)
    columns = max(last_column, unreferenced)
    if rows * columns > MAX_CELLS:
        raise WorkbookRefused(f"工作表的数据区域过大（{rows} 行 × {columns} 列），超过导入上限 {MAX_CELLS:,} 个单元格："
                              f"请删除数据区域以外的行和列（选中多余的行或列后删除，而不只是清除内容）后重新上传")


class SheetReader:
    """``SheetReader(fileobj).rows()`` yields ``(excel_row_number, values_tuple)`` of the first worksheet."""

    def __init__(self, fileobj: IO[bytes]):
        self.fileobj = fileobj
        try:
            _check_package(fileobj)
            self.workbook = python_calamine.CalamineWorkbook.from_filelike(fileobj)
            if not self.workbook.sheet_names:
                raise WorkbookError("no worksheet")
        except WorkbookError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, calamine's own errors (CalamineError, XmlError …)
            raise WorkbookError(str(exc)) from exc

    def close(self) -> None:
        self.workbook.close()

    def rows(self) -> Iterator[tuple[int, tuple]]:
        self._refuse_hidden_first_sheet()
        try:
            sheet = self.workbook.get_sheet_by_index(0)
        except Exception as exc:
            raise WorkbookError(str(exc)) from exc
        if sheet.end is not None and sheet.end[1] >= MAX_COLUMNS:
            raise WorkbookError("列超出 Excel 的最大列 XFD")
        return self._rows(sheet)

    def _refuse_hidden_first_sheet(self) -> None:
        """R-SEC-4: the import reads the first sheet; when it is hidden, the rows imported are not the ones the
        uploader sees (the visible sheet would be ignored). Refused, naming the sheet."""
        try:
            sheets = self.workbook.sheets_metadata
        except Exception as exc:
            raise WorkbookError(str(exc)) from exc
        if not sheets or sheets[0].visible == python_calamine.SheetVisibleEnum.Visible:
            return
        visible = [s.name for s in sheets if s.visible == python_calamine.SheetVisibleEnum.Visible]
        ignored = f"，而可见的工作表“{visible[0]}”会被忽略" if visible else ""
        raise WorkbookRefused(
            f"第一个工作表“{sheets[0].name}”是隐藏的：导入只读取第一个工作表，会导入您看不到的数据{ignored}。"
            f"请在 Excel 中取消隐藏（右键工作表标签 → 取消隐藏），删除不需要导入的工作表，"
            f"或把要导入的数据移到第一个工作表后重新上传")

    @staticmethod
    def _rows(sheet) -> Iterator[tuple[int, tuple]]:
        # calamine's rows start at the sheet's first row but at its first used column: pad to column A
        lead = (None,) * (sheet.start[1] if sheet.start else 0)
        str_, float_, time_ = str, float, dt.time
        for number, raw in enumerate(sheet.iter_rows(), start=1):
            values = list(lead)
            for value in raw:
                kind = type(value)
                if kind is str_:
                    if value == "":
                        value = None
                    elif len(value) > MAX_CELL_CHARS:
                        raise WorkbookError(f"单元格文字超过 Excel 的上限 {MAX_CELL_CHARS} 个字符")
                elif kind is float_:
                    if value.is_integer() and abs(value) < 1e15:
                        value = int(value)
                elif kind is time_ or kind is dt.timedelta:
                    value = str(value)
                values.append(value)
            while values and values[-1] is None:
                values.pop()
            if values:  # an empty row is not yielded (nothing to import or to report)
                yield number, tuple(values)

    def count_rows(self) -> int:
        """``<row`` tags of the first worksheet part, counted on the raw bytes in streamed chunks (an estimate for
        progress: no XML parsing, calamine not involved)."""
        self.fileobj.seek(0)
        with zipfile.ZipFile(self.fileobj) as package:
            names = sorted(n for n in package.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml"))
            if not names:
                return 0
            name = "xl/worksheets/sheet1.xml" if "xl/worksheets/sheet1.xml" in names else names[0]
            count, tail = 0, b""
            with package.open(name) as fh:
                while chunk := fh.read(1 << 20):
                    data = tail + chunk
                    count += len(_ROW_TAG.findall(data))
                    tail = data[-8:]
                    count -= len(_ROW_TAG.findall(tail))
            return count + len(_ROW_TAG.findall(tail))
