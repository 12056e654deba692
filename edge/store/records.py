"""Row <-> domain conversions shared by the repositories."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from edge.core.catalog import Product
from edge.core.loyalty import Balance
from edge.core.offers import CustomerContext, Offer
from edge.core.programme import PointsSummary


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    # times without a zone are UTC (the hub and the migrations write UTC); comparing naive with aware fails
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def product_from_row(row: dict[str, Any]) -> Product:
    return Product(
        row["gtin"], row["name"], row["price_cents"], row["vat_rate_bp"], row["category"], row.get("unit") or "each"
    )


def offer_from_row(row: dict[str, Any]) -> Offer:
    return Offer(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        params=json.loads(row["params"]),
        priority=row["priority"],
        stackable=bool(row["stackable"]),
        tiers=tuple(json.loads(row["tiers"])),
        customer_id=row["customer_id"],
        requires_coupon=bool(row["requires_coupon"]),
        birthday_month=bool(row["birthday_month"]),
        valid_from=parse_time(row["valid_from"]),
        valid_until=parse_time(row["valid_until"]),
        source=row["source"],
        active=bool(row["active"]),
    )


@dataclass(frozen=True)
class Customer:
    id: str
    display_name: str
    tier: str
    card_number: str | None
    balance: Balance
    spend_12m_cents: int = 0
    consents: dict[str, Any] = field(default_factory=dict)
    birthday: date | None = None
    preferences: dict[str, Any] = field(default_factory=dict)
    recent_purchases: list[dict[str, Any]] = field(default_factory=list)
    pickup_orders: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[dict[str, Any]] = field(default_factory=list)
    points: PointsSummary = field(default_factory=PointsSummary)  # the hub's earned/spent/expiry facts

    @property
    def context(self) -> CustomerContext:
        return CustomerContext(self.id, self.tier, self.birthday)


def customer_from_row(row: dict[str, Any], balance: Balance) -> Customer:
    return Customer(
        id=row["id"],
        display_name=row["display_name"],
        tier=row["tier"],
        card_number=row["card_number"],
        balance=balance,
        spend_12m_cents=row["spend_12m_cents"],
        consents=json.loads(row["consents"]),
        birthday=date.fromisoformat(row["birthday"]) if row["birthday"] else None,
        preferences=json.loads(row["preferences"]),
        recent_purchases=json.loads(row["recent_purchases"]),
        pickup_orders=json.loads(row["pickup_orders"]),
        rewards=json.loads(row["rewards"]),
        points=PointsSummary.from_doc(json.loads(row.get("points_summary") or "{}")),
    )
