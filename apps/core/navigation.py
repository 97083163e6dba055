"""Navigation by role. Each app may declare ``NAV_ITEMS`` in ``apps/<app>/navigation.py``:

    NAV_ITEMS = [NavItem("药品目录", "catalogue:drug_list", roles={"bureau_admin", "bureau_reviewer"}, order=30)]

The context processor collects them once, keeps those the user's role may see and whose URL resolves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps as django_apps
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

ALL_ROLES = frozenset({"bureau_admin", "bureau_reviewer", "hospital", "pharmacy"})
BUREAU = frozenset({"bureau_admin", "bureau_reviewer"})


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    roles: frozenset = field(default=ALL_ROLES)
    order: int = 100
    group: str | Promise = ""


_registry: list[NavItem] | None = None


def _collect() -> list[NavItem]:
    global _registry
    if _registry is None:
        items: list[NavItem] = []
        for config in django_apps.get_app_configs():
            if not config.name.startswith("apps."):
                continue
            if find_spec(f"{config.name}.navigation") is None:  # an app without menu entries
                continue
            module = import_module(f"{config.name}.navigation")
            items.extend(getattr(module, "NAV_ITEMS", []))
        _registry = sorted(items, key=lambda item: item.order)
    return _registry


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    role = getattr(user, "role", "")
    visible = []
    for item in _collect():
        if role not in item.roles and not (user.is_superuser and "bureau_admin" in item.roles):
            continue
        if item.url_name.startswith("admin:") and not user.is_superuser:
            continue  # the Django admin is for system administrators only (issue 15)
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        visible.append({"label": item.label, "url": url, "group": item.group, "active": False})
    # one highlighted item: the entry whose address is the longest prefix of the page's (/catalogue/imports/ is
    # "Excel 导入", not also "药品目录")
    matching = [entry for entry in visible if entry["url"] != "/" and request.path.startswith(entry["url"])]
    if matching:
        max(matching, key=lambda entry: len(entry["url"]))["active"] = True
    return {"nav_items": visible, "nav_menu": _grouped(visible)}


def _grouped(items: list[dict]) -> list[dict]:
    """The items of one group become a drop-down menu (placed where its first item is); a group with one visible
    item stays a link."""
    menu: list[dict] = []
    groups: dict = {}
    for item in items:
        entry = groups.get(str(item["group"])) if item["group"] else None
        if entry is not None:  # every item of a group in its one menu, wherever the apps' orders put it
            entry["children"].append(item)
            entry["active"] = entry["active"] or item["active"]
        else:
            menu.append({"group": item["group"], "label": item["group"] or item["label"], "url": item["url"],
                         "active": item["active"], "children": [item]})
            if item["group"]:
                groups[str(item["group"])] = menu[-1]
    return [entry if len(entry["children"]) > 1 else entry["children"][0] | {"children": []} for entry in menu]


def _nav_items():
    from django.utils.translation import gettext_lazy as _

    return [NavItem(_("节假日安排"), "admin:core_calendarday_changelist", roles=frozenset({"bureau_admin"}), order=90,
                    group=_("系统设置"))]


NAV_ITEMS = _nav_items()
