"""The reader of the first sheet of an .xlsx workbook, for the import engine: python-calamine (Rust's calamine),
pinned in requirements.txt. It yields each row's Excel row number with its values as openpyxl's
``iter_rows(values_only=True)`` would (blank cells ``None``, whole numbers ``int``, date-formatted cells dates),
3–4× faster than the hand-written XML scanner it replaced (issue 16). Anything it cannot read is a
``WorkbookError`` (the caller reports "not a workbook").

R-SEC-4: before calamine sees the file, the package is checked with the standard library's ``zipfile`` (which
only reads the central directory): a part that would unpack beyond its limit (zip bomb) and any XML part that
declares a DTD or an entity (entity expansion, external entities) are refused. The values are then held to
Excel's own limits (columns up to XFD, cells up to 32,767 characters).

Issue 16 (memory flat in the row count): calamine has no streaming reader — it builds the whole sheet before the
first row is read. ``SheetReader`` therefore hands it the first sheet ``WINDOW_ROWS`` rows at a time (``_Windows``:
a small package per window with the workbook's own workbook, style and shared-string parts), so the memory a read
needs is that of one window, whatever the number of rows.
"""
from __future__ import annotations

import datetime as dt
import io
import posixpath
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
def _row_tag(head: bytes) -> bytes:
    """``<row`` in the namespace prefix the sheet's root element uses (``<x:row`` for ``<x:worksheet``)."""
    root = _WORKSHEET.search(head)
    return b"<" + ((root.group(1) if root else None) or b"") + b"row"


def _count_starts(data: bytes, tag: bytes) -> int:
    """Row start tags in ``data``: ``tag`` not followed by ``B`` (``<rowBreaks>``, the one other element of a
    worksheet whose name starts with "row"). Two plain counts: several times faster than a regular expression."""
    return data.count(tag) - data.count(tag + b"B")


def _nth_start(data: bytes, tag: bytes, start: int, n: int) -> int:
    """The position of the ``n``-th row start tag (1-based, as ``_count_starts`` counts them) at or after
    ``start`` (there are that many)."""
    at = start - 1
    after = len(tag)
    while n:
        at = data.find(tag, at + 1)
        if data[at + after:at + after + 1] != b"B":
            n -= 1
    return at

#: rows read by calamine at a time (issue 16: memory flat in the row count): ~10 MB of calamine's cells at most
WINDOW_ROWS = 10_000
#: bytes of a part's XML read at a time (a tag cut in two is completed by the next read)
READ_CHUNK = 1 << 20
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*>")
_SHEET_DATA = re.compile(rb"<(\w+:)?sheetData[\s>/]")
_WORKSHEET = re.compile(rb"<(\w+:)?worksheet[\s>]")


class WorkbookError(Exception):
    pass


class WorkbookRefused(WorkbookError):
    """A readable workbook refused for a reason the uploader can fix; the message (Chinese) says what to change and
    is shown as it is (other ``WorkbookError``s are reported as "not a workbook")."""


def _check_package(fileobj: IO[bytes]) -> dict[str, bool]:
    """R-SEC-4: part sizes and DTDs, from the zip's directory and the head of each XML part. Returns, for each
    worksheet part, whether it can be read in windows of rows (``_Windows``)."""
    windowable: dict[str, bool] = {}
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
                    windowable[name] = _check_extent(part)
    fileobj.seek(0)
    return windowable


def column_number(letters: bytes) -> int:
    """``b"A"`` → 1, ``b"XFD"`` → 16384."""
    number = 0
    for byte in letters:
        number = number * 26 + byte - 64
    return number


def _check_extent(part: IO[bytes]) -> bool:
    """R-SEC-4: the rectangle calamine would allocate for a worksheet part — its last row (or its number of rows) by
    its last column (or its number of cells without a reference) — read from the raw XML in streamed chunks, and
    refused beyond Excel's columns or ``MAX_CELLS``. Returns whether the part can be read in windows of rows: it has
    rows, each row tag carries its row number and the numbers only go up (as every writer seen stores them), so a
    window's rows are exactly those rows of the whole sheet."""
    last_row = row_tags = cells = references = 0
    start_tags = numbered = 0
    in_order = True
    last_column = 26
    tail = b""
    tag = None
    while chunk := part.read(READ_CHUNK):
        data = tail + chunk
        if tag is None and _WORKSHEET.search(data):
            tag = _row_tag(data)
        cut = data.rfind(b">") + 1  # whole tags only; the rest waits for the next chunk
        data, tail = data[:cut], data[cut:]
        spaced = data.count(b' r="')
        odd = data.count(b'r="') != spaced  # another separator (or header="…" of the page margins): exact forms
        rows = (_ROW_NUMBER_ANY if odd else _ROW_NUMBER).findall(data)
        if rows:
            numbers = list(map(int, rows))
            if in_order and (numbers[0] <= last_row or numbers != sorted(set(numbers))):
                in_order = False
            last_row = max(last_row, max(numbers))
        numbered += len(rows)
        start_tags += _count_starts(data, tag) if tag else 0
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
    return in_order and start_tags > 0 and start_tags == numbered


