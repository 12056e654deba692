"""Parked (held) sales: a basket set aside and recalled later, on this till, across restarts.

A parked basket is kept exactly as it was rung up: each line's product as scanned (name, price, VAT rate,
category, unit - a weighed item's price came from its scale label and cannot be looked up again), its
quantity, the coupons, the points to redeem and the customer's id. Nothing is sold and nothing reaches the
outbox until the recalled basket is paid. Recall removes the row in the same transaction that reads it, so a
parked sale is recalled once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from edge.core.basket import Basket
from edge.core.catalog import Product
from edge.core.i18n import N_, Text
from edge.db.connection import immediate
from sync.ids import uuid7


class ParkedSaleError(Exception):
    """The parked sale is gone (recalled elsewhere) or its stored basket cannot be read; said for the cashier."""


@dataclass(frozen=True)
class ParkedSale:
    """One row of the parked list: ``total_cents`` is the amount due when it was parked (integer cents)."""

    id: str
    parked_at: datetime
    customer_id: str | None
    label: str  # the customer's name or "Guest"
    items: int  # the sum of the quantities
    total_cents: int


@dataclass(frozen=True)
class RecalledBasket:
    """What recall hands back: the lines to ring up again and who the sale was for."""

    products: list[tuple[Product, int]]  # (product as rung up, quantity), in line order
    customer_id: str | None
    coupons: dict[str, str]  # code -> offer id
    points_to_redeem: int
    # rewards already claimed for a member during the sale (their points are spent): (customer id, name, points),
    # so that the recalled sale's receipt still names them
    rewards: tuple[tuple[str, str, int], ...] = ()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def basket_to_json(basket: Basket, rewards: Sequence[tuple[str, str, int]] = ()) -> str:
    """The basket as stored in ``parked_sales.basket`` (JSON, version 1; ``rewards`` claimed during the sale as
    ``[customer id, name, points]``, absent in rows parked before they were kept)."""
    lines = [
        {"gtin": ln.product.gtin, "name": ln.product.name, "price_cents": ln.product.price_cents,
         "vat_rate_bp": ln.product.vat_rate_bp, "category": ln.product.category, "unit": ln.product.unit,
         "qty": ln.qty}
        for ln in basket.lines
    ]  # fmt: skip
    return json.dumps({"v": 1, "lines": lines, "coupons": dict(basket.coupons), "points": basket.points_to_redeem,
                       "rewards": [list(r) for r in rewards]})


def basket_from_json(text: str, customer_id: str | None) -> RecalledBasket:
    """Raises ParkedSaleError when the stored basket is not what :func:`basket_to_json` writes."""
    try:
        data: Any = json.loads(text)
        products = [
            (Product(str(x["gtin"]), str(x["name"]), int(x["price_cents"]), int(x["vat_rate_bp"]),
                     str(x["category"]), str(x.get("unit") or "each")), int(x["qty"]))
            for x in data["lines"]
        ]  # fmt: skip
        coupons = {str(k): str(v) for k, v in dict(data.get("coupons") or {}).items()}
        points = int(data.get("points") or 0)
        rewards = tuple((str(cid), str(name), int(pts)) for cid, name, pts in data.get("rewards") or ())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParkedSaleError(Text(N_("the parked basket cannot be read ({problem}); it was left in the database"),
                                   problem=str(exc))) from None
    return RecalledBasket(products, customer_id, coupons, points, rewards)


def park(
    db: sqlite_utils.Database, basket: Basket, *, label: str, total_cents: int, now: datetime | None = None,
    rewards: Sequence[tuple[str, str, int]] = (),
) -> ParkedSale:
    """Store ``basket`` (not empty) and the ``rewards`` claimed during the sale (customer id, name, points)
    and return its row; the caller then starts a new sale."""
    now = now or datetime.now(UTC)
    customer_id = basket.customer.id if basket.customer else None
    row = ParkedSale(uuid7(), now, customer_id, label, sum(ln.qty for ln in basket.lines), total_cents)
    with immediate(db):
        db.execute(
            "INSERT INTO parked_sales (id, parked_at, customer_id, label, items, total_cents, basket) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row.id, _iso(now), customer_id, label, row.items, total_cents, basket_to_json(basket, rewards)],
        )
    return row


def parked_sales(db: sqlite_utils.Database) -> list[ParkedSale]:
    """Every parked sale, oldest first."""
    rows = db.execute(
        "SELECT id, parked_at, customer_id, label, items, total_cents FROM parked_sales ORDER BY parked_at, id"
    ).fetchall()
    return [
        ParkedSale(r[0], datetime.fromisoformat(r[1].replace("Z", "+00:00")), r[2], r[3], int(r[4]), int(r[5]))
        for r in rows
    ]


def parked_count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM parked_sales").fetchone()[0])


def recall(db: sqlite_utils.Database, parked_id: str) -> RecalledBasket:
    """Take the parked sale out of the list and return its basket. Raises ParkedSaleError."""
    with immediate(db):
        row = db.execute("SELECT basket, customer_id FROM parked_sales WHERE id = ?", [parked_id]).fetchone()
        if row is None:
            raise ParkedSaleError(Text(N_("that parked sale is no longer there (recalled already?)")))
        recalled = basket_from_json(row[0], row[1])
        db.execute("DELETE FROM parked_sales WHERE id = ?", [parked_id])
    return recalled
