"""Tiers from rolling 12-month spend."""

from __future__ import annotations

from collections.abc import Mapping


def tier_for_spend(spend_12m_cents: int, thresholds_cents: Mapping[str, int]) -> str:
    """The highest tier whose threshold the spend reaches. Thresholds: tier name -> minimum spend in cents."""
    ordered = sorted(thresholds_cents.items(), key=lambda kv: (kv[1], kv[0]))
    tier = ordered[0][0]
    for name, threshold in ordered:
        if spend_12m_cents >= threshold:
            tier = name
    return tier


def next_tier(spend_12m_cents: int, thresholds_cents: Mapping[str, int]) -> tuple[str, int] | None:
    """(next tier, cents still to spend), or None at the top."""
    for name, threshold in sorted(thresholds_cents.items(), key=lambda kv: (kv[1], kv[0])):
        if threshold > spend_12m_cents:
            return name, threshold - spend_12m_cents
    return None
