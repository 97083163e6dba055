"""One all-or-nothing Excel import engine for the catalogue and the registries (R-CAT-2, R-SEC-4).

Design (why it is not ``Resource.import_data``)
------------------------------------------------
django-import-export stays the *format layer*: each kind has a ``Resource`` with the Chinese column headers
(``apps/catalogue/resources.py``, ``apps/<registry>/resources.py``) that produces the template workbook and
the export, so that export → import is a round trip. Its row-by-row ``import_data`` is too slow for a
50,000-row catalogue (one ``get`` + ``full_clean`` + ``save`` + audit signal per row, ~1–2 ms a row) and stops
reporting at the first error of a row, so the import itself is done here, set-based:

1. **Read** the first sheet (``apps.core.excel.xlsx.SheetReader``: python-calamine after R-SEC-4's package
   checks, the values openpyxl's ``iter_rows(values_only=True)`` would give, converted row by row). Not a
   workbook, an empty sheet and missing columns are reported as errors.
2. **Parse and validate** every cell in Python against dictionaries loaded once (therapeutic areas by name,
   regions by code, …): each column has a parser raising ``CellError`` with a Chinese reason; then the
   row-level checks of the kind (agreement end before start, …) and duplicate keys within the file. Every bad
   cell is collected with its Excel row number (header = row 1) and column header; the first
   ``MAX_LISTED_ERRORS`` are kept, the rest are counted.
3. **Diff** against the existing rows, loaded in one query per kind (``code__in`` in chunks): each row is
   *created*, *updated* (with the changed fields) or *unchanged*. Checks that need the existing row (a
   payment standard's effective date, R-CAT-3; the region scope of a registry entry, R-SEC-1) run here.
4. **Preview or write.** A dry run stops here and records the counts, the first changes and a digest of the
   whole plan. Writing happens in **one transaction**: new rows by one PostgreSQL ``COPY`` each (``apps.core.excel.bulk``;
   ``bulk_create`` elsewhere), changed rows by ``bulk_update`` in batches, the payment-standard versions
   (R-CAT-3) and the run's event. Confirming a preview re-plans the kept file and refuses when the digest differs,
   so what is applied is exactly what was previewed.

The catalogue (``ImportSpec.streaming``) does steps 1–4 in one pass, ``STREAM_CHUNK`` rows at a time, so memory stays
flat whatever the row count (``run_streaming_import``); its audit is one record per run — the file's digest and a
``ChangeLog`` of every row's change (issue 16, R-SEC-3) — instead of one audit row per drug. The registry kinds
write each row through their services (whose events and django-auditlog rows are the audit).

Steps 1–3 run outside the write transaction so that an asynchronous run's progress (``processed_rows``) is
visible to the status endpoint while it works.
"""
from __future__ import annotations

import abc
import datetime as dt
import hashlib
import re
import zipfile
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from django.db import IntegrityError, transaction

from apps.core.excel import bulk, ranges
from apps.core.excel.xlsx import SheetReader, WorkbookError, WorkbookRefused, count_rows

MAX_LISTED_ERRORS = 200
PROGRESS_EVERY = 2000
BATCH_SIZE = 2000


# --- cell parsers ---------------------------------------------------------------------------------------------

