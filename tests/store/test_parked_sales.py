"""Parked sales in the store database: kept as rung up, listed oldest first, recalled once, and a damaged
row said in words (and left in place)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.core.basket import Basket
from edge.core.catalog import Product
from edge.db import open_database
from edge.settings import Settings
from edge.store.parked import ParkedSaleError, park, parked_count, parked_sales, recall
from tests.support.demo import FIXED_NOW

WEIGHED = Product("02012340012345", "Cheese by weight", 1234, 900, "Dairy", "kg")  # price from its scale label
WATER = Product("08710000000918", "Sparkling Water 1.5L", 89, 2100, "Beverages")


def _basket() -> Basket:
    basket = Basket()
    basket.add(WEIGHED)
    basket.add(WATER, 3)
    basket.coupons["SAVE3-ALPHA"] = "OFF-COUPON3"
    return basket


def test_a_parked_basket_comes_back_exactly_as_rung_up(demo_settings: Settings) -> None:
    db = open_database(demo_settings.database_path)
    row = park(db, _basket(), label="Guest", total_cents=1501, now=FIXED_NOW)
    assert (row.items, row.total_cents, row.customer_id) == (4, 1501, None)
    db.close()

    db = open_database(demo_settings.database_path)  # a restart
    assert [p.id for p in parked_sales(db)] == [row.id] and parked_count(db) == 1
    back = recall(db, row.id)
    assert back.products == [(WEIGHED, 1), (WATER, 3)]  # the weighed item's label price, not a lookup
    assert back.coupons == {"SAVE3-ALPHA": "OFF-COUPON3"} and back.customer_id is None
    assert parked_count(db) == 0
    with pytest.raises(ParkedSaleError, match="no longer there"):
        recall(db, row.id)  # recalled once


def test_parked_sales_are_listed_oldest_first(demo_settings: Settings) -> None:
    db = open_database(demo_settings.database_path)
    later = park(db, _basket(), label="Later", total_cents=1, now=FIXED_NOW + timedelta(minutes=5))
    first = park(db, _basket(), label="First", total_cents=2, now=FIXED_NOW)
    assert [p.label for p in parked_sales(db)] == ["First", "Later"]
    assert {first.id, later.id} == {p.id for p in parked_sales(db)}


def test_a_damaged_parked_row_is_said_and_kept(demo_settings: Settings) -> None:
    db = open_database(demo_settings.database_path)
    row = park(db, _basket(), label="Guest", total_cents=1, now=FIXED_NOW)
    db.execute("UPDATE parked_sales SET basket = ? WHERE id = ?", ['{"v": 1, "lines": [{"gtin": 1}]}', row.id])
    db.conn.commit()
    with pytest.raises(ParkedSaleError, match="cannot be read"):
        recall(db, row.id)
    assert parked_count(db) == 1  # nothing is lost: a technician can still look at it


def test_points_to_redeem_are_checked_again_when_the_parked_sale_comes_back(demo_settings: Settings) -> None:
    """The member spent their points elsewhere while the sale was parked (a web order; the pull lowered the
    confirmed balance): the recalled sale does not keep redeeming them, and the cashier is told why."""
    from edge.demo.seed import demo_card, demo_gtin
    from edge.session import TillSession

    session = TillSession(demo_settings, open_database(demo_settings.database_path), clock=lambda: FIXED_NOW)
    session.scan(demo_card(1))  # Bram, 1,500 points
    session.add_gtin(demo_gtin(1), 10)
    assert session.redeem(150).ok
    assert session.park().ok
    session.db.execute("UPDATE customers SET confirmed_points = 96 WHERE id = 'C1001'")
    session.db.conn.commit()

    [parked] = session.parked()
    back = session.recall(parked.id)

    assert not back.ok and "150 points were to be redeemed, not kept" in back.message, back.message
    assert session.basket.points_to_redeem == 0 and len(session.basket.lines) == 1
