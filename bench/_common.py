"""Shared by the bench scripts: percentile, table printing and the --json last line."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


def print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"  {name:<{width}}  {value:>14}  {goal}")


def emit_json(figures: dict[str, float | int]) -> None:
    print(json.dumps(figures, sort_keys=True))
