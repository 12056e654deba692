"""Points rounded once per order and allocated by largest remainder (edge/core/money.py rule 4), for any shares
and any basket (hypothesis)."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from edge.core.catalog import Product
from edge.core.loyalty import LoyaltyRules, settle
from edge.core.money import split_floored
from edge.core.offers import BasketLine, CustomerContext, evaluate

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
shares = st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 10_000)), max_size=40)


@given(shares)
@example([(149, 100)] * 10)
def test_line_points_sum_to_the_order_total_floored_once(parts: list[tuple[int, int]]) -> None:
    result = split_floored([n for n, _ in parts], [d for _, d in parts])
    assert sum(result) == math.floor(sum((Fraction(n, d) for n, d in parts), Fraction(0)))


@given(shares)
def test_each_line_gets_the_floor_or_ceiling_of_its_exact_share(parts: list[tuple[int, int]]) -> None:
    result = split_floored([n for n, _ in parts], [d for _, d in parts])
    for got, (n, d) in zip(result, parts, strict=True):
        assert math.floor(Fraction(n, d)) <= got <= math.ceil(Fraction(n, d))


@given(shares)
def test_extra_points_go_to_the_largest_remainders(parts: list[tuple[int, int]]) -> None:
    result = split_floored([n for n, _ in parts], [d for _, d in parts])
    rounded_up = [Fraction(n, d) % 1 for got, (n, d) in zip(result, parts, strict=True) if got > n // d]
    left_down = [Fraction(n, d) % 1 for got, (n, d) in zip(result, parts, strict=True) if got == n // d]
    assert not rounded_up or not left_down or min(rounded_up) >= max(left_down)


def test_bad_shares_are_refused() -> None:
    with pytest.raises(ValueError):
        split_floored([-1], [1])
    with pytest.raises(ValueError):
        split_floored([1], [0])
    with pytest.raises(ValueError):
        split_floored([1, 2], [1])
    assert split_floored([], []) == []


CATEGORIES = ("Bakery", "Dairy", "Sweets")
RULES = LoyaltyRules(category_multipliers={"Bakery": 1.5, "Dairy": 0.75},
                     tier_multipliers={"Silver": 1.25, "Gold": 2.0})  # fmt: skip
lines = st.lists(st.tuples(st.integers(0, 5_000), st.integers(1, 5), st.sampled_from(CATEGORIES)),
                 min_size=1, max_size=15)  # fmt: skip


def _pricing(items: list[tuple[int, int, str]], tier: str):
    basket = [BasketLine(n, Product(f"{n:014d}", f"P{n}", price, 900, cat), qty)
              for n, (price, qty, cat) in enumerate(items, start=1)]  # fmt: skip
    return evaluate(basket, (), CustomerContext("C1", tier), NOW)


@given(lines, st.sampled_from(("Bronze", "Silver", "Gold")), st.integers(0, 400), st.randoms())
def test_a_basket_earns_the_same_points_per_line_in_any_line_order(
    items: list[tuple[int, int, str]], tier: str, redeemed: int, rnd: random.Random
) -> None:
    pricing = _pricing(items, tier)
    s = settle(pricing, redeemed, RULES, tier)
    exact = [
        Fraction(ln.paid_cents) * Fraction(str(RULES.tier_multipliers.get(tier, 1.0)))  # type: ignore[union-attr]
        * Fraction(str(RULES.category_multipliers.get(cat, 1.0))) / 100  # type: ignore[union-attr]
        for ln, (_, _, cat) in zip(s.lines, items, strict=True)
    ]
    assert s.points_earned == math.floor(sum(exact, Fraction(0)))
    assert all(math.floor(e) <= ln.points <= math.ceil(e) for ln, e in zip(s.lines, exact, strict=True))
    shuffled = list(pricing.lines)
    rnd.shuffle(shuffled)
    again = settle(replace(pricing, lines=tuple(shuffled)), redeemed, RULES, tier)
    assert {ln.line_no: ln.points for ln in again.lines} == {ln.line_no: ln.points for ln in s.lines}
