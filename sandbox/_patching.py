"""Replacing moto's attributes, once, while remembering what was there.

Every extension in this package is applied by setting an attribute on one of
moto's classes. Installing twice must not wrap a wrapper, so the first value
seen for each (class, name) is kept and handed back by `original`.
"""

from __future__ import annotations

from typing import Any

_ORIGINALS: dict[tuple[type, str], Any] = {}


def override(cls: type, name: str, replacement: Any) -> None:
    """Sets `cls.name`; the first call remembers what the attribute resolved to."""
    key = (cls, name)
    if key not in _ORIGINALS:
        _ORIGINALS[key] = getattr(cls, name, None)
    setattr(cls, name, replacement)


def original(cls: type, name: str) -> Any:
    """What `cls.name` resolved to before the first override (an unbound function, a property, ...)."""
    return _ORIGINALS[(cls, name)]
