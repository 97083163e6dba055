"""The import kinds known to the engine. Each app registers its own kind(s) in its ``AppConfig.ready()``; the engine,
the upload service and the export never name an app's module (dependencies point one way: STYLE.md "Layers")."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from apps.core.excel.engine import ImportSpec

_KINDS: dict[str, "ImportSpec"] = {}


def register(spec: "ImportSpec") -> "ImportSpec":
    """Make ``spec`` importable and exportable under ``spec.kind``. Registering the same kind twice with a
    different spec is a programming error (two apps claiming one URL)."""
    if not spec.kind:
        raise ValueError(f"{type(spec).__name__} has no kind")
    current = _KINDS.get(spec.kind)
    if current is not None and type(current) is not type(spec):
        raise ValueError(f"import kind {spec.kind!r} already registered by {type(current).__name__}")
    _KINDS[spec.kind] = spec
    return spec


def get(kind: str) -> "ImportSpec":
    """The spec of ``kind``; ``KeyError`` when no app registered it."""
    return _KINDS[kind]


def is_registered(kind: str) -> bool:
    return kind in _KINDS


def kinds() -> list[str]:
    return sorted(_KINDS)