class CellError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ImportFileError(Exception):
    """The file as a whole is unusable (not a workbook, empty sheet, missing columns)."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["message"] if errors else "")
        self.errors = errors


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(max_length: int, *, required: bool = True) -> Callable[[Any], str]:
    def parse(value) -> str:
        if value.__class__ is str:  # most cells: no other test
            s = value.strip()
            if s and len(s) <= max_length:
                return s
        if is_blank(value):
            if required:
                raise CellError("必填，不能为空，请填写该格")
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, (dt.datetime, dt.date)):
            value = value.strftime("%Y-%m-%d")
        s = str(value).strip()
        if len(s) > max_length:
            raise CellError(f"长度 {len(s)} 超过上限 {max_length} 个字符，请删减到 {max_length} 个字符以内")
        return s
    parse.max_length = max_length  # the field's own length check is then redundant (ranges.check_for)
    parse.hint = f"文本，最多 {max_length} 个字"  # the template's instructions (apps/core/excel/template.py)
    return parse


def decimal(places: int = 2, *, minimum: Decimal | None = Decimal("0"), exclusive_minimum: bool = True,
            required: bool = True) -> Callable[[Any], Decimal | None]:
    quantum = Decimal(1).scaleb(-places)

    def parse(value) -> Decimal | None:
        if is_blank(value):
            if required:
                raise CellError("必填，不能为空")
            return None
        number = _to_decimal(value)
        if number is None:
            raise CellError(f"“{value}”不是有效的数字，请只填数字（如 1234.50，不带单位）")
        if number.adjusted() >= MAX_WHOLE_DIGITS:  # 1e30: beyond every column (and Decimal's 28-digit context)
            raise CellError(f"“{value}”数值过大（整数部分超过 {MAX_WHOLE_DIGITS} 位），请核对是否多填了位数")
        rounded = number.quantize(quantum, rounding=ROUND_HALF_UP)
        if number != rounded:
            raise CellError(f"“{value}”的小数超过 {places} 位，请四舍五入到 {places} 位小数")
        if minimum is not None and (number <= minimum if exclusive_minimum else number < minimum):
            raise CellError(f"“{value}”应{'大于' if exclusive_minimum else '不小于'} {minimum}，请改填正确的数值")
        return rounded
    parse.places = places  # (the field's range check then only checks the magnitude: apps.core.excel.ranges)
    parse.hint = f"数字，最多 {places} 位小数，不带单位" if places else "整数，不带单位"
    parse.example = "1000.00" if places == 2 else ("1" if not places else "1." + "0" * places)
    return parse


#: no column of the system holds a number with more whole digits; the column's own range (``apps.core.excel.ranges``,
#: from the model field) is usually much smaller and is checked after the parser
MAX_WHOLE_DIGITS = 20


def _to_decimal(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        s = value.strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
        try:
            number = Decimal(s)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def ratio(value) -> Decimal:
    """A ratio 0–100 % as a fraction with 4 places: ``10%`` (text), ``0.1`` (a number, e.g. an Excel cell formatted
    as a percentage) — numbers are fractions, text with ``%`` is per cent."""
    if is_blank(value):
        raise CellError("必填，不能为空（0 表示无先行自付）")
    if isinstance(value, str) and value.strip().endswith(("%", "％")):
        number = _to_decimal(value.strip()[:-1])
        if number is None:
            raise CellError(f"“{value}”不是有效的百分比")
        number = number / 100
    else:
        number = _to_decimal(value)
        if number is None:
            raise CellError(f"“{value}”不是有效的数字，应填 0–100% 的比例（如 10% 或 0.1）")
    if number < 0:
        raise CellError(f"比例“{value}”不能为负数，请填 0–100% 之间的比例（如 10% 或 0.1）")
    if number > 1:
        if isinstance(value, str) and value.strip().endswith(("%", "％")):
            raise CellError(f"比例“{value}”大于 100%，请填 0–100% 之间的比例（如 10%）")
        raise CellError(f"“{value}”不是 0–1 之间的小数：数字按小数读（0.1 即 10%）。如指百分之{value}，"
                        f"请改填“{value}%”或“{(number / 100).normalize():f}”")
    quantized = number.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if quantized != number:
        raise CellError(f"比例“{value}”最多精确到 0.01%，请四舍五入（如 12.35%）")
    return quantized


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def date(*, required: bool = True) -> Callable[[Any], dt.date | None]:
    def parse(value) -> dt.date | None:
        if is_blank(value):
            if required:
                raise CellError("必填，不能为空")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        s = str(value).strip()
        if s.endswith(" 00:00:00"):
            s = s[:-9]
        m = _DATE_RE.match(s)
        if not m and re.fullmatch(r"\d{8}", s):
            m = re.match(r"(\d{4})(\d{2})(\d{2})", s)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                pass
        raise CellError(f"“{value}”不是有效的日期（应为 2026-01-01 这样的日期）")
    parse.hint = "日期，如 2026-01-01"
    parse.example = "2026-01-01"
    return parse


_TRUE = {"是", "y", "yes", "true", "1", "√", "有"}
_FALSE = {"否", "n", "no", "false", "0", "×", "无", ""}


def yes_no(value) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if isinstance(value, float) and value.is_integer():
        s = str(int(value))
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise CellError(f"“{value}”应填 是 或 否")


yes_no.options = ["是", "否"]
yes_no.hint = "从下拉列表选择：是 / 否"
ratio.hint = "比例：填 10% 或 0.1（均为百分之十），0 表示无；不要只填 10"
ratio.places = 4
ratio.example = "10%"


def choice(choices, what: str) -> Callable[[Any], str]:
    """A ``TextChoices`` by its Chinese label (or its value)."""
    by_label = {str(label): value for value, label in choices.choices}
    values = set(choices.values)
    names = " / ".join(by_label)

    def parse(value) -> str:
        if value.__class__ is str:
            found = by_label.get(value.strip())
            if found is not None:
                return found
        if is_blank(value):
            raise CellError(f"必填，应为 {names}")
        s = str(value).strip()
        if s in by_label:
            return by_label[s]
        if s in values:
            return s
        raise CellError(f"未知{what}“{s}”，应为 {names}")
    parse.max_length = max(len(value) for value in values)  # its values only: no length to check again
    parse.options = list(by_label)  # a drop-down list in the template
    parse.hint = f"从下拉列表选择：{names}"
    return parse


# --- reading the workbook ------------------------------------------------------------------------------------

NOT_A_WORKBOOK = "文件不是有效的 Excel 工作簿（.xlsx），请使用下载的模板"


def _open_sheet(fileobj) -> SheetReader:
    try:
        return SheetReader(fileobj)
    except WorkbookError as exc:
        raise _file_error(exc) from None


def _file_error(exc: WorkbookError) -> "ImportFileError":
    """A refusal the uploader can fix keeps its own message (a hidden first sheet); anything else is "not a
    workbook"."""
    message = str(exc) if isinstance(exc, WorkbookRefused) else NOT_A_WORKBOOK
    return ImportFileError([{"row": None, "column": None, "message": message}])


def estimate_rows(fileobj) -> int:
    """Data rows of the first sheet (its ``<row`` tags less the header, counted without parsing; the package is
    checked when the run reads it); 0 when unreadable."""
    try:
        count = count_rows(fileobj)
    except (WorkbookError, KeyError, OSError, zipfile.BadZipFile, EOFError, ValueError):
        count = 0
    fileobj.seek(0)
    return max(0, count - 1)


# --- specs and plans -------------------------------------------------------------------------------------------

