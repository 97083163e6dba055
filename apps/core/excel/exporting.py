"""Template and export workbooks in the import layout (R-CAT-2): a kind's resource (built from its columns)
rendered to .xlsx, so that export → import changes nothing (R-CAT-2). The rows come from the kind's own
``export_queryset(user)`` (a selector of the app that registered it)."""
from __future__ import annotations

import datetime as dt

from import_export.formats.base_formats import XLSX

from apps.core.excel import registry
from apps.core.excel.safety import dataset_to_xlsx
from apps.core.excel.template import template_workbook

XLSX_CONTENT_TYPE = XLSX.CONTENT_TYPE


def export_workbook(*, kind: str, user, empty: bool = False) -> bytes:
    """The current data of ``kind`` visible to ``user``; with ``empty``, the template a clerk fills (the header row
    with drop-down lists, an instructions sheet and an example sheet: ``apps/core/excel/template.py``)."""
    spec = registry.get(kind)
    if empty:
        return template_workbook(spec)
    queryset = spec.export_queryset(user)
    dataset = spec.resource_class().export(queryset=queryset)
    dataset.title = spec.label
    return dataset_to_xlsx(dataset)  # strings as text: no formula injection (R-SEC-4)


def export_filename(kind: str, *, empty: bool = False, today: dt.date | None = None) -> str:
    """``<label>导入模板.xlsx`` or ``<label>_<YYYYMMDD>.xlsx``; an export's date is the caller's ``today`` (the view's)."""
    label = registry.get(kind).label
    if empty:
        return f"{label}导入模板.xlsx"
    if today is None:
        raise TypeError("export_filename(empty=False) needs today= from its caller")
    return f"{label}_{today:%Y%m%d}.xlsx"
