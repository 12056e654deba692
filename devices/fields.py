"""Limits declared on settings fields, and the one check that enforces them.

A settings dataclass declares what a field accepts in the field's metadata instead of in a table keyed by name:

    baud: int = field(default=9600, metadata={"range": (50, 4_000_000)})      # inclusive, numbers
    mode: str = field(default="passive", metadata={"choices": ("passive", "active")})

:func:`problems` lists every field outside its declared limits; the device configs call it from
``__post_init__`` (they validate themselves on construction) and the app's settings loader (``edge.settings``)
runs it on every section, including ``sync.config.SyncConfig``, naming the key and the allowed range. It lives in
``devices`` because that package is the leaf every other layer may build on; it imports nothing but ``devices.text`` (its
problems are :class:`devices.text.Text`, which the app translates).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from devices.text import N_, Text


def problems(obj: Any) -> list[tuple[str, str]]:
    """``(field name, problem)`` for each field of the dataclass ``obj`` outside its declared limits."""
    found: list[tuple[str, str]] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        limits = f.metadata.get("range")
        if limits is not None:
            lo, hi = limits
            if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
                found.append((f.name, Text(N_("must be between {low} and {high}, got {value}"), low=f"{lo:g}",
                                           high=f"{hi:g}", value=repr(value))))
        allowed = f.metadata.get("choices")
        if allowed is not None and value not in allowed:
            found.append((f.name, Text(N_("must be one of {choices}, got {value}"),
                                           choices=", ".join(repr(c) for c in allowed), value=repr(value))))
    return found


def declared_range(cls: type, name: str) -> tuple[float, float] | None:
    """The ``(low, high)`` declared on field ``name`` of dataclass ``cls``, or None."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            limits = f.metadata.get("range")
            return None if limits is None else (limits[0], limits[1])
    raise KeyError(name)