class _Windows:
    """The first worksheet of a package cut into windows of rows, each a package of its own for calamine."""

    _RELS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    _ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    #: the parts calamine reads besides the sheet (by the end of their relationship type)
    _NEEDED = ("/styles", "/sharedStrings")
    _SMALL_PART = 1 << 20  # workbook and relationship parts are read whole: at most 1 MiB each

    def __init__(self, sheet_part: str, parts: dict[str, bytes]):
        self.sheet_part = sheet_part
        self.parts = parts  # name → bytes: everything calamine reads except the sheet

    @classmethod
    def of(cls, fileobj: IO[bytes], windowable: dict[str, bool]) -> "_Windows | None":
        """The windows of the first worksheet, or ``None`` when it is to be read whole (not an .xlsx package as
        calamine would find its first sheet, or its rows not numbered in order)."""
        import xml.etree.ElementTree as ET

        try:
            fileobj.seek(0)
            with zipfile.ZipFile(fileobj) as package:
                names = {info.filename: info for info in package.infolist()}

                def small(name: str) -> bytes:
                    data = package.read(names[name]) if names[name].file_size <= cls._SMALL_PART else b""
                    if not data or _DTD.search(data):  # (refused earlier already; never parsed with one)
                        raise KeyError(name)
                    return data

                def relationships(name: str) -> dict[str, tuple[str, str]]:
                    folder, base = posixpath.split(name)
                    rels_name = posixpath.join(folder, "_rels", base + ".rels")
                    root = ET.fromstring(small(rels_name))
                    out = {}
                    for rel in root.iter(f"{cls._RELS_NS}Relationship"):
                        target = rel.get("Target", "")
                        target = target[1:] if target.startswith("/") else posixpath.normpath(
                            posixpath.join(folder, target))
                        out[rel.get("Id")] = (rel.get("Type", ""), target)
                    parts[rels_name] = small(rels_name)
                    return out

                parts: dict[str, bytes] = {"[Content_Types].xml": small("[Content_Types].xml")}
                book = next(target for kind, target in relationships("").values()
                            if kind.endswith("/officeDocument"))
                parts[book] = small(book)
                book_rels = relationships(book)
                first = next(iter(ET.fromstring(parts[book]).iter(
                    "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet")))
                sheet_part = book_rels[first.get(cls._ID)][1]
                if not windowable.get(sheet_part):
                    return None
                for kind, target in book_rels.values():
                    if kind.endswith(cls._NEEDED) and target in names:
                        parts[target] = package.read(names[target])
        except (KeyError, StopIteration, ET.ParseError, zipfile.BadZipFile, ValueError, TypeError):
            return None
        finally:
            fileobj.seek(0)
        return cls(sheet_part, parts)

    def packages(self, fileobj: IO[bytes], window_rows: int) -> Iterator[IO[bytes]]:
        """One package per ``window_rows`` rows of the sheet, read from ``fileobj`` in streamed chunks: the sheet's
        XML up to its first row (without its ``<dimension>``: the whole sheet's), the window's rows, and the closing
        tags (the last window keeps the sheet's own end). Rows are found by counting their start tags (a window is
        cut just before the start tag of the next window's first row)."""
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as package, package.open(self.sheet_part) as part:
            head: bytes | None = None
            tag = closing = b""
            pending: list[bytes] = []
            in_window = 0
            carried = b""
            while True:
                chunk = part.read(READ_CHUNK)
                data = carried + chunk
                if chunk:
                    cut = data.rfind(b"<")  # a tag cut by the chunk is read with the next one
                    if cut <= 0:
                        carried = data
                        continue
                    data, carried = data[:cut], data[cut:]
                if head is None:
                    pending.append(data)
                    joined = b"".join(pending)
                    tag = _row_tag(joined)
                    if not _count_starts(joined, tag):
                        if chunk:
                            pending = [joined]
                            continue
                        yield self._package(joined)  # no row (not windowable: kept for safety)
                        return
                    first = _nth_start(joined, tag, 0, 1)
                    head = _DIMENSION.sub(b"", joined[:first])
                    data = joined[first:]
                    pending = []
                    sheet_data = _SHEET_DATA.search(head)
                    root = _WORKSHEET.search(head)
                    closing = (b"</" + ((sheet_data.group(1) if sheet_data else None) or b"") + b"sheetData></"
                               + ((root.group(1) if root else None) or b"") + b"worksheet>")
                start = 0
                rows = _count_starts(data, tag)
                while in_window + rows > window_rows:  # the next window starts in this piece
                    take = window_rows - in_window
                    at = _nth_start(data, tag, start, take + 1)
                    pending.append(data[start:at])
                    yield self._package(head, *pending, closing)
                    pending = []
                    start, rows, in_window = at, rows - take, 0
                in_window += rows
                pending.append(data[start:])
                if not chunk:
                    break
            yield self._package(head, *pending)

    def _package(self, *sheet: bytes) -> IO[bytes]:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as package:
            for name, data in self.parts.items():
                package.writestr(name, data)
            with package.open(self.sheet_part, "w") as part:
                for piece in sheet:
                    part.write(piece)
        out.seek(0)
        return out


