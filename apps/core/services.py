"""Writes of shared reference data: regions and the working-day calendar (R-APP-5)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction

from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core import hooks as core_hooks
from apps.core.models import CalendarArrangement, CalendarDay, Region, RegionSettings
from apps.core.region_presets import REGION_SETTINGS_PRESETS
from apps.core.scoping import require_system_wide

L = Region.Level


def _expected_level(code: str) -> str:
    if code.endswith("0000"):
        return L.PROVINCE
    if code.endswith("00"):
        return L.CITY
    return L.COUNTY


def _check_region_scope(actor, code: str) -> None:
    """A bureau administrator maintains the regions under its own region; superusers (and scripts) all."""
    if actor is None or actor.is_superuser or not actor.region_id:
        return
    if not code.startswith(actor.region.descendant_prefix) or code == actor.region.code:
        raise ApplicationError("permission_denied", f"只能维护{actor.region.name}下级的行政区划", status=403)


@transaction.atomic
def region_create(*, actor, code: str, name: str) -> Region:
    """A region by its 6-digit code; its level and parent follow from the code (XX0000 → XXYY00 → XXYYZZ)."""
    code, name = (code or "").strip(), (name or "").strip()
    fields = {}
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        fields["code"] = ["行政区划代码应为6位数字"]
    if not name:
        fields["name"] = ["必填"]
    if fields:
        raise ApplicationError("invalid", "行政区划信息有误", fields=fields)
    _check_region_scope(actor, code)
    if Region.objects.filter(code=code).exists():
        raise ApplicationError("duplicate", f"行政区划代码 {code} 已存在", fields={"code": ["已存在"]}, status=409)
    level = _expected_level(code)
    parent = None
    if level != L.PROVINCE:
        parent_code = code[:2] + "0000" if level == L.CITY else code[:4] + "00"
        parent = Region.objects.filter(code=parent_code).first()
        if parent is None:
            raise ApplicationError("invalid", f"上级区划 {parent_code} 不存在，请先建立上级区划",
                                   fields={"code": [f"上级区划 {parent_code} 不存在"]})
    region = Region.objects.create(code=code, name=name, level=level, parent=parent)
    record_event(subject=region, action=EventAction.REGION_CREATED, actor=actor, data={"code": code, "name": name})
    return region


@transaction.atomic
def region_settings_apply_preset(*, region: Region, preset: str, actor=None) -> RegionSettings:
    """Give ``region`` its own settings from a preset (``apps/core/region_presets.py``): the R-DOC-2 role split,
    the R-APP-4 stages, R-APP-10 and R-DOC-1's relaxation. Other settings keep their values."""
    if preset not in REGION_SETTINGS_PRESETS:
        raise ApplicationError("unknown_preset", f"没有名为 {preset} 的统筹区设置预设", fields={"preset": ["取值无效"]})
    if actor is not None and actor.region_id != region.pk:
        _check_region_scope(actor, region.code)
    values = {k: v for k, v in REGION_SETTINGS_PRESETS[preset].items() if k != "name"}
    settings_row, _created = RegionSettings.objects.update_or_create(region=region, defaults=values)
    record_event(subject=settings_row, action=EventAction.REGION_SETTINGS_PRESET_APPLIED, actor=actor,
                 data={"preset": preset, "region": region.code})
    return settings_row


@transaction.atomic
def region_update(*, region: Region, actor, name: str) -> Region:
    """Rename a region (the code is its identity and cannot change)."""
    name = (name or "").strip()
    _check_region_scope(actor, region.code)
    if not name:
        raise ApplicationError("invalid", "名称必填", fields={"name": ["必填"]})
    if name != region.name:
        old = region.name
        region.name = name
        region.save(update_fields=["name"])
        record_event(subject=region, action=EventAction.REGION_RENAMED, actor=actor, data={"from": old, "to": name})
    return region


@transaction.atomic
def calendar_day_set(*, actor, date: dt.date, kind: str, name: str = "") -> CalendarDay:
    """Mark a date as a public holiday or a make-up working day (R-APP-5). The calendar is shared by every region:
    a system-wide role writes it (R-SEC-1)."""
    require_system_wide(actor)
    if kind not in CalendarDay.Kind.values:
        raise ApplicationError("invalid", "类型应为法定节假日或调休上班", fields={"kind": ["未知类型"]})
    day, created = CalendarDay.objects.get_or_create(date=date, defaults={"kind": kind, "name": name})
    if not created and (day.kind, day.name) != (kind, name):
        day.kind, day.name = kind, name
        day.save(update_fields=["kind", "name"])
    record_event(subject=day, action=EventAction.CALENDAR_DAY_SET, actor=actor, data={"date": date.isoformat(), "kind": kind})
    return day


@transaction.atomic
def calendar_day_delete(*, actor, day: CalendarDay) -> None:
    require_system_wide(actor)
    record_event(subject=day, action=EventAction.CALENDAR_DAY_DELETED, actor=actor,
                 data={"date": day.date.isoformat(), "kind": day.kind})
    day.delete()


# --- Excel import (columns 日期 / 类型 / 名称): all-or-nothing with row errors -------------------------

