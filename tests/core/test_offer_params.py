"""Malformed offer params: the engine skips the offer instead of failing the sale; the validator says why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edge.core.catalog import Product
from edge.core.offers import KINDS, BasketLine, CustomerContext, Offer, evaluate, offer_params_problem

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
MILK = Product("08710000000010", "Milk", 120, 900, "Dairy")
BREAD = Product("08710000000027", "Bread", 250, 900, "Bakery")
LINES = [BasketLine(1, MILK, 3), BasketLine(2, BREAD, 2)]
GOOD = Offer("GOOD", "percent_off", "Dairy week", {"percent": 10, "category": "Dairy"})


@pytest.mark.parametrize("params", [[1], "percent", 5, None, {"percent": "10"}, {"percent": 0},
                                    {"percent": 101}, {"percent": float("nan")}, {"percent": 10, "gtins": "x"},
                                    {"percent": 10, "gtins": [8710000000010]}, {"percent": 10, "category": 3}])
def test_a_malformed_percent_offer_is_skipped_and_the_sale_still_prices(params: Any):
    bad = Offer("BAD", "percent_off", "X", params)
    pricing = evaluate(LINES, [bad, GOOD], None, NOW)
    assert pricing.offer_ids == ("GOOD",)
    assert pricing.discount_cents == 36  # 10% of 3 x 1.20
    assert offer_params_problem("percent_off", params) is not None


@pytest.mark.parametrize(
    ("kind", "params", "fragment"),
    [
        ("percent_off", [1], "JSON object, got list"),
        ("percent_off", {"percent": 150}, "'percent'"),
        ("percent_off", {"percent": 10**400}, "'percent'"),
        ("points_multiplier", {"multiplier": float("inf")}, "'multiplier'"),
        ("points_multiplier", {"multiplier": 10**400}, "'multiplier'"),
        ("buy_x_get_y", {"buy": 2, "get": 0}, "'get'"),
        ("buy_x_get_y", {"buy": True, "get": 1}, "'buy'"),
        ("amount_off_basket", {"amount_cents": 1.5}, "'amount_cents'"),
        ("amount_off_basket", {"amount_cents": 500, "threshold_cents": -1}, "'threshold_cents'"),
        ("points_multiplier", {"multiplier": 0}, "'multiplier'"),
        ("points_multiplier", {"multiplier": 2, "gtins": ["123"]}, "14-digit"),
        ("free_lunch", {}, "not one of"),
    ],
)
def test_the_validator_names_the_problem(kind: str, params: Any, fragment: str):
    problem = offer_params_problem(kind, params)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("percent_off", {"percent": 12.5, "gtins": [MILK.gtin]}),
        ("buy_x_get_y", {"buy": 2, "get": 1, "category": "Snacks"}),
        ("amount_off_basket", {"amount_cents": 500, "threshold_cents": 2000}),
        ("amount_off_basket", {"amount_cents": 0}),
        ("points_multiplier", {"multiplier": 0.5}),
    ],
)
def test_well_formed_params_pass(kind: str, params: Any):
    assert offer_params_problem(kind, params) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
KEYS = st.sampled_from(["percent", "buy", "get", "amount_cents", "threshold_cents", "multiplier", "gtins",
                        "category"]) | st.text(max_size=8)


@settings(max_examples=300, deadline=None)
@example(offers=[Offer("A", "points_multiplier", "x", {"multiplier": 10**400}),
                 Offer("B", "amount_off_basket", "y", {"amount_cents": 10**400}),
                 Offer("C", "percent_off", "z", {"percent": 10**400})])
@given(
    offers=st.lists(
        st.builds(Offer, id=st.sampled_from(["A", "B", "C", "D"]), kind=st.sampled_from([*KINDS, "bogus"]),
                  name=st.text(max_size=10), params=st.dictionaries(KEYS, JSON, max_size=6) | JSON,
                  stackable=st.booleans(), priority=st.integers(-5, 5)),
        max_size=5,
    ),
)
def test_arbitrary_params_never_make_evaluate_raise(offers: list[Offer]):
    pricing = evaluate(LINES, offers, CustomerContext("C1", "Gold"), NOW)
    assert 0 <= pricing.total_cents <= pricing.subtotal_cents
