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


class FiguresAdminMixin:
    def get_list_display(self, request):
        return [figure_column(self.model, name) for name in super().get_list_display(request)]
