"""django-import-export, the *format layer*: a ``ModelResource`` built from a kind's ``columns`` (declared once on
the spec), so the template, the export and the parsing of a kind cannot drift apart (R-CAT-2 round trip)."""
from __future__ import annotations

from import_export import fields, resources, widgets

from apps.core.excel.engine import CellError


class ParsedWidget(widgets.Widget):
    """A widget whose ``clean`` is one of the engine's cell parsers (same rules for both import paths) and whose
    ``render`` is the column's export form (a Chinese label, 是/否, …)."""

    def __init__(self, parse, render=None):
        super().__init__(coerce_to_string=False)
        self.parse = parse
        self._render = render

    def clean(self, value, row=None, **kwargs):
        try:
            return self.parse(value)
        except CellError as exc:
            raise ValueError(exc.message) from None

    def render(self, value, obj=None, **kwargs):
        if self._render is not None:
            return self._render(value)
        return value


def label_of(choices):
    """Render a ``TextChoices``/``IntegerChoices`` value as its Chinese label."""
    labels = dict(choices.choices)
    return lambda value: str(labels.get(value, value or ""))


def yes_no_label(value) -> str:
    return "是" if value else "否"


def resource_for(spec) -> type[resources.ModelResource]:
    """A ``ModelResource`` class with one field per column of ``spec``, in the columns' order."""
    attrs = {}
    names = []
    for column in spec.columns:
        name = column.field or column.attr
        # the engine's parser and the model field's range (R-SEC-4): the same checks on both import paths
        widget = column.widget if column.widget is not None else ParsedWidget(spec.checked_parser(column),
                                                                              column.render)
        attrs[name] = fields.Field(name, column.header, widget=widget, readonly=column.export is not None,
                                   m2m_add=False)
        if column.export is not None:
            attrs[f"dehydrate_{name}"] = (lambda export: lambda self, obj: export(obj))(column.export)
        names.append(name)
    attrs["Meta"] = type("Meta", (), {"model": spec.model, "import_id_fields": (spec.key_attr,),
                                      "fields": tuple(names), "export_order": tuple(names)})
    return type(f"{type(spec).__name__}Resource", (resources.ModelResource,), attrs)
