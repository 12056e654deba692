"""Earning, redemption limits and tiers (edge/core/loyalty.py, edge/core/tiers.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.core.basket import Basket
from edge.core.catalog import Product
from edge.core.loyalty import (
    Balance,
    LoyaltyRules,
    RedemptionLimit,
    balance_from_ledger,
    check_redemption,
    points_value_cents,
    redemption_limit,
    settle,
)
from edge.core.offers import BasketLine, CustomerContext, Offer, evaluate
from edge.core.tiers import next_tier, tier_for_spend
from edge.settings import LoyaltySettings

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
BREAD = Product("08710000000031", "Sourdough Loaf", 1000, 900, "Bakery")
SHAMPOO = Product("08710000000062", "Shampoo 250ml", 1000, 2100, "Personal Care")
MILK = Product("08710000000017", "Whole Milk 1L", 199, 900, "Dairy")

RULES = LoyaltyRules(
    points_per_unit=1.0,
    category_multipliers={"Bakery": 1.5},
    tier_multipliers={"Silver": 1.25, "Gold": 2.0},
    point_value_cents=1.0,
    min_redeem_points=100,
    max_redeem_share=0.5,
    offline_burn_cap_points=2_000,
)


def priced(*items: tuple[Product, int], offers: tuple[Offer, ...] = (), tier: str = "Bronze"):
    basket = [BasketLine(n, p, q) for n, (p, q) in enumerate(items, start=1)]
    return evaluate(basket, offers, CustomerContext("C1", tier), NOW)


# -- earning -----------------------------------------------------------------------------------------------


def test_points_are_rounded_once_per_order_not_per_line() -> None:
    s = settle(priced((MILK, 1), (MILK, 1)), 0, LoyaltyRules(), "Bronze")  # same product, two lines
    assert s.points_earned == 3  # 1.99 + 1.99 = 3.98 -> 3, not 1 + 1 per line
    assert [ln.points for ln in s.lines] == [2, 1]  # 1.99 each: the tie goes to the earlier line


def test_ten_lines_at_1_49_earn_14_for_bronze_and_18_for_silver() -> None:
    # the reference systems (ERPNext, Odoo) round once per order: 14.90 -> 14, 14.90 x 1.25 = 18.625 -> 18
    cheap = Product("08710000000079", "Chewing Gum", 149, 900, "Sweets")
    rules = LoyaltyRules(points_per_unit=1.0, tier_multipliers={"Silver": 1.25})
    bronze = settle(priced(*[(cheap, 1)] * 10, tier="Bronze"), 0, rules, "Bronze")
    assert bronze.points_earned == 14
    assert [ln.points for ln in bronze.lines] == [2] * 4 + [1] * 6  # equal remainders: earlier lines first
    silver = settle(priced(*[(cheap, 1)] * 10, tier="Silver"), 0, rules, "Silver")
    assert silver.points_earned == 18
    assert [ln.points for ln in silver.lines] == [2] * 8 + [1] * 2


@pytest.mark.parametrize(("currency", "price_minor", "points"), [
    ("EUR", 7_44, 7),  # 7.44 euros: 100 minor units per euro
    ("COP", 7_440_00, 7_440),  # 7,440.00 pesos: ISO 4217 gives COP 2 decimals, kept as 744,000 minor units
    ("CLP", 7_440, 7_440),  # 7,440 pesos: CLP has no minor unit, 1 minor unit = 1 peso - not 74 points
    ("JPY", 744, 744),
    ("KWD", 7_440, 7),  # 7.440 dinars: 1,000 fils each
])  # fmt: skip
def test_points_per_unit_count_whole_units_of_the_store_s_currency(currency: str, price_minor: int,
                                                                   points: int) -> None:  # fmt: skip
    """``points_per_unit`` is per unit of the currency, its minor units by ISO 4217 - never a fixed 100."""
    item = Product("08710000000093", "Item", price_minor, 900, "Grocery")
    s = settle(priced((item, 1)), 0, LoyaltyRules(points_per_unit=1.0), "Bronze", currency)
    assert s.points_earned == points


def test_a_chilean_till_s_basket_earns_by_the_peso_through_its_formats() -> None:
    from edge.core.l10n import formats

    basket = Basket(customer=CustomerContext("C1", "Bronze"))
    basket.add(Product("08710000000093", "Pan", 2_500, 1_900, "Bakery"))  # 2,500 pesos
    chile = basket.settle([], NOW, LoyaltyRules(points_per_unit=0.01), formats("es_CL", "CLP", "America/Santiago"))
    assert chile.points_earned == 25  # 1 point per 100 pesos: the rate a Chilean store configures


def test_a_line_s_points_are_the_floor_or_ceiling_of_its_exact_points() -> None:
    # 3.98 x 1.5 (Bakery) x 1.25 (Silver) = 7.4625 and 1.99 x 1.25 = 2.4875: 9.95 -> 9, 7 + 2
    bun = Product("08710000000086", "Bun", 398, 900, "Bakery")
    s = settle(priced((bun, 1), (MILK, 1), tier="Silver"), 0, RULES, "Silver")
    assert s.points_earned == 9
    assert [ln.points for ln in s.lines] == [7, 2]


def test_category_tier_and_promo_multipliers_multiply() -> None:
    promo = Offer("M", "points_multiplier", "Double bakery", {"multiplier": 2, "category": "Bakery"})
    p = priced((BREAD, 1), (SHAMPOO, 1), offers=(promo,), tier="Gold")
    s = settle(p, 0, RULES, "Gold")
    by_line = {ln.line_no: ln.points for ln in s.lines}
    assert by_line[1] == 10 * 1.5 * 2 * 2  # 10 euro x category 1.5 x Gold 2 x promo 2 = 60
    assert by_line[2] == 10 * 2  # Personal Care has no category multiplier
    assert s.points_earned == 80


def test_fractional_multipliers_are_exact_then_floored() -> None:
    # 10.00 x 1.5 (Bakery) x 1.25 (Silver) = 18.75 -> 18; float arithmetic must not make it 18.749.. or 18.76
    s = settle(priced((BREAD, 1), tier="Silver"), 0, RULES, "Silver")
    assert s.points_earned == 18
    rules = LoyaltyRules(points_per_unit=0.1, tier_multipliers={"Silver": 3})
    # 10.00 x 0.1 x 3 = 3 exactly (0.1 * 3 in floats is 0.30000000000000004, in Fractions exactly 0.3)
    assert settle(priced((SHAMPOO, 1)), 0, rules, "Silver").points_earned == 3


def test_points_are_earned_on_what_is_paid_after_discounts() -> None:
    half = Offer("H", "percent_off", "Half price", {"percent": 50})
    s = settle(priced((SHAMPOO, 1), offers=(half,)), 0, LoyaltyRules(), "Bronze")
    assert s.points_earned == 5


def test_points_are_not_earned_on_the_part_paid_with_points() -> None:
    p = priced((SHAMPOO, 1), (BREAD, 1))  # 20.00
    s = settle(p, 500, LoyaltyRules(), "Bronze")  # 5.00 paid with points, spread 2.50 / 2.50
    assert s.points_value_cents == 500
    assert [ln.paid_cents for ln in s.lines] == [750, 750]
    assert s.points_earned == 15  # 7.50 + 7.50 rounded once per order; the half goes to the earlier line
    assert [ln.points for ln in s.lines] == [8, 7]
    assert s.amount_due_cents == 1500


def test_vat_is_computed_on_what_the_line_costs_after_points() -> None:
    s = settle(priced((SHAMPOO, 1)), 0, LoyaltyRules(), "Bronze")
    assert s.vat_cents == 174  # 10.00 incl. 21 %
    s = settle(priced((SHAMPOO, 1)), 500, LoyaltyRules(), "Bronze")
    assert s.vat_cents == 87  # 5.00 incl. 21 % = 86.78


def test_guests_earn_nothing() -> None:
    s = settle(priced((SHAMPOO, 3)), 0, RULES, None)
    assert s.points_earned == 0
    assert s.amount_due_cents == 3000


def test_a_guest_basket_redeems_nothing_even_if_points_were_typed() -> None:
    basket = Basket()
    basket.add(SHAMPOO, 2)
    basket.points_to_redeem = 500
    s = basket.settle([], NOW, RULES)
    assert s.points_redeemed == 0 and s.points_value_cents == 0 and s.points_earned == 0
    assert s.amount_due_cents == 2000


def test_point_value_is_rounded_down_to_the_cent() -> None:
    rules = LoyaltyRules(point_value_cents=0.3)
    assert points_value_cents(101, rules) == 30  # 30.3
    assert points_value_cents(103, rules) == 30  # 30.9: down, not to nearest
    assert points_value_cents(100, LoyaltyRules(point_value_cents=1.0)) == 100


# -- redemption limits -------------------------------------------------------------------------------------


def test_redemption_minimum() -> None:
    limit = redemption_limit(Balance(5000), 10_000, RULES, hub_online=True)
    assert check_redemption(99, limit, RULES) == "redeem at least 100 points"
    assert check_redemption(100, limit, RULES) is None
    assert check_redemption(0, limit, RULES) is None  # not redeeming is always fine
    assert check_redemption(-5, limit, RULES) == "points to redeem cannot be negative"


def test_redemption_is_capped_at_the_maximum_share_of_the_basket() -> None:
    limit = redemption_limit(Balance(5000), 1999, RULES, hub_online=True)
    assert limit.max_points == 999  # half of 19.99 is 9.995 -> 9.99 -> 999 points
    assert limit.reason == "at most 50% of the basket may be paid with points"
    assert check_redemption(999, limit, RULES) is None
    message = check_redemption(1000, limit, RULES)
    assert message == "at most 999 points can be redeemed now (at most 50% of the basket may be paid with points)"


def test_redemption_share_respects_the_point_value() -> None:
    rules = LoyaltyRules(point_value_cents=0.5, min_redeem_points=1)
    limit = redemption_limit(Balance(100_000), 1000, rules, hub_online=True)  # 5.00 may be paid with points
    assert limit.max_points == 1000
    assert points_value_cents(limit.max_points, rules) <= 500


def test_redemption_never_exceeds_the_available_balance() -> None:
    balance = Balance(confirmed=300, pending_earn=50, pending_burn=100)
    assert balance.available == 250
    limit = redemption_limit(balance, 100_000, RULES, hub_online=True)
    assert limit == RedemptionLimit(250, "the customer's available points")
    assert check_redemption(251, limit, RULES) is not None


def test_a_negative_balance_allows_nothing() -> None:
    limit = redemption_limit(Balance(50, 0, 200), 100_000, RULES, hub_online=True)
    assert limit.max_points == 0
    assert limit.reason == "at least 100 points are needed; the customer's available points: 0"
    assert check_redemption(100, limit, RULES) is not None


def test_below_the_minimum_the_limit_is_zero_with_the_reason() -> None:
    limit = redemption_limit(Balance(99), 100_000, RULES, hub_online=True)
    assert limit.max_points == 0
    assert "at least 100 points are needed" in limit.reason


def test_offline_cap_per_customer_per_day() -> None:
    balance = Balance(10_000)
    online = redemption_limit(balance, 100_000, RULES, hub_online=True, offline_burned_today=1_900)
    assert online.max_points == 10_000  # the cap applies only while the hub is unreachable
    offline = redemption_limit(balance, 100_000, RULES, hub_online=False, offline_burned_today=0)
    assert offline == RedemptionLimit(2_000, "offline limit of 2000 points per customer per day")
    offline = redemption_limit(balance, 100_000, RULES, hub_online=False, offline_burned_today=1_500)
    assert offline.max_points == 500
    spent = redemption_limit(balance, 100_000, RULES, hub_online=False, offline_burned_today=1_950)
    assert spent.max_points == 0  # 50 left is under the 100 minimum
    assert check_redemption(100, spent, RULES) is not None
    over = redemption_limit(balance, 100_000, RULES, hub_online=False, offline_burned_today=5_000)
    assert over.max_points == 0


def test_points_cannot_be_redeemed_when_they_are_worth_nothing() -> None:
    rules = LoyaltyRules(point_value_cents=0)
    limit = redemption_limit(Balance(10_000), 100_000, rules, hub_online=True)
    assert limit == RedemptionLimit(0, "points cannot be redeemed in this store")


def test_balance_from_pending_ledger_entries() -> None:
    b = balance_from_ledger(1000, [("earn", 30), ("burn", 200), ("earn", 5)])
    assert (b.confirmed, b.pending_earn, b.pending_burn, b.available, b.pending) == (1000, 35, 200, 835, -165)


# -- tiers -------------------------------------------------------------------------------------------------

THRESHOLDS = {"Bronze": 0, "Silver": 50_000, "Gold": 150_000}


@pytest.mark.parametrize(
    ("spend", "tier"),
    [(0, "Bronze"), (49_999, "Bronze"), (50_000, "Silver"), (149_999, "Silver"), (150_000, "Gold"), (10**9, "Gold")],
)
def test_tier_from_rolling_spend(spend: int, tier: str) -> None:
    assert tier_for_spend(spend, THRESHOLDS) == tier


def test_tier_thresholds_need_not_be_in_order() -> None:
    assert tier_for_spend(60_000, {"Gold": 150_000, "Bronze": 0, "Silver": 50_000}) == "Silver"


def test_next_tier() -> None:
    assert next_tier(0, THRESHOLDS) == ("Silver", 50_000)
    assert next_tier(49_000, THRESHOLDS) == ("Silver", 1_000)
    assert next_tier(50_000, THRESHOLDS) == ("Gold", 100_000)
    assert next_tier(150_000, THRESHOLDS) is None


def test_rules_from_the_loyalty_settings() -> None:
    settings = LoyaltySettings(points_per_unit=2.0, category_multipliers={"Bakery": 2.0}, max_redeem_share=0.25)
    rules = LoyaltyRules.from_settings(settings)
    assert rules.points_per_unit == 2.0 and rules.category_multipliers == {"Bakery": 2.0}
    assert rules.max_redeem_share == 0.25
    assert rules.tier_multipliers == {"Bronze": 1.0, "Silver": 1.25, "Gold": 1.5}
    assert (rules.min_redeem_points, rules.offline_burn_cap_points) == (100, 2_000)
    assert tier_for_spend(60_000, settings.tier_thresholds_cents) == "Silver"
