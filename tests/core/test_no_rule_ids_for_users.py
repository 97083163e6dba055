"""Issue 15 item 7: users read Chinese labels, not rule ids. No model verbose name, field label, help text or
choice label, no form label or help text, and no refusal message carries ``R-APP-6`` and the like (rule ids stay in
code, comments, logs and tests)."""
import importlib
import re

from django import forms
from django.apps import apps

from apps.core.exceptions import ApplicationError
from apps.core.formatting import without_rule_ids

RULE_ID = re.compile(r"R-[A-Z]+-\d")


def _texts_of_models():
    for model in apps.get_models():
        if not model.__module__.startswith("apps."):
            continue
        meta = model._meta
        yield f"{meta.label} verbose_name", meta.verbose_name
        yield f"{meta.label} verbose_name_plural", meta.verbose_name_plural
        for field in meta.get_fields():
            for attr in ("verbose_name", "help_text"):
                yield f"{meta.label}.{field.name}.{attr}", getattr(field, attr, "")
            for _value, label in getattr(field, "flatchoices", None) or []:
                yield f"{meta.label}.{field.name} choice", label


def test_issue_15_no_rule_id_in_model_labels_or_help_texts():
    found = [(where, str(text)) for where, text in _texts_of_models() if RULE_ID.search(str(text or ""))]
    assert not found, found


def test_issue_15_no_rule_id_in_form_labels_or_help_texts():
    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.forms")
        except ModuleNotFoundError:
            continue
        for name, form in vars(module).items():
            if isinstance(form, type) and issubclass(form, forms.BaseForm) and form.__module__ == module.__name__:
                for field_name, field in form.base_fields.items():
                    for text in (field.label, field.help_text):
                        if RULE_ID.search(str(text or "")):
                            found.append((f"{module.__name__}.{name}.{field_name}", str(text)))
    assert not found, found


def test_issue_15_refusal_messages_read_without_rule_ids():
    """A service may cite the rule in its source; the person reads the sentence around it."""
    error = ApplicationError("invalid", "有效期止应在 2026-01-05 至 2027-12-31 之间（R-APP-6：最长至申请次年12月31日）",
                             fields={"valid_until": ["只能冲正一次（R-RX-6）"]})
    assert error.message == "有效期止应在 2026-01-05 至 2027-12-31 之间（最长至申请次年12月31日）"
    assert error.as_body()["detail"] == error.message and error.fields == {"valid_until": ["只能冲正一次"]}
    assert without_rule_ids("参保地不允许先用药后备案（R-APP-10），请先申请后用药") == "参保地不允许先用药后备案，请先申请后用药"
    assert without_rule_ids("R-APP-5：按工作日计算") == "按工作日计算"
    assert without_rule_ids("待遇申请（R-APP-1；不同剂型是不同药品，R-CAT-6）") == "待遇申请（不同剂型是不同药品）"


def _template_text_outside_comments(source: str) -> str:
    """What a template can show: its text without ``{# … #}`` and ``{% comment %}`` blocks."""
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    return re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", "", source, flags=re.S)


def test_issue_15_no_rule_id_in_template_text():
    """Headings, notes and tooltips in the templates (e.g. "申请待遇延期（简化程序，R-APP-11）") read without rule ids."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for path in sorted([*root.glob("apps/*/templates/**/*.html"), *root.glob("templates/**/*.html")]):
        for number, line in enumerate(_template_text_outside_comments(path.read_text(encoding="utf-8")).splitlines(), 1):
            if RULE_ID.search(line):
                found.append(f"{path.relative_to(root)}: {line.strip()[:120]}")
    assert not found, found


def test_issue_15_no_rule_id_in_admin_section_titles():
    from django.contrib import admin

    found = []
    for model, model_admin in admin.site._registry.items():
        for title, _options in getattr(model_admin, "fieldsets", None) or []:
            if RULE_ID.search(str(title or "")):
                found.append((model._meta.label, str(title)))
    assert not found, found