CALENDAR_COLUMNS = ("日期", "类型", "名称")
_KIND_WORDS = {
    "holiday": CalendarDay.Kind.HOLIDAY, "法定节假日": CalendarDay.Kind.HOLIDAY, "节假日": CalendarDay.Kind.HOLIDAY,
    "假日": CalendarDay.Kind.HOLIDAY, "休": CalendarDay.Kind.HOLIDAY, "放假": CalendarDay.Kind.HOLIDAY,
    "workday": CalendarDay.Kind.WORKDAY, "调休上班": CalendarDay.Kind.WORKDAY, "上班": CalendarDay.Kind.WORKDAY,
    "班": CalendarDay.Kind.WORKDAY, "调休": CalendarDay.Kind.WORKDAY,
}


@dataclass
class CalendarImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    dry_run: bool = False
    recomputed: int = 0  # R-APP-5: provisional due dates recomputed under the imported arrangement

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "dry_run": self.dry_run, "errors": self.errors, "recomputed": self.recomputed}


def _parse_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip().replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _read_rows(file) -> list[tuple[int, tuple]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception:  # openpyxl raises several types for a non-xlsx upload
        raise ApplicationError("invalid_file", "无法读取文件，请上传 .xlsx 格式的 Excel 文件",
                               fields={"file": ["不是有效的 .xlsx 文件"]}) from None
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    workbook.close()
    if not rows:
        raise ApplicationError("invalid_file", "文件为空", fields={"file": ["文件为空"]})
    header = tuple(str(c or "").strip() for c in rows[0][:3])
    if header != CALENDAR_COLUMNS:
        raise ApplicationError("invalid_file", f"表头应为：{' / '.join(CALENDAR_COLUMNS)}",
                               fields={"file": [f"表头应为 {'、'.join(CALENDAR_COLUMNS)}"]})
    return [(i, tuple(r) + (None,) * 3) for i, r in enumerate(rows[1:], start=2)
            if any(c not in (None, "") for c in r)]


@transaction.atomic
def calendar_import(*, actor, file, dry_run: bool = False, now: dt.datetime | None = None) -> CalendarImportResult:
    """Import holidays and make-up working days from an .xlsx (R-APP-5). If any row is bad nothing is written
    and every bad row is reported (``row``, ``column``, ``message``); importing the same file again changes
    nothing. ``dry_run`` reports what would happen. A system-wide role only (R-SEC-1)."""
    require_system_wide(actor)
    result = CalendarImportResult(dry_run=dry_run)
    parsed: dict[dt.date, tuple[str, str]] = {}
    for row_no, (raw_date, raw_kind, raw_name, *_rest) in _read_rows(file):
        day = _parse_date(raw_date)
        if day is None:
            result.errors.append({"row": row_no, "column": "日期", "message": f"日期无效：{raw_date}"})
        kind = _KIND_WORDS.get(str(raw_kind or "").strip().lower()) or _KIND_WORDS.get(str(raw_kind or "").strip())
        if kind is None:
            result.errors.append({"row": row_no, "column": "类型",
                                  "message": f"类型应为“法定节假日”或“调休上班”：{raw_kind or '（空）'}"})
        name = str(raw_name or "").strip()
        if len(name) > 64:
            result.errors.append({"row": row_no, "column": "名称", "message": "名称不能超过64个字符"})
        if day is not None and day in parsed:
            result.errors.append({"row": row_no, "column": "日期", "message": f"日期 {day} 在文件中重复"})
        if day is not None and kind is not None:
            parsed[day] = (kind, name)
    if result.errors:
        raise ApplicationError("import_invalid", f"导入文件有 {len(result.errors)} 处错误，未写入任何数据",
                               data={"errors": result.errors})
    existing = {d.date: d for d in CalendarDay.objects.filter(date__in=parsed)}
    for day, (kind, name) in sorted(parsed.items()):
        current = existing.get(day)
        if current is None:
            result.created += 1
            if not dry_run:
                CalendarDay.objects.create(date=day, kind=kind, name=name)
        elif (current.kind, current.name) != (kind, name):
            result.updated += 1
            if not dry_run:
                current.kind, current.name = kind, name
                current.save(update_fields=["kind", "name"])
        else:
            result.unchanged += 1
    if not dry_run and (result.created or result.updated) and getattr(actor, "pk", None):
        record_event(now=now, subject=actor, action=EventAction.CALENDAR_IMPORTED, actor=actor,
                     data={"created": result.created, "updated": result.updated, "unchanged": result.unchanged})
    if not dry_run and parsed:
        if now is None:
            raise ValueError("calendar_import records the arrangement's import time: pass now=")
        # R-APP-5: the file is the official arrangement of the years it covers; provisional dates are recomputed
        years = sorted({day.year for day in parsed})
        for year in years:
            CalendarArrangement.objects.get_or_create(
                year=year, defaults={"imported_at": now,
                                     "imported_by": actor if getattr(actor, "pk", None) else None})
        result.recomputed = sum(core_hooks.calendar_arrangement_imported.send(
            years=years, actor=actor if getattr(actor, "pk", None) else None))
    return result


def calendar_template_workbook() -> bytes:
    """An empty import template with the three columns and one example row."""
    from io import BytesIO

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "节假日安排"
    ws.append(list(CALENDAR_COLUMNS))
    ws.append(["2027-01-01", "法定节假日", "元旦"])
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