@dataclass
class Column:
    """One column of a kind, declared once: it drives the template and export headers (through
    ``apps.core.excel.widgets.resource_for``), the parsing of the import and the diff."""

    header: str
    attr: str
    parse: Callable[[Any], Any]
    required: bool = True  # the column must be present in the sheet
    compare: bool = True   # part of the diff (False for instructions such as an effective date)
    render: Callable[[Any], Any] | None = None  # export form of the model value (a label, 是/否); default as is
    field: str | None = None  # the model attribute the export reads, when not ``attr`` (``region`` for ``region_id``)
    widget: Any = None  # a django-import-export widget for the export (e.g. ``ForeignKeyWidget(Region, "code")``)
    export: Callable[[Any], Any] | None = None  # computed export value (read-only column)

    def rebind(self, parse: Callable[[Any], Any]) -> "Column":
        """The same column with a parser bound to one run's reference data."""
        return replace(self, parse=parse)


@dataclass
class Row:
    number: int
    values: dict
    instance: Any = None
    changed: dict = field(default_factory=dict)


@dataclass
class Plan:
    creates: list[Row] = field(default_factory=list)
    updates: list[Row] = field(default_factory=list)
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    total_rows: int = 0

    def add_error(self, row: int | None, column: str | None, message: str):
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append({"row": row, "column": column, "message": message})

    def digest(self) -> str:
        h = hashlib.sha256()
        for row in self.creates:
            h.update(repr(("c", row.number, sorted((k, str(v)) for k, v in row.values.items()))).encode())
        for row in self.updates:
            h.update(repr(("u", row.number, sorted((k, str(v[0]), str(v[1])) for k, v in row.changed.items()))).encode())
        h.update(str(self.unchanged).encode())
        return h.hexdigest()

    def change_list(self, spec: "ImportSpec", limit: int = MAX_LISTED_ERRORS) -> list[dict]:
        out = []
        for row in self.creates[: limit // 2]:
            out.append({"row": row.number, "key": str(row.values[spec.key_attr]), "action": "create", "fields": {}})
        for row in self.updates[: limit - len(out)]:
            out.append({"row": row.number, "key": str(row.values[spec.key_attr]), "action": "update",
                        "fields": {spec.header_of(k): [spec.show(k, old), spec.show(k, new)]
                                   for k, (old, new) in row.changed.items()}})
        return out


class ImportSpec(abc.ABC):
    """One importable kind. Subclasses define ``kind``, ``label``, ``model``, ``columns``, ``resource_class`` and
    may override the hooks below."""

    kind: str = ""
    label: str = ""
    model = None
    key_attr = "code"
    columns: list[Column] = []
    audit_fields: tuple[str, ...] = ()
    #: read, check and write in one pass, chunk by chunk (``run_streaming_import``; the kind defines
    #: ``write_chunk``) — memory flat in the row count, one ``ChangeLog`` as the run's audit
    streaming = False

    @property
    def resource_class(self):
        """The django-import-export resource of this kind, built from ``columns`` (template and export)."""
        cached = self.__dict__.get("_resource_class")
        if cached is None:
            from apps.core.excel.widgets import resource_for

            cached = self.__dict__["_resource_class"] = resource_for(self)
        return cached

    #: one believable row for the template's 示例 sheet, by attr (columns without one get a value from their parser)
    example: dict = {}

    def template_options(self) -> dict:
        """Drop-down lists for the template beyond the columns' own choices: ``{attr: [allowed values]}`` (e.g.
        the therapeutic areas, which are reference data)."""
        return {}

    def export_queryset(self, user):
        """The rows of this kind that ``user`` may export (a selector of the owning app)."""
        raise NotImplementedError(f"{type(self).__name__} does not define export_queryset()")

    # hooks ------------------------------------------------------------------------------------------------
    def context(self, *, run) -> dict:
        # "now": the moment the upload was recorded (by the view or command that received it); the kinds pass it
        # to the services instead of reading the clock
        return {"run": run, "user": run.created_by, "effective_date": run.effective_date, "now": run.created_at}

    def bind(self, ctx: dict) -> list[Column]:
        """The columns for one run (override to close parsers over the run's reference dictionaries)."""
        return self.columns

    def check_row(self, values: dict, ctx: dict) -> Iterable[tuple[str, str]]:
        return ()

    def load_existing(self, keys: list, ctx: dict) -> dict:
        found = {}
        for start in range(0, len(keys), 5000):
            chunk = keys[start:start + 5000]
            for obj in self.model.objects.filter(**{f"{self.key_attr}__in": chunk}):
                found[getattr(obj, self.key_attr)] = obj
        return found

    def current_value(self, instance, attr: str):
        return getattr(instance, attr)

    def diff(self, instance, values: dict, ctx: dict) -> dict:
        changed = {}
        for column in self.columns:
            if not column.compare or column.attr not in values:
                continue
            old = self.current_value(instance, column.attr)
            new = values[column.attr]
            if old != new:
                changed[column.attr] = (old, new)
        return changed

    def check_change(self, row: Row, ctx: dict) -> Iterable[tuple[str, str]]:
        return ()

    def check_create(self, row: Row, ctx: dict) -> Iterable[tuple[str, str]]:
        return ()

    @abc.abstractmethod
    def write(self, plan: Plan, ctx: dict) -> None:
        """Write ``plan.creates`` and ``plan.updates`` (inside the caller's transaction)."""

    def write_chunk(self, creates: list[Row], updates: list[Row], ctx: dict) -> None:
        """A streaming kind's writes for one chunk of rows (inside the run's transaction)."""
        self.write(Plan(creates=creates, updates=updates), ctx)

    def show(self, attr: str, value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "是" if value else "否"
        return str(value)

    def checked_parser(self, column: Column) -> Callable[[Any], Any]:
        """``column.parse`` followed by the range of the model field the value is written to (R-SEC-4,
        ``apps.core.excel.ranges``): a value that parses but would not fit (``12345678901234.56`` in a
        ``DecimalField(14, 2)``, a negative count) is a located cell error of the preview, not a failed write."""
        check = ranges.check_for(self.model, column.field or column.attr,
                                 parsed_max_length=getattr(column.parse, "max_length", None),
                                 parsed_places=getattr(column.parse, "places", None))
        if check is None:
            return column.parse
        parse = column.parse

        def parse_in_range(value):
            parsed = parse(value)
            problem = check(parsed)
            if problem:
                raise CellError(problem)
            return parsed
        return parse_in_range

    # helpers ----------------------------------------------------------------------------------------------
    def header_of(self, attr: str) -> str:
        for column in self.columns:
            if column.attr == attr:
                return column.header
        return attr

    @property
    def key_header(self) -> str:
        return self.header_of(self.key_attr)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def _normalise_header(value) -> str:
    if value is None:
        return ""
    return re.sub(r"[\s*＊]|（必填）|\(必填\)", "", str(value))


def column_letter(index: int) -> str:
    """Excel's name of the 0-based column ``index`` (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _refuse_duplicate_headers(columns: list[Column], occurrences: dict[str, list[int]], header_row: int) -> None:
    """R-SEC-4: a column of the kind whose header appears twice is refused (which one holds the data is a guess)."""
    errors = []
    for column in columns:
        found = occurrences.get(column.header, [])
        if len(found) > 1:
            where = "、".join(f"{column_letter(i)} 列" for i in found)
            errors.append({"row": header_row, "column": column.header,
                           "message": f"列标题“{column.header}”出现了 {len(found)} 次（{where}），无法确定以哪一列为准："
                                      f"请只保留一列，删除多余的列或改正其标题"})
    if errors:
        raise ImportFileError(errors)


def _checked_rows(spec: ImportSpec, reader: SheetReader, ctx: dict, plan: Plan, seen: dict,
                  progress: Callable[[int, int], None] | None = None) -> Iterable[Row]:
    """Steps 1–2 of the module docstring, one row at a time: the header is checked, then every data row is parsed
    and validated; errors go to ``plan``, good rows are yielded (``seen``: key → first row number, for duplicates).
    Raises ``ImportFileError`` for an unusable file."""
    try:
        rows = reader.rows()
        first = next(rows, None)
        header = first[1] if first is not None else None
        if header is None or all(is_blank(v) for v in header):
            raise ImportFileError([{"row": None, "column": None, "message": "工作表为空：第 1 行应为列标题，其下为数据"}])
        positions = {}
        occurrences: dict[str, list[int]] = {}
        for index, name in enumerate(header):
            key = _normalise_header(name)
            if key and key not in positions:
                positions[key] = index
            if key:
                occurrences.setdefault(key, []).append(index)
        columns = spec.bind(ctx)
        _refuse_duplicate_headers(columns, occurrences, first[0])
        missing = [c.header for c in columns if c.required and c.header not in positions]
        if missing:
            raise ImportFileError([{"row": 1, "column": h, "message": f"缺少必需的列“{h}”：请在第 1 行加上该列标题"
                                                                       f"（列标题须与下载的模板一致）"} for h in missing])
        present = [(c.attr, spec.checked_parser(c), c.header, positions[c.header]) for c in columns
                   if c.header in positions]
        key_header, key_attr = spec.key_header, spec.key_attr
        width = len(header)
        str_ = str
        for number, raw in rows:
            first_value = raw[0]  # (the reader yields no empty row: a filled first cell settles it)
            if (first_value is None or (first_value.__class__ is str_ and not first_value.strip())) and all(
                    is_blank(v) for v in raw):
                continue
            plan.total_rows += 1
            if len(raw) < width:
                raw = tuple(raw) + (None,) * (width - len(raw))
            values = {}
            ok = True
            for attr, parse, header_name, index in present:
                try:
                    values[attr] = parse(raw[index])
                except CellError as exc:
                    ok = False
                    plan.add_error(number, header_name, exc.message)
            key = values.get(key_attr)
            if key:
                first = seen.get(key)
                if first is not None:
                    ok = False
                    plan.add_error(number, key_header, f"{key_header} {key} 在文件中重复（与第 {first} 行相同），"
                                                       f"请删除其中一行或改正编码")
                else:
                    seen[key] = number
            for header_name, message in spec.check_row(values, ctx):
                ok = False
                plan.add_error(number, header_name, message)
            if ok:
                yield Row(number=number, values=values)
            if progress and plan.total_rows % PROGRESS_EVERY == 0:
                progress(plan.total_rows, 0)
    except WorkbookError as exc:
        raise _file_error(exc) from None


def _no_data_rows() -> ImportFileError:
    return ImportFileError([{"row": None, "column": None, "message": "工作表没有数据行（第 1 行为列标题，数据从第 2 行开始）"}])


def build_plan(spec: ImportSpec, fileobj, ctx: dict, progress: Callable[[int, int], None] | None = None) -> Plan:
    """Steps 1–3 of the module docstring, the whole file in memory (the registry kinds; the catalogue streams,
    ``run_streaming_import``). Raises ``ImportFileError`` for an unusable file."""
    plan = Plan()
    seen: dict = {}
    reader = _open_sheet(fileobj)
    try:
        good = list(_checked_rows(spec, reader, ctx, plan, seen, progress))
    finally:
        reader.close()
    if plan.total_rows == 0:
        raise _no_data_rows()
    existing = spec.load_existing(list(seen), ctx)
    _classify(spec, good, existing, ctx, plan, plan.creates, plan.updates)
    if progress:
        progress(plan.total_rows, 0)
    return plan


def _classify(spec: ImportSpec, good: list[Row], existing: dict, ctx: dict, plan: Plan, creates: list[Row],
              updates: list[Row]) -> None:
    """Step 3: each good row is a create, an update (with its changed fields) or unchanged; the checks that need
    the existing row run here and report to ``plan``."""
    key_attr = spec.key_attr
    for row in good:
        instance = existing.get(row.values[key_attr])
        if instance is None:
            problems = list(spec.check_create(row, ctx))
            if problems:
                for header_name, message in problems:
                    plan.add_error(row.number, header_name, message)
                continue
            creates.append(row)
            continue
        row.instance = instance
        row.changed = spec.diff(instance, row.values, ctx)
        problems = list(spec.check_change(row, ctx))
        for header_name, message in problems:
            plan.add_error(row.number, header_name, message)
        if problems:
            continue
        if row.changed:
            updates.append(row)
        else:
            plan.unchanged += 1


# --- the change log of an applied import: one audit record per run (R-SEC-3, issue 16) -------------------------

class ChangeLog:
    """What every row of an import changed, as gzip'd JSON lines (UTF-8), built while the rows are written:

    * line 1: ``{"format": 1, "kind": …, "key": "code", "columns": [attr, …]}``
    * a created row: ``[excel_row, key, "c", [value of each column, …]]`` (text, numbers and dates as text, yes/no
      as ``true``/``false``, ``null`` when empty)
    * a changed row: ``[excel_row, key, "u", {attr: [old, new], …}]`` (only the changed fields)

    Unchanged rows are not listed (they changed nothing). ``lines(blob)`` reads it back one line at a time, so
    looking up one key never holds the whole log in memory.

    The same lines, in file order, are the plan's digest (``hexdigest``): a preview (``keep=False``: nothing
    compressed or kept) and the confirmed run compute it alike, each row encoded once."""

    FORMAT = 1

    def __init__(self, *, kind: str, key_attr: str, columns: list[str], keep: bool = True):
        import json
        import zlib

        self.columns = columns
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31) if keep else None  # 31: the gzip container
        # dates, decimals and sets as text; one JSON line per row
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_audit_text).encode
        self._digest = hashlib.sha256()
        self._parts: list[bytes] = []
        self._lines: list[str] = []
        self._as_text: list[bool] | None = None
        self.created = self.updated = 0
        self._add(self._encode({"format": self.FORMAT, "kind": kind, "key": key_attr, "columns": columns}))

    def _add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= 1000:
            self._flush()

    def _flush(self) -> None:
        """The buffered lines into the digest and the gzip stream (one call per thousand lines, not per line)."""
        if not self._lines:
            return
        data = ("\n".join(self._lines) + "\n").encode()
        self._lines = []
        self._digest.update(data)
        if self._gzip is not None:
            chunk = self._gzip.compress(data)
            if chunk:
                self._parts.append(chunk)

    def create(self, number: int, key: str, values: dict) -> None:
        self.created += 1
        get = values.get
        as_text = self._as_text
        if as_text is None:  # the columns holding decimals and dates (text in the log), from the first row
            as_text = self._as_text = [get(c).__class__ in (Decimal, dt.date) for c in self.columns]
        items = [str(value) if text and value is not None else value
                 for text, value in zip(as_text, [get(c) for c in self.columns])]
        self._add(self._encode([number, key, "c", items]))  # (anything else still goes through _audit_text)

    def update(self, number: int, key: str, changed: dict) -> None:
        self.updated += 1
        self._add(self._encode([number, key, "u", {k: [_audit_text(old), _audit_text(new)]
                                                   for k, (old, new) in changed.items()}]))

    def hexdigest(self, unchanged: int) -> str:
        self._flush()
        digest = self._digest.copy()
        digest.update(f"unchanged {unchanged}".encode())
        return digest.hexdigest()

    def finish(self) -> bytes:
        self._flush()
        self._parts.append(self._gzip.flush())
        return b"".join(self._parts)

    @staticmethod
    def lines(blob: bytes, *, containing: str = "") -> Iterable[tuple[dict, list]]:
        """``(header, entry)`` for each row line of ``blob`` (entries whose text contains ``containing``, when
        given: a cheap pre-filter before the JSON is parsed)."""
        import gzip
        import io
        import json

        with gzip.GzipFile(fileobj=io.BytesIO(bytes(blob))) as fh:
            header = json.loads(fh.readline())
            for line in fh:
                if containing and containing.encode() not in line:
                    continue
                yield header, json.loads(line)


def _audit_text(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (frozenset, set)):
        return str(sorted(value))
    return str(value)


# --- running one import ---------------------------------------------------------------------------------------

class RowRefused(Exception):
    """A row refused while writing (a service's ``ApplicationError``, e.g. after a concurrent change or because of
    an earlier row of the same file): the whole import is rolled back and the row is reported."""

    def __init__(self, row: int | None, column: str | None, message: str):
        super().__init__(message)
        self.row, self.column, self.message = row, column, message


@dataclass
class Outcome:
    """What one run of ``run_import`` ended with; the caller stores it on its run record."""

    status: str  # FAILED, PREVIEWED or APPLIED
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    message: str = ""
    counts: dict = field(default_factory=dict)
    digest: str = ""
    changes: list[dict] = field(default_factory=list)
    change_log: bytes = b""  # the applied run's ChangeLog (streaming kinds)

    FAILED, PREVIEWED, APPLIED = "failed", "previewed", "applied"


def run_import(spec: ImportSpec, fileobj, ctx: dict, *, dry_run: bool, expected_digest: str = "",
               progress: Callable[[int, int], None] | None = None,
               before_write: Callable[[], None] | None = None,
               on_applied: Callable[[Plan, "Outcome"], None] | None = None) -> Outcome:
    """Plan ``fileobj`` and, unless ``dry_run``, write it all or nothing (steps 1–4 of the module docstring).
    ``expected_digest`` is the previewed plan's digest: a different plan is refused. ``on_applied`` runs inside
    the write transaction (the caller's event and run record)."""
    if spec.streaming:
        return run_streaming_import(spec, fileobj, ctx, dry_run=dry_run, expected_digest=expected_digest,
                                    progress=progress, before_write=before_write, on_applied=on_applied)
    try:
        plan = build_plan(spec, fileobj, ctx, progress)
    except ImportFileError as exc:
        return Outcome(Outcome.FAILED, errors=exc.errors, error_count=len(exc.errors),
                       message=exc.errors[0]["message"])
    counts = dict(total_rows=plan.total_rows, processed_rows=plan.total_rows, created_count=len(plan.creates),
                  updated_count=len(plan.updates), unchanged_count=plan.unchanged)
    if plan.error_count:
        return Outcome(Outcome.FAILED, errors=sorted(plan.errors, key=lambda e: e["row"] or 0),
                       error_count=plan.error_count, message=f"共 {plan.error_count} 处错误，未写入任何数据",
                       counts=counts)
    digest = plan.digest()
    changes = plan.change_list(spec)
    if dry_run:
        return Outcome(Outcome.PREVIEWED, counts=counts, digest=digest, changes=changes)
    if expected_digest and expected_digest != digest:
        return Outcome(Outcome.FAILED, message="预览后目录数据已发生变化，确认的内容与预览不一致，请重新上传预览",
                       errors=[{"row": None, "column": None, "message": "预览后数据已变化，请重新预览"}],
                       error_count=1)
    if before_write is not None:
        before_write()
    outcome = Outcome(Outcome.APPLIED, counts=counts, digest=digest, changes=changes)
    try:
        with transaction.atomic():
            spec.write(plan, ctx)
            if on_applied is not None:
                on_applied(plan, outcome)
    except RowRefused as exc:
        return Outcome(Outcome.FAILED, message=f"第 {exc.row} 行：{exc.message}，未写入任何数据",
                       errors=[{"row": exc.row, "column": exc.column, "message": exc.message}], error_count=1,
                       counts=counts)
    except IntegrityError as exc:
        return Outcome(Outcome.FAILED, message=f"写入时与并发修改冲突，未写入任何数据：{exc}",
                       errors=[{"row": None, "column": None, "message": "写入时与并发修改冲突，未写入任何数据，请重试"}],
                       error_count=1)
    return outcome


class _RollBack(Exception):
    """Leaves the write transaction of a streaming import that found an error: nothing it wrote is kept."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


STREAM_CHUNK = 5000


def run_streaming_import(spec: ImportSpec, fileobj, ctx: dict, *, dry_run: bool, expected_digest: str = "",
                         progress: Callable[[int, int], None] | None = None,
                         before_write: Callable[[], None] | None = None,
                         on_applied: Callable[[Plan, Outcome], None] | None = None) -> Outcome:
    """``run_import`` in one pass with memory flat in the row count (issue 16): rows are read, validated, compared
    with the rows they replace (``STREAM_CHUNK`` at a time) and — unless ``dry_run`` — written chunk by chunk
    (``spec.write_chunk``) inside **one** transaction, with the run's ``ChangeLog`` as its audit. The first error
    stops the writing but not the checking (every error is still reported with its row and column), and the
    transaction is rolled back at the end, so the result is all or nothing exactly as the two-step path's. The
    digest is the same plan digest a preview records; a confirmed run whose plan differs is rolled back too. Only the
    keys of the file are kept in memory (duplicates); progress written inside the transaction is seen by others
    only when it commits (``before_write`` marks the run as writing first)."""
    plan = Plan()
    seen: dict = {}
    preview: list[dict] = []
    preview_creates: list[Row] = []
    preview_updates: list[Row] = []
    limit = MAX_LISTED_ERRORS
    # the change log: the applied run's audit and, preview or not, the plan's digest
    log = ChangeLog(kind=spec.kind, key_attr=spec.key_attr, columns=[c.attr for c in spec.columns], keep=not dry_run)
    counts: dict = {}

    def chunk_done(chunk: list[Row]) -> None:
        existing = spec.load_existing([row.values[spec.key_attr] for row in chunk], ctx)
        creates: list[Row] = []
        updates: list[Row] = []
        _classify(spec, chunk, existing, ctx, plan, creates, updates)
        counts["created"] = counts.get("created", 0) + len(creates)
        counts["updated"] = counts.get("updated", 0) + len(updates)
        if len(preview_creates) < limit:
            preview_creates.extend(creates[: limit - len(preview_creates)])
        if len(preview_updates) < limit:
            preview_updates.extend(updates[: limit - len(preview_updates)])
        if plan.error_count:  # the run fails: neither written nor logged (the digest is not used)
            return
        if not dry_run:
            spec.write_chunk(creates, updates, ctx)
        key_attr = spec.key_attr
        for row in creates:
            log.create(row.number, row.values[key_attr], row.values)
        for row in updates:
            log.update(row.number, row.values[key_attr], row.changed)

    def outcome_of() -> Outcome:
        totals = dict(total_rows=plan.total_rows, processed_rows=plan.total_rows,
                      created_count=counts.get("created", 0), updated_count=counts.get("updated", 0),
                      unchanged_count=plan.unchanged)
        if plan.error_count:
            return Outcome(Outcome.FAILED, errors=sorted(plan.errors, key=lambda e: e["row"] or 0),
                           error_count=plan.error_count, message=f"共 {plan.error_count} 处错误，未写入任何数据",
                           counts=totals)
        digest = log.hexdigest(plan.unchanged)
        shown = Plan(creates=preview_creates, updates=preview_updates).change_list(spec)
        preview.extend(shown)
        if dry_run:
            return Outcome(Outcome.PREVIEWED, counts=totals, digest=digest, changes=preview)
        if expected_digest and expected_digest != digest:
            return Outcome(Outcome.FAILED, message="预览后目录数据已发生变化，确认的内容与预览不一致，请重新上传预览",
                           errors=[{"row": None, "column": None, "message": "预览后数据已变化，请重新预览"}],
                           error_count=1)
        return Outcome(Outcome.APPLIED, counts=totals, digest=digest, changes=preview, change_log=log.finish())

    def read_all() -> Outcome:
        reader = _open_sheet(fileobj)
        # while writing, progress is recorded once a chunk (a statement waits for the COPYs in flight)
        row_progress = progress if dry_run else None
        try:
            chunk: list[Row] = []
            for row in _checked_rows(spec, reader, ctx, plan, seen, row_progress):
                chunk.append(row)
                if len(chunk) >= STREAM_CHUNK:
                    if progress and not dry_run:
                        progress(plan.total_rows, 0)
                    chunk_done(chunk)
                    chunk = []
            if plan.total_rows == 0:
                raise _no_data_rows()
            if chunk:
                chunk_done(chunk)
        finally:
            reader.close()
        if progress:
            progress(plan.total_rows, 0)
        return outcome_of()

    try:
        if dry_run:
            return read_all()
        if before_write is not None:
            before_write()
        with transaction.atomic():
            # PostgreSQL writes a chunk while the next one is read and checked (bulk.copies_in_background)
            with bulk.copies_in_background():
                outcome = read_all()
            if outcome.status != Outcome.APPLIED:
                raise _RollBack(outcome)
            if on_applied is not None:
                on_applied(plan, outcome)
        return outcome
    except ImportFileError as exc:
        return Outcome(Outcome.FAILED, errors=exc.errors, error_count=len(exc.errors),
                       message=exc.errors[0]["message"])
    except _RollBack as exc:
        return exc.outcome
    except RowRefused as exc:
        return Outcome(Outcome.FAILED, message=f"第 {exc.row} 行：{exc.message}，未写入任何数据",
                       errors=[{"row": exc.row, "column": exc.column, "message": exc.message}], error_count=1)
    except IntegrityError as exc:
        return Outcome(Outcome.FAILED, message=f"写入时与并发修改冲突，未写入任何数据：{exc}",
                       errors=[{"row": None, "column": None, "message": "写入时与并发修改冲突，未写入任何数据，请重试"}],
                       error_count=1)


# --- registries: one generic spec for a model keyed by ``code``, written through the registry's services -----

class _Trial(Exception):
    """Raised to roll back a service call made only to see whether it would be refused."""


class RegistrySpec(ImportSpec):
    """A registry kind (institutions, pharmacies, physicians). Every row is created or changed by the registry's
    own services (``apply_create``/``apply_change``), so the rules the REST API enforces — model validation of the
    code and fields, the admission and eligibility rules, the lifecycle (new rows in their initial state; the
    agreement and the licence state change only through the transitions) and one event per change — hold for
    imported rows too. At planning time each new or changed row is tried in a savepoint that is rolled back, so a
    preview lists exactly the rows the services would refuse, with their row and column. A region or institution
    reference must lie within the administrator's region (R-SEC-1)."""

    copy_attrs: tuple[str, ...] = ()
    m2m_attr: str = ""  # e.g. "therapeutic_areas" (values are frozensets of ids)
    area_model = None  # the therapeutic-area model when the kind has an area column (set by the owning app)
    #: columns changed only by lifecycle transitions (admission signs the agreement, R-INS-3; licence revocation,
    #: R-PHA-2): a new row must leave them at the model default, an existing row must not change them
    lifecycle_attrs: tuple[str, ...] = ()
    lifecycle_message = "只能通过纳入/吊销等状态操作变更，不能通过导入填写或修改"

    def context(self, *, run) -> dict:
        from apps.core.models import Region

        ctx = super().context(run=run)
        user = run.created_by
        ctx["scope_prefix"] = "" if (user is None or user.is_superuser or user.region_id is None) else \
            user.region.descendant_prefix
        ctx["scope_name"] = "" if not ctx["scope_prefix"] else user.region.name
        ctx["regions"] = {r.code: r for r in Region.objects.all()}
        ctx["regions_by_pk"] = {r.pk: r for r in ctx["regions"].values()}
        ctx["areas"] = {}
        if self.area_model is not None:
            for area in self.area_model.objects.all():
                ctx["areas"][area.name] = area
                ctx["areas"][area.code] = area
        ctx["areas_by_pk"] = {a.pk: a for a in ctx["areas"].values()}
        ctx["area_names"] = {a.pk: a.name for a in ctx["areas"].values()}
        return ctx

    def in_scope(self, region_code: str, ctx) -> bool:
        return not ctx["scope_prefix"] or region_code.startswith(ctx["scope_prefix"])

    def region_parser(self, ctx):
        regions = ctx["regions"]

        def parse(value):
            if is_blank(value):
                raise CellError("必填，填写6位行政区划代码")
            code = str(int(value)) if isinstance(value, (int, float)) else str(value).strip()
            region = regions.get(code)
            if region is None:
                raise CellError(f"未知行政区划代码“{code}”")
            if not self.in_scope(code, ctx):
                raise CellError(f"{region.name}（{code}）不在本统筹区（{ctx['scope_name']}）范围内")
            return region.pk
        return parse

    def area_parser(self, ctx, *, required: bool, many: bool):
        areas = ctx["areas"]

        def one(name):
            area = areas.get(name)
            if area is None:
                raise CellError(f"未知治疗领域“{name}”")
            return area.pk

        def parse(value):
            if is_blank(value):
                if required:
                    raise CellError("必填，不能为空")
                return frozenset() if many else None
            if not many:
                return one(str(value).strip())
            names = [n.strip() for n in re.split(r"[、,，;；/]", str(value)) if n.strip()]
            return frozenset(one(n) for n in names)
        return parse

    # lifecycle columns and scope ----------------------------------------------------------------------------
    def _default(self, attr):
        return self.model._meta.get_field(attr).get_default()

    def check_create(self, row, ctx):
        for attr in self.lifecycle_attrs:
            if attr in row.values and (row.values[attr] or None) != (self._default(attr) or None):
                yield self.header_of(attr), f"{self.header_of(attr)}{self.lifecycle_message}"
        yield from self._trial(lambda: self.apply_create(row, ctx), row)

    def check_change(self, row, ctx):
        region_code = self.region_code_of(row.instance)
        if region_code is not None and not self.in_scope(region_code, ctx):
            yield self.key_header, f"{self.key_header} {row.values[self.key_attr]} 属于其他统筹区，无权修改"
            return
        locked = [attr for attr in self.lifecycle_attrs if attr in row.changed]
        for attr in locked:
            yield self.header_of(attr), f"{self.header_of(attr)}{self.lifecycle_message}"
        if row.changed and not locked:
            yield from self._trial(lambda: self.apply_change(row, ctx), row)

    def _trial(self, call, row):
        """Run ``call`` (a service) in a savepoint that is always rolled back; yield its refusal as located
        errors."""
        from apps.core.exceptions import ApplicationError

        problems: list[tuple[str, str]] = []
        try:
            with transaction.atomic():
                call()
                raise _Trial
        except _Trial:
            pass
        except ApplicationError as exc:
            problems = self.located(exc)
        yield from problems

    def located(self, exc) -> list[tuple[str, str]]:
        """An ``ApplicationError`` as ``(column header, message)`` pairs: one per failing field that is a column,
        else one on the key column with the service's message."""
        fields = getattr(exc, "fields", None) or {}
        out = []
        for name, messages in fields.items():
            header = self.header_for_field(name)
            if header is not None:
                detail = "；".join(str(m) for m in (messages if isinstance(messages, (list, tuple)) else [messages]))
                out.append((header, f"{exc.message}：{detail}"))
        return out or [(self.key_header, str(exc.message))]

    def header_for_field(self, name: str) -> str | None:
        for column in self.columns:
            if name in (column.attr, column.field, column.attr.removesuffix("_id")):
                return column.header
        return None

    def region_code_of(self, instance) -> str | None:
        return instance.region.code if getattr(instance, "region_id", None) else None

    # values for the services ---------------------------------------------------------------------------------
    def related(self, attr: str, pk, ctx):
        """The object a ``*_id`` column names (the services take objects)."""
        if pk is None:
            return None
        table = {"region_id": "regions_by_pk", "specialty_id": "areas_by_pk"}.get(attr)
        return ctx[table][pk]

    def service_values(self, values: dict, ctx, attrs) -> dict:
        out = {}
        for attr in attrs:
            if attr not in values or attr == self.m2m_attr:
                continue
            if attr.endswith("_id"):
                out[attr.removesuffix("_id")] = self.related(attr, values[attr], ctx)
            else:
                out[attr] = values[attr]
        return out

    def apply_create(self, row: Row, ctx: dict):
        """Create one row through the registry's service (raises ``ApplicationError`` when it refuses)."""
        raise NotImplementedError

    def apply_change(self, row: Row, ctx: dict):
        """Change one row through the registry's service (raises ``ApplicationError`` when it refuses)."""
        raise NotImplementedError

    def current_value(self, instance, attr):
        if attr == self.m2m_attr:
            return frozenset(getattr(instance, attr).values_list("pk", flat=True))
        return getattr(instance, attr)

    def show(self, attr, value):
        if attr == self.m2m_attr:
            return "、".join(sorted(self._names.get(pk, str(pk)) for pk in value))
        if attr.endswith("_id") and attr != "region_id" and value is not None and hasattr(self, "_names"):
            return self._names.get(value, str(value))
        return super().show(attr, value)

    def write(self, plan, ctx):
        """Every row through the services, in file order, inside the caller's transaction: the services write the
        events and django-auditlog the field-level audit (R-SEC-3). A refusal rolls everything back."""
        from apps.core.exceptions import ApplicationError

        for row, call in [(r, self.apply_create) for r in plan.creates] + [(r, self.apply_change) for r in plan.updates]:
            try:
                with transaction.atomic():
                    call(row, ctx)
            except ApplicationError as exc:
                header, message = self.located(exc)[0]
                raise RowRefused(row.number, header, message) from None
