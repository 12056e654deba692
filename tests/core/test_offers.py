"""The offers engine: every offer kind, eligibility, stacking and priority, and the reasons it prints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from edge.core.catalog import Product
from edge.core.offers import BasketLine, CustomerContext, Offer, Pricing, evaluate, is_eligible

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

MILK = Product("08710000000017", "Whole Milk 1L", 120, 900, "Dairy")
BUTTER = Product("08710000000024", "Butter 250g", 299, 900, "Dairy")
BREAD = Product("08710000000031", "Sourdough Loaf", 350, 900, "Bakery")
CRISPS = Product("08710000000048", "Salted Crisps 200g", 199, 900, "Snacks")
CHOC = Product("08710000000055", "Dark Chocolate 100g", 249, 900, "Snacks")
SHAMPOO = Product("08710000000062", "Shampoo 250ml", 1000, 2100, "Personal Care")
COFFEE = Product("08710000000079", "Ground Coffee 250g", 599, 2100, "Beverages")

ANNA = CustomerContext("C1", "Bronze", date(1990, 3, 2))  # birthday in March, like NOW
GOLDIE = CustomerContext("C2", "Gold", date(1980, 7, 20))


def lines(*items: tuple[Product, int]) -> list[BasketLine]:
    return [BasketLine(n, product, qty) for n, (product, qty) in enumerate(items, start=1)]


def price(
    basket: list[BasketLine],
    offers: list[Offer],
    customer: CustomerContext | None = None,
    now: datetime = NOW,
    coupons: tuple[str, ...] = (),
) -> Pricing:
    return evaluate(basket, offers, customer, now, coupons)


def line_discount(p: Pricing, line_no: int) -> int:
    return next(pl.discount_cents for pl in p.lines if pl.line.line_no == line_no)


def assert_reasons_are_one_line(p: Pricing) -> None:
    for d in p.discounts:
        assert d.reason.strip(), d
        assert "\n" not in d.reason, d
    for r in p.multiplier_reasons:
        assert r.strip() and "\n" not in r


# -- each kind ---------------------------------------------------------------------------------------------


def test_percent_off_an_item() -> None:
    offer = Offer("O1", "percent_off", "Milk deal", {"percent": 20, "gtins": [MILK.gtin]})
    p = price(lines((MILK, 3), (BUTTER, 1)), [offer])
    assert line_discount(p, 1) == 72  # 20 % of 3.60
    assert line_discount(p, 2) == 0
    assert p.total_cents == 360 + 299 - 72
    [d] = p.discounts
    assert (d.offer_id, d.line_no, d.amount_cents) == ("O1", 1, 72)
    assert d.reason == "Milk deal: 20% off Whole Milk 1L"


def test_percent_off_a_category_rounds_half_up_per_line() -> None:
    offer = Offer("O1", "percent_off", "Dairy week", {"percent": 10, "category": "Dairy"})
    p = price(lines((MILK, 1), (BUTTER, 1), (BREAD, 1)), [offer])
    assert [line_discount(p, n) for n in (1, 2, 3)] == [12, 30, 0]  # 12.0 and 29.9 -> 30
    assert {d.reason for d in p.discounts} == {"Dairy week: 10% off Whole Milk 1L", "Dairy week: 10% off Butter 250g"}


def test_amount_off_basket_over_threshold_only() -> None:
    offer = Offer("B5", "amount_off_basket", "Big shop", {"amount_cents": 500, "threshold_cents": 5000})
    under = price(lines((SHAMPOO, 4), (COFFEE, 1)), [offer])  # 45.99
    assert under.discounts == () and under.total_cents == 4599
    at = price(lines((SHAMPOO, 5)), [offer])  # exactly 50.00 qualifies
    assert at.total_cents == 4500
    [d] = at.discounts
    assert d.line_no is None and d.amount_cents == 500
    assert d.reason == "Big shop: €5.00 off on a basket over €50.00"


def test_amount_off_basket_is_spread_over_lines_by_what_they_cost() -> None:
    offer = Offer("B5", "amount_off_basket", "Big shop", {"amount_cents": 500, "threshold_cents": 0})
    p = price(lines((SHAMPOO, 3), (BREAD, 1), (MILK, 1)), [offer])  # 3000, 350, 120
    parts = [line_discount(p, n) for n in (1, 2, 3)]
    assert sum(parts) == 500
    assert parts == [432, 51, 17]  # 432.28, 50.43, 17.29: the largest remainder (line 2) gets the odd cent
    assert p.discounts[0].reason == "Big shop: €5.00 off"


def test_basket_threshold_is_checked_after_line_discounts() -> None:
    line_offer = Offer("L", "percent_off", "Shampoo sale", {"percent": 10, "gtins": [SHAMPOO.gtin]})
    basket = Offer("B", "amount_off_basket", "Big shop", {"amount_cents": 500, "threshold_cents": 5000})
    p = price(lines((SHAMPOO, 5)), [line_offer, basket])  # 50.00 - 5.00 = 45.00 < 50.00
    assert p.offer_ids == ("L",)
    assert p.total_cents == 4500


def test_buy_x_get_y_makes_the_cheapest_units_free() -> None:
    offer = Offer("X", "buy_x_get_y", "Snacks 3 for 2", {"buy": 2, "get": 1, "category": "Snacks"})
    # units, dearest first: 249, 249, 199 | 199, 199, 199 -> 199 free in each group
    p = price(lines((CHOC, 2), (CRISPS, 4)), [offer])
    assert line_discount(p, 1) == 0
    assert line_discount(p, 2) == 398
    [d] = p.discounts
    assert d.reason == "Snacks 3 for 2: buy 2 get 1 free (Salted Crisps 200g)"


def test_buy_x_get_y_needs_a_complete_group() -> None:
    offer = Offer("X", "buy_x_get_y", "Snacks 3 for 2", {"buy": 2, "get": 1, "category": "Snacks"})
    assert price(lines((CRISPS, 2)), [offer]).discounts == ()
    assert line_discount(price(lines((CRISPS, 3)), [offer]), 1) == 199
    assert line_discount(price(lines((CRISPS, 5)), [offer]), 1) == 199  # 3 + 2: one free


def test_points_multiplier_takes_nothing_off_and_sets_the_line_multiplier() -> None:
    double = Offer("M2", "points_multiplier", "Double points on bakery", {"multiplier": 2, "category": "Bakery"})
    triple = Offer("M3", "points_multiplier", "Triple points loaf", {"multiplier": 3, "gtins": [BREAD.gtin]})
    p = price(lines((BREAD, 1), (MILK, 1)), [double, triple], ANNA)
    assert p.discounts == () and p.total_cents == 470
    by_line = {pl.line.line_no: pl.points_multiplier for pl in p.lines}
    assert by_line == {1: Fraction(3), 2: Fraction(1)}  # the largest, never 2 x 3
    assert p.multiplier_reasons == ("Triple points loaf: 3x points",)


def test_points_multiplier_accepts_decimal_multipliers_exactly() -> None:
    offer = Offer("M", "points_multiplier", "Bonus", {"multiplier": 1.5})
    p = price(lines((MILK, 1)), [offer])
    assert p.lines[0].points_multiplier == Fraction(3, 2)
    assert p.multiplier_reasons == ("Bonus: 1.5x points",)


def test_tier_exclusive_offer() -> None:
    offer = Offer("G", "percent_off", "Gold members", {"percent": 15, "category": "Personal Care"}, tiers=("Gold",))
    basket = lines((SHAMPOO, 1))
    assert price(basket, [offer], GOLDIE).total_cents == 850
    assert price(basket, [offer], ANNA).total_cents == 1000  # Bronze
    assert price(basket, [offer], None).total_cents == 1000  # guest


def test_a_birthday_month_offer_never_applies_the_gift_is_a_single_use_coupon() -> None:
    """Issue 15: a birthday-month offer gave its discount on every sale of the month. An older hub may still
    send one; the engine never applies it (the hub issues a single-use personal coupon instead)."""
    offer = Offer("BD", "amount_off_basket", "Happy birthday", {"amount_cents": 500}, birthday_month=True)
    basket = lines((SHAMPOO, 1))
    assert price(basket, [offer], ANNA).total_cents == 1000  # March birthday, March now: still nothing
    assert not is_eligible(offer, ANNA, NOW)
    assert price(basket, [offer], None).total_cents == 1000
    july = datetime(2025, 7, 1, tzinfo=UTC)
    assert price(basket, [offer], GOLDIE, now=july).total_cents == 1000  # July birthday, July: nothing either


def test_coupon_required_offer_applies_only_with_its_coupon() -> None:
    offer = Offer("CPN", "amount_off_basket", "Coupon", {"amount_cents": 300, "threshold_cents": 1500},
                  requires_coupon=True)  # fmt: skip
    basket = lines((SHAMPOO, 2))
    assert price(basket, [offer], ANNA).total_cents == 2000
    assert price(basket, [offer], ANNA, coupons=("OTHER",)).total_cents == 2000
    assert price(basket, [offer], ANNA, coupons=("CPN",)).total_cents == 1700
    assert price(basket, [offer], None, coupons=("CPN",)).total_cents == 1700  # a guest may bring a coupon


def test_personal_offer_is_valid_for_60_minutes_then_expires() -> None:
    issued = NOW
    offer = Offer("P", "percent_off", "Welcome back", {"percent": 25, "category": "Beverages"},
                  customer_id="C1", valid_from=issued, valid_until=issued + timedelta(minutes=60))  # fmt: skip
    basket = lines((COFFEE, 4))  # 23.96
    assert price(basket, [offer], ANNA, now=issued).total_cents == 1797
    assert price(basket, [offer], ANNA, now=issued + timedelta(minutes=59, seconds=59)).total_cents == 1797
    assert price(basket, [offer], ANNA, now=issued + timedelta(minutes=60)).total_cents == 2396  # expired
    assert price(basket, [offer], ANNA, now=issued - timedelta(seconds=1)).total_cents == 2396  # not yet
    assert price(basket, [offer], GOLDIE, now=issued).total_cents == 2396  # someone else's
    assert price(basket, [offer], None, now=issued).total_cents == 2396


def test_inactive_and_unknown_kind_offers_never_apply() -> None:
    inactive = Offer("I", "percent_off", "Old", {"percent": 50}, active=False)
    unknown = Offer("U", "free_lunch", "Unknown", {"percent": 50})
    assert price(lines((MILK, 1)), [inactive, unknown], ANNA).total_cents == 120


@pytest.mark.parametrize("params", [{"percent": 0}, {"percent": 150}, {"percent": -5}, {}])
def test_percent_outside_0_to_100_is_ignored(params: dict) -> None:
    assert price(lines((MILK, 1)), [Offer("O", "percent_off", "Broken", params)]).discounts == ()


def test_guests_get_only_unconditional_offers() -> None:
    offers = [
        Offer("ALL", "percent_off", "Everyone", {"percent": 5}),
        Offer("T", "percent_off", "Tier", {"percent": 50}, tiers=("Bronze",), stackable=True),
        Offer("P", "percent_off", "Personal", {"percent": 50}, customer_id="C1", stackable=True),
        Offer("B", "percent_off", "Birthday", {"percent": 50}, birthday_month=True, stackable=True),
    ]
    assert price(lines((SHAMPOO, 1)), offers, None).offer_ids == ("ALL",)
    assert not is_eligible(offers[1], None, NOW)
    assert is_eligible(offers[0], None, NOW)


# -- stacking and priority --------------------------------------------------------------------------------


def test_a_line_takes_the_single_largest_non_stackable_offer() -> None:
    dairy = Offer("DAIRY10", "percent_off", "Dairy week", {"percent": 10, "category": "Dairy"}, priority=9)
    milk = Offer("MILK20", "percent_off", "Milk deal", {"percent": 20, "gtins": [MILK.gtin]})
    p = price(lines((MILK, 1), (BUTTER, 1)), [dairy, milk])
    assert line_discount(p, 1) == 24  # the larger wins despite the lower priority
    assert [(d.offer_id, d.line_no) for d in p.discounts] == [("MILK20", 1), ("DAIRY10", 2)]


def test_equal_amounts_go_to_higher_priority_then_smaller_id() -> None:
    a = Offer("A", "percent_off", "A", {"percent": 10})
    b = Offer("B", "percent_off", "B", {"percent": 10}, priority=1)
    c = Offer("C", "percent_off", "C", {"percent": 10}, priority=1)
    assert price(lines((MILK, 1)), [a, b, c]).offer_ids == ("B",)
    assert price(lines((MILK, 1)), [c, a]).offer_ids == ("C",)  # priority first
    assert price(lines((MILK, 1)), [c, b]).offer_ids == ("B",)  # same priority: the smaller id


def test_stackable_line_offers_add_up_until_the_line_is_free() -> None:
    base = Offer("BASE", "percent_off", "Sale", {"percent": 60})
    extra1 = Offer("S1", "percent_off", "Extra", {"percent": 30}, stackable=True, priority=2)
    extra2 = Offer("S2", "percent_off", "More", {"percent": 30}, stackable=True, priority=1)
    p = price(lines((SHAMPOO, 1)), [extra2, base, extra1])
    # 600 + 300, then S2 is capped at the 100 left
    assert [(d.offer_id, d.amount_cents) for d in p.discounts] == [("BASE", 600), ("S1", 300), ("S2", 100)]
    assert p.total_cents == 0


def test_only_the_best_non_stackable_basket_offer_applies_plus_every_stackable_one() -> None:
    five = Offer("B5", "amount_off_basket", "Big shop", {"amount_cents": 500, "threshold_cents": 1000})
    three = Offer("B3", "amount_off_basket", "Small shop", {"amount_cents": 300}, priority=99)
    birthday = Offer("BD", "amount_off_basket", "Happy birthday", {"amount_cents": 200}, customer_id="C1",
                     stackable=True)  # fmt: skip
    p = price(lines((SHAMPOO, 2)), [three, birthday, five], ANNA)
    assert p.offer_ids == ("B5", "BD")
    assert p.total_cents == 2000 - 700


def test_basket_discounts_never_make_the_total_negative() -> None:
    big = Offer("BIG", "amount_off_basket", "Huge", {"amount_cents": 10_000})
    more = Offer("MORE", "amount_off_basket", "More", {"amount_cents": 10_000}, stackable=True)
    p = price(lines((MILK, 1), (BREAD, 2)), [big, more])
    assert p.total_cents == 0
    assert [(d.offer_id, d.amount_cents) for d in p.discounts] == [("BIG", 820)]  # MORE has nothing left to take
    assert all(pl.net_cents == 0 for pl in p.lines)


def test_line_and_basket_offers_combine() -> None:
    offers = [
        Offer("DAIRY10", "percent_off", "Dairy week", {"percent": 10, "category": "Dairy"}),
        Offer("SNACKS", "buy_x_get_y", "Snacks 3 for 2", {"buy": 2, "get": 1, "category": "Snacks"}),
        Offer("B5", "amount_off_basket", "Big shop", {"amount_cents": 500, "threshold_cents": 2000}),
        Offer("M2", "points_multiplier", "Double bakery", {"multiplier": 2, "category": "Bakery"}),
    ]
    p = price(lines((MILK, 2), (CRISPS, 3), (SHAMPOO, 2), (BREAD, 1)), offers, ANNA)
    assert p.subtotal_cents == 240 + 597 + 2000 + 350
    assert line_discount(p, 1) >= 24 and line_discount(p, 2) >= 199
    assert p.discount_cents == 24 + 199 + 500
    assert p.total_cents == p.subtotal_cents - 723
    assert p.offer_ids == ("B5", "DAIRY10", "SNACKS")
    # discounts list: line discounts by line, then the basket discount
    assert [d.line_no for d in p.discounts] == [1, 2, None]
    assert_reasons_are_one_line(p)


def test_every_discount_of_every_kind_has_a_one_line_reason() -> None:
    offers = [
        Offer("P", "percent_off", "Dairy week", {"percent": 10, "category": "Dairy"}),
        Offer("X", "buy_x_get_y", "3 for 2", {"buy": 2, "get": 1, "category": "Snacks"}),
        Offer("S", "percent_off", "Extra", {"percent": 5}, stackable=True),
        Offer("B", "amount_off_basket", "Big shop", {"amount_cents": 100, "threshold_cents": 500}),
        Offer("BD", "amount_off_basket", "Birthday", {"amount_cents": 100}, customer_id="C1", stackable=True),
        Offer("M", "points_multiplier", "Double", {"multiplier": 2}),
    ]
    p = price(lines((MILK, 2), (CRISPS, 3), (SHAMPOO, 1)), offers, ANNA)
    assert {d.offer_id for d in p.discounts} == {"P", "X", "S", "B", "BD"}
    assert_reasons_are_one_line(p)
    for d in p.discounts:
        assert d.amount_cents > 0
