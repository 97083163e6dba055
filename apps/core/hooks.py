"""Explicit extension points: how a lower app reaches a rule that a higher app owns without importing it.

The lower app declares a ``Hook`` in its own ``hooks.py`` and calls it; the higher app registers its handler in
its ``AppConfig.ready()``. Unlike Django signals the data flow is one named call, and a hook with no handler is
a configuration error (``ImproperlyConfigured``), never a silently skipped rule.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class Hook:
    """A named call with registered handlers. ``single=True``: exactly one handler answers (``call``);
    otherwise every handler runs (``send``)."""

    def __init__(self, name: str, *, single: bool = False):
        self.name = name
        self.single = single
        self.handlers: list[Callable[..., Any]] = []

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, handlers={len(self.handlers)})"

    def register(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        if handler in self.handlers:
            return handler
        if self.single and self.handlers:
            raise ImproperlyConfigured(f"hook {self.name} already has a handler: {self.handlers[0]!r}")
        self.handlers.append(handler)
        return handler

    def _require(self) -> None:
        if not self.handlers:
            raise ImproperlyConfigured(f"hook {self.name} has no handler (is the app that answers it installed?)")

    def send(self, **kwargs) -> list[Any]:
        """Run every handler with ``kwargs``; their results in registration order."""
        self._require()
        return [handler(**kwargs) for handler in self.handlers]

    def call(self, **kwargs) -> Any:
        """The one handler's answer (``single`` hooks)."""
        self._require()
        return self.handlers[0](**kwargs)


#: R-APP-5: an official holiday arrangement was imported for ``years``; applications recompute provisional due
#: dates (``apps.applications.services.deadlines_recompute_provisional``).
calendar_arrangement_imported = Hook("calendar_arrangement_imported")
