"""The admin shows figures as the pages do (issue 15): money ``1,234.50``, ratios ``75%``, counts ``12,345``.

``FiguresAdminMixin`` replaces each money (two decimals) or ratio (four decimals) ``DecimalField`` and each
count column of ``list_display`` with a column formatted by ``apps/core/formatting.py``, sortable by the field."""
from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from apps.core import formatting

COUNT_FIELDS = {"visits", "quantity", "line_count", "dispensing_count", "created_count", "updated_count",
                "unchanged_count", "row_count"}


def figure_column(model, name):
    """``name`` as a formatted column of ``model``'s change list, or ``name`` unchanged when it is not a figure."""
    if not isinstance(name, str):
        return name
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    if isinstance(field, models.DecimalField):
        fmt = formatting.money if field.decimal_places <= 2 else formatting.ratio
    elif isinstance(field, models.IntegerField) and name in COUNT_FIELDS:
        fmt = formatting.count
    else:
        return name

    def column(obj):
        return fmt(getattr(obj, name))

    column.short_description = field.verbose_name
    column.admin_order_field = name
    column.__name__ = f"{name}_formatted"
    return column


def _unique(names) -> list:
    seen, out = set(), []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


class FiguresAdminMixin:
    """Change lists and detail pages: a money or ratio field shown (read only) on a detail page is the formatted
    column too — ``1,234.50`` and ``75%`` instead of Django's ``1234.50`` and ``0.7500``. Fields the user may edit
    stay inputs."""

    def get_list_display(self, request):
        return [figure_column(self.model, name) for name in super().get_list_display(request)]

    # --- detail pages (change form / view-only page) -----------------------------------------------------------
    def _figure_fields(self, request, obj=None) -> set[str]:
        """The figure fields shown read only: all of them when the user may only view, else the read-only ones."""
        if not self.has_change_permission(request, obj):
            names = [f.name for f in self.model._meta.concrete_fields]
        else:
            names = [n for n in super().get_readonly_fields(request, obj) if isinstance(n, str)]
        return {n for n in names if figure_column(self.model, n) is not n}

    def _as_figure(self, name, figures: set[str]):
        if name not in figures:
            return name
        column = figure_column(self.model, name)
        setattr(self, column.__name__, column)  # found by name by the admin's lookup_field
        return column.__name__

    def get_readonly_fields(self, request, obj=None):
        figures = self._figure_fields(request, obj)
        names = [self._as_figure(n, figures) for n in super().get_readonly_fields(request, obj)]
        return _unique([*names, *(self._as_figure(n, figures) for n in sorted(figures))])

    def get_exclude(self, request, obj=None):
        figures = self._figure_fields(request, obj)
        excluded = super().get_exclude(request, obj)
        if not figures:
            return excluded
        formatted = [figure_column(self.model, n).__name__ for n in sorted(figures)]
        return _unique([*(excluded or []), *sorted(figures), *formatted])  # never a form input: shown formatted

    def get_fields(self, request, obj=None):
        figures = self._figure_fields(request, obj)
        return _unique(self._as_figure(n, figures) for n in super().get_fields(request, obj))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.fieldsets:
            return fieldsets  # built from get_fields above
        figures = self._figure_fields(request, obj)

        def mapped(names):
            return [tuple(mapped(n)) if isinstance(n, (list, tuple)) else self._as_figure(n, figures) for n in names]

        return [(title, {**options, "fields": mapped(options.get("fields", ()))}) for title, options in fieldsets]