def _refuse_wide(sheet) -> None:
    if sheet.end is not None and sheet.end[1] >= MAX_COLUMNS:
        raise WorkbookError("列超出 Excel 的最大列 XFD")


def _converted(rows, first_number: int, lead_columns: int) -> Iterator[tuple[int, tuple]]:
    """calamine's rows as openpyxl's ``iter_rows(values_only=True)`` gives them, numbered from ``first_number``:
    blank cells ``None``, whole numbers ``int``, times as text; the first ``lead_columns`` empty columns (calamine
    starts at the first used column) put back so that an index is a column of the sheet. Empty rows are skipped."""
    lead = [None] * lead_columns
    str_, float_, time_, delta_ = str, float, dt.time, dt.timedelta
    for number, raw in enumerate(rows, start=first_number):
        values = lead.copy()
        append = values.append
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
            elif kind is time_ or kind is delta_:
                value = str(value)
            append(value)
        while values and values[-1] is None:
            values.pop()
        if values:  # an empty row is not yielded (nothing to import or to report)
            yield number, tuple(values)


class SheetReader:
    """``SheetReader(fileobj).rows()`` yields ``(excel_row_number, values_tuple)`` of the first worksheet.

    Memory flat in the row count (issue 16): calamine builds a whole sheet in memory before a row is read (its
    cells, then the dense rectangle they fill). The first worksheet is therefore given to calamine ``WINDOW_ROWS``
    rows at a time (``_Windows``): each window is a small package holding the workbook's own workbook, relationship,
    style and shared-string parts and the sheet's XML cut between two rows, so calamine still reads every value
    (types, dates, shared strings) and the rows are those of the whole sheet. A sheet whose row tags do not all
    carry their numbers, in increasing order, is read whole as before (a window could not number its rows)."""

    def __init__(self, fileobj: IO[bytes], *, window_rows: int = WINDOW_ROWS):
        self.fileobj = fileobj
        self.window_rows = window_rows
        self._closed = False
        try:
            windowable = _check_package(fileobj)
            self.workbook = python_calamine.CalamineWorkbook.from_filelike(fileobj)
            if not self.workbook.sheet_names:
                raise WorkbookError("no worksheet")
        except WorkbookError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, calamine's own errors (CalamineError, XmlError …)
            raise WorkbookError(str(exc)) from exc
        self._windows = _Windows.of(fileobj, windowable)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.workbook.close()

    def rows(self) -> Iterator[tuple[int, tuple]]:
        self._refuse_hidden_first_sheet()
        if self._windows is not None:
            self.close()  # the metadata was all it was opened for (its shared strings: memory)
            return self._windowed_rows()
        try:
            sheet = self.workbook.get_sheet_by_index(0)
        except Exception as exc:
            raise WorkbookError(str(exc)) from exc
        _refuse_wide(sheet)
        return _converted(sheet.iter_rows(), 1, sheet.start[1] if sheet.start else 0)

    def _windowed_rows(self) -> Iterator[tuple[int, tuple]]:
        for package in self._windows.packages(self.fileobj, self.window_rows):
            try:
                workbook = python_calamine.CalamineWorkbook.from_filelike(package)
                sheet = workbook.get_sheet_by_index(0)
                start = sheet.start
                _refuse_wide(sheet)
                rows = sheet.to_python(skip_empty_area=True) if start is not None else []
                workbook.close()
            except WorkbookError:
                raise
            except Exception as exc:
                raise WorkbookError(str(exc)) from exc
            del package, workbook, sheet
            if start is None:  # a window of empty rows
                continue
            # to_python starts at the window's first used row and column: numbers from the row, pad to column A
            yield from _converted(rows, start[0] + 1, start[1])
            del rows

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

    def count_rows(self) -> int:
        return count_rows(self.fileobj)


def count_rows(fileobj: IO[bytes]) -> int:
    """Row tags of the first worksheet part, counted on the raw bytes in streamed chunks (an estimate for progress
    and for choosing to run in the background: no XML parsing, calamine not involved). Only the part's size is
    checked first (R-SEC-4: the zip directory; reading stops at that size)."""
    fileobj.seek(0)
    with zipfile.ZipFile(fileobj) as package:
        names = sorted(n for n in package.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml"))
        if not names:
            return 0
        name = "xl/worksheets/sheet1.xml" if "xl/worksheets/sheet1.xml" in names else names[0]
        if package.getinfo(name).file_size > MAX_SHEET_BYTES:
            raise WorkbookError(f"工作簿部件 {name} 超过上限")
        count, carried, tag = 0, b"", None
        with package.open(name) as fh:
            while chunk := fh.read(READ_CHUNK):
                data = carried + chunk
                cut = data.rfind(b"<")
                if cut <= 0:
                    carried = data
                    continue
                data, carried = data[:cut], data[cut:]
                if tag is None and _WORKSHEET.search(data):
                    tag = _row_tag(data)
                count += _count_starts(data, tag) if tag else 0
        return count + (_count_starts(carried, tag) if tag else 0)
