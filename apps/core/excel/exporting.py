"""Template and export workbooks in the import layout (issue 3 §1): django-import-export resources rendered
to .xlsx, so that export → import changes nothing (R-CAT-2)."""
from __future__ import annotations

import datetime as dt

from import_export.formats.base_formats import XLSX

from apps.core.excel.engine import load_specs, spec_for

XLSX_CONTENT_TYPE = XLSX.CONTENT_TYPE


def _queryset(kind: str, user):
    if kind == "drugs":
        from apps.catalogue.resources import DrugResource

        return DrugResource.export_queryset()
    if kind == "institutions":
        from apps.institutions.selectors import institutions_visible_to

        return institutions_visible_to(user).order_by("code")
    if kind == "pharmacies":
        from apps.pharmacies.selectors import pharmacies_visible_to

        return pharmacies_visible_to(user).order_by("code")
    if kind == "physicians":
        from apps.physicians.selectors import physicians_visible_to

        return physicians_visible_to(user).order_by("code")
    raise KeyError(kind)


def export_workbook(*, kind: str, user, empty: bool = False) -> bytes:
    """The current data of ``kind`` visible to ``user`` (or, with ``empty``, just the header row)."""
    load_specs()
    spec = spec_for(kind)
    resource = spec.resource_class()
    queryset = _queryset(kind, user)
    dataset = resource.export(queryset=queryset.none() if empty else queryset)
    dataset.title = spec.label
    return XLSX().export_data(dataset)


def export_filename(kind: str, *, empty: bool = False) -> str:
    load_specs()
    label = spec_for(kind).label
    return f"{label}{'导入模板' if empty else '_' + dt.date.today().strftime('%Y%m%d')}.xlsx"
