"""The home page's figures. Each app may define ``home_figures(user) -> list[Figure]`` in
``apps/<app>/home.py``; the home page shows them in app order."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps as django_apps
from django.utils.functional import Promise


@dataclass(frozen=True)
class Figure:
    label: str | Promise
    value: int | str
    url: str = ""
    tone: str = ""  # "", "warn", "danger", "ok"


def home_figures(user) -> list[Figure]:
    figures: list[Figure] = []
    for config in django_apps.get_app_configs():
        if not config.name.startswith("apps.") or config.name == "apps.core":
            continue
        if find_spec(f"{config.name}.home") is None:  # an app without home figures
            continue
        module = import_module(f"{config.name}.home")
        figures.extend(module.home_figures(user))
    return figures
