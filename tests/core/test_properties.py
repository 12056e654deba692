"""Properties that must hold for any basket, any offers and any sequence of sales (hypothesis)."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge.core.basket import Basket
from edge.core.catalog import Product
from edge.core.loyalty import (
    Balance,
    LoyaltyRules,
    check_redemption,
    points_value_cents,
    redemption_limit,
    settle,
)
from edge.core.offers import BasketLine, CustomerContext, Offer, evaluate
from edge.db import open_database
from edge.demo.seed import demo_gtin, seed_demo
from edge.store.repository import Repository
from edge.store.sales import SaleError, SalesService

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
DB_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- strategies --------------------------------------------------------------------------------------------

CATEGORIES = ["Dairy", "Snacks", "Bakery"]
PRODUCTS = [
    Product(f"0871000000{n:03d}0", f"Product {n}", price, 900, CATEGORIES[n % 3])
    for n, price in enumerate([0, 1, 99, 120, 199, 249, 350, 1000, 1299, 4999])
]
CUSTOMERS = [
    CustomerContext("C1", "Bronze", date(1990, 3, 1)),
    CustomerContext("C2", "Gold", date(1985, 8, 9)),
    CustomerContext("C3", "Silver", None),
]


@st.composite
def baskets(draw: st.DrawFn) -> list[BasketLine]:
    items = draw(st.lists(st.tuples(st.sampled_from(PRODUCTS), st.integers(1, 7)), min_size=1, max_size=6))
    return [BasketLine(n, p, q) for n, (p, q) in enumerate(items, start=1)]


@st.composite
def offer_lists(draw: st.DrawFn) -> list[Offer]:
    ids = draw(st.lists(st.sampled_from([f"O{i}" for i in range(12)]), unique=True, max_size=7))
    offers = []
    for offer_id in ids:
        kind = draw(st.sampled_from(["percent_off", "buy_x_get_y", "amount_off_basket", "points_multiplier"]))
        target = draw(
            st.one_of(
                st.just({}),
                st.fixed_dictionaries({"category": st.sampled_from(CATEGORIES)}),
                st.fixed_dictionaries({"gtins": st.lists(st.sampled_from([p.gtin for p in PRODUCTS]), max_size=3)}),
            )
        )
        if kind == "percent_off":
            params = {**target, "percent": draw(st.sampled_from([1, 5, 10, 12.5, 33.33, 50, 99, 100]))}
        elif kind == "buy_x_get_y":
            params = {**target, "buy": draw(st.integers(1, 3)), "get": draw(st.integers(1, 2))}
        elif kind == "amount_off_basket":
            params = {"amount_cents": draw(st.integers(1, 20_000)), "threshold_cents": draw(st.integers(0, 10_000))}
        else:
            params = {**target, "multiplier": draw(st.sampled_from([1.5, 2, 3, 0.5]))}
        window = draw(st.sampled_from([(None, None), (NOW - timedelta(hours=1), NOW + timedelta(hours=1)),
                                       (NOW + timedelta(minutes=1), None), (None, NOW)]))  # fmt: skip
        offers.append(
            Offer(
                offer_id,
                kind,
                f"Offer {offer_id}",
                params,
                priority=draw(st.integers(0, 3)),
                stackable=draw(st.booleans()),
                tiers=draw(st.sampled_from([(), ("Gold",), ("Bronze", "Silver")])),
                customer_id=draw(st.sampled_from([None, None, "C1"])),
                requires_coupon=draw(st.booleans()),
                birthday_month=draw(st.booleans()),
                valid_from=window[0],
                valid_until=window[1],
                active=draw(st.booleans()) or draw(st.booleans()),
            )
        )
    return offers


customers = st.one_of(st.none(), st.sampled_from(CUSTOMERS))
coupon_sets = st.lists(st.sampled_from([f"O{i}" for i in range(12)]), max_size=4)

# -- discounts ---------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(baskets(), offer_lists(), customers, coupon_sets)
def test_a_discount_never_exceeds_its_line_and_the_total_never_goes_negative(
    lines: list[BasketLine], offers: list[Offer], customer: CustomerContext | None, coupons: list[str]
) -> None:
    p = evaluate(lines, offers, customer, NOW, coupons)
    for pl in p.lines:
        assert 0 <= pl.discount_cents <= pl.line.gross_cents
        line_level = sum(d.amount_cents for d in p.discounts if d.line_no == pl.line.line_no)
        assert line_level <= pl.discount_cents  # the rest is its share of basket discounts
    assert 0 <= p.total_cents <= p.subtotal_cents
    # the discounts listed on the receipt add up to the discount taken off the lines
    assert sum(d.amount_cents for d in p.discounts) == p.discount_cents
    for d in p.discounts:
        assert d.amount_cents > 0
        assert d.reason.strip() and "\n" not in d.reason


@settings(max_examples=100, deadline=None)
@given(baskets(), offer_lists(), customers, coupon_sets, st.randoms(use_true_random=False))
def test_evaluation_is_order_independent_and_deterministic(
    lines: list[BasketLine], offers: list[Offer], customer: CustomerContext | None, coupons: list[str],
    rnd: random.Random,
) -> None:  # fmt: skip
    first = evaluate(lines, offers, customer, NOW, coupons)
    assert evaluate(lines, offers, customer, NOW, coupons) == first
    shuffled_lines, shuffled_offers, shuffled_coupons = list(lines), list(offers), list(coupons)
    rnd.shuffle(shuffled_lines)
    rnd.shuffle(shuffled_offers)
    rnd.shuffle(shuffled_coupons)
    assert evaluate(shuffled_lines, shuffled_offers, customer, NOW, shuffled_coupons) == first
    assert evaluate(tuple(reversed(lines)), list(reversed(offers)), customer, NOW, iter(coupons)) == first


@settings(max_examples=100, deadline=None)
@given(baskets(), offer_lists(), st.sampled_from(CUSTOMERS), st.integers(0, 50_000))
def test_settlement_never_pays_more_than_due_and_earns_on_what_is_paid(
    lines: list[BasketLine], offers: list[Offer], customer: CustomerContext, points: int
) -> None:
    rules = LoyaltyRules(tier_multipliers={"Gold": 2.0}, category_multipliers={"Bakery": 1.5})
    s = settle(evaluate(lines, offers, customer, NOW), points, rules, customer.tier)
    assert 0 <= s.points_value_cents <= s.pricing.total_cents
    assert s.amount_due_cents >= 0
    assert sum(ln.paid_cents for ln in s.lines) == s.amount_due_cents
    for ln in s.lines:
        assert ln.paid_cents >= 0 and ln.points >= 0
        assert 0 <= ln.vat_cents <= ln.paid_cents
        # at most 1 x 1.5 x 2 x 3 points per euro actually paid
        assert ln.points <= ln.paid_cents * 9 // 100


# -- redemption never overdraws ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-1_000, 20_000),
    st.integers(0, 20_000),
    st.integers(0, 20_000),
    st.integers(0, 100_000),
    st.booleans(),
    st.integers(0, 5_000),
    st.integers(-10, 30_000),
    st.sampled_from([0.5, 1.0, 2.0, 0.01]),
    st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)
def test_redemption_limit_never_allows_more_than_available(
    confirmed: int, earn: int, burn: int, payable: int, online: bool, burned_today: int, points: int,
    value: float, share: float,
) -> None:  # fmt: skip
    rules = LoyaltyRules(point_value_cents=value, max_redeem_share=share, min_redeem_points=100,
                         offline_burn_cap_points=2_000)  # fmt: skip
    balance = Balance(confirmed, earn, burn)
    limit = redemption_limit(balance, payable, rules, hub_online=online, offline_burned_today=burned_today)
    assert 0 <= limit.max_points <= max(balance.available, 0)
    assert points_value_cents(limit.max_points, rules) <= payable * share
    if not online:
        assert limit.max_points <= max(2_000 - burned_today, 0)
    if check_redemption(points, limit, rules) is None and points:
        assert 100 <= points <= balance.available
        assert balance.available - points >= 0
        assert points_value_cents(points, rules) <= payable


# -- the ledger, through the real SalesService and a real SQLite file --------------------------------------


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store.db"
    db = open_database(path)
    seed_demo(db, now=NOW)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path


def copy_of(template: Path, tmp_path_factory: pytest.TempPathFactory) -> sqlite_utils.Database:
    target = tmp_path_factory.mktemp("example") / "store.db"
    shutil.copy(template, target)
    return open_database(target)


sale_plans = st.lists(
    st.tuples(
        st.sampled_from(["C1001", "C1002", "C1003", None]),  # None: a guest
        st.lists(st.tuples(st.integers(0, 209), st.integers(1, 4)), min_size=1, max_size=4),
        st.sampled_from([0, 0, 50, 100, 150, 400, 1_000, 3_000, 100_000]),
        st.booleans(),  # hub online
    ),
    min_size=1,
    max_size=8,
)


@DB_SETTINGS
@given(plan=sale_plans)
def test_ledger_sums_equal_balances(
    plan: list[tuple[str | None, list[tuple[int, int]], int, bool]],
    seeded_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    db = copy_of(seeded_template, tmp_path_factory)
    try:
        repo = Repository(db)
        service = SalesService(db, LoyaltyRules())
        products = [p for p in (repo.product(demo_gtin(n)) for n in range(1, 211)) if p is not None]
        assert len(products) == 210
        confirmed = {cid: repo.balance(cid).confirmed for cid in ("C1001", "C1002", "C1003")}
        refused = 0
        for customer_id, items, points, online in plan:
            basket = Basket()
            if customer_id:
                customer = repo.customer(customer_id)
                assert customer is not None
                basket.customer = customer.context
                basket.points_to_redeem = points
            for index, qty in items:
                basket.add(products[index], qty)
            before = repo.balance(customer_id).available if customer_id else 0
            try:
                sale = service.complete(basket, repo.offers_for(customer_id), payment_method="card",
                                        hub_online=online, now=NOW)  # fmt: skip
            except SaleError:
                refused += 1
                assert customer_id and points > 0  # only a redemption can be refused here
                assert repo.balance(customer_id).available == before
                continue
            if customer_id:
                assert sale.new_balance == before - sale.points_redeemed + sale.points_earned
                assert sale.new_balance is not None and sale.new_balance >= 0
            else:
                assert sale.points_earned == 0 and sale.new_balance is None

        for cid, base in confirmed.items():
            earn, burn = db.execute(
                "SELECT coalesce(sum(CASE WHEN kind='earn' THEN points END), 0),"
                " coalesce(sum(CASE WHEN kind='burn' THEN points END), 0) FROM ledger WHERE customer_id = ?",
                [cid],
            ).fetchone()
            sold_earn, sold_burn = db.execute(
                "SELECT coalesce(sum(points_earned), 0), coalesce(sum(points_redeemed), 0) FROM sales"
                " WHERE customer_id = ?",
                [cid],
            ).fetchone()
            balance = repo.balance(cid)
            assert (balance.confirmed, balance.pending_earn, balance.pending_burn) == (base, earn, burn)
            assert balance.available == base + earn - burn >= 0
            assert (sold_earn, sold_burn) == (earn, burn)
        guest_rows = db.execute(
            "SELECT count(*) FROM ledger l JOIN sales s ON s.id = l.sale_id WHERE s.customer_id IS NULL"
        ).fetchone()[0]
        assert guest_rows == 0
        assert db.execute("SELECT count(*) FROM sales").fetchone()[0] == len(plan) - refused
    finally:
        db.conn.close()


@DB_SETTINGS
@given(
    start=st.integers(0, 600),
    attempts=st.lists(st.tuples(st.integers(0, 2_000), st.booleans()), min_size=1, max_size=6),
)
@example(start=150, attempts=[(200, True), (100, False), (5_000, True)])  # refused, allowed, refused
def test_sales_service_refuses_to_overdraw_a_balance(
    start: int, attempts: list[tuple[int, bool]], seeded_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = copy_of(seeded_template, tmp_path_factory)
    try:
        db.execute("UPDATE customers SET confirmed_points = ? WHERE id = 'C1002'", [start])
        repo = Repository(db)
        service = SalesService(db, LoyaltyRules(min_redeem_points=1, max_redeem_share=1.0))
        customer = repo.customer("C1002")
        assert customer is not None
        # an expensive product with no offers, so the basket share never limits the redemption
        expensive = max((p for p in repo.search_products("Family Size", limit=200) if p.category == "Household"),
                        key=lambda p: p.price_cents)  # fmt: skip
        for points, online in attempts:
            basket = Basket(customer=customer.context, points_to_redeem=points)
            basket.add(expensive, 5)
            available = repo.balance("C1002").available
            allowed = min(available, expensive.price_cents * 5)
            if not online:
                allowed = min(allowed, 2_000 - repo.offline_burned_today("C1002", NOW))
            try:
                service.complete(basket, [], payment_method="card", hub_online=online, now=NOW)
            except SaleError as exc:
                assert points > allowed, str(exc)
                assert repo.balance("C1002").available == available  # nothing was written
            else:
                assert points <= allowed
            assert repo.balance("C1002").available >= 0
    finally:
        db.conn.close()
