"""Guest receipts claimed later (issue 15 item 5): a sale taken while the till could not ask the hub who the
member was carries a claim code (``edge.core.claims``); the member claims its points once, at any till (the
``receipt.claimed`` event) or through the API (``POST /v1/members/{id}/claims``).

The code is registered when its ``sale.completed`` arrives (``register``, from ``ingest``). ``claim`` checks, in
order: the check symbol, that the hub holds the sale, that it was not claimed before, that it is within the
claim period (``claim_valid_days`` hub config, default ``edge.core.claims.DEFAULT_CLAIM_DAYS``, counted from
when the hub received the sale, by the hub's clock), that the sale had no member; then it computes the points
from the sale as the hub holds it (``edge.core.claims.claim_points``; the claimer's figure is never asked for),
posts them through ``ledger.post_points`` (reason "claimed receipt", source ``claim:<sale id>``, entry id
``claim-<sale id>``, so twice is once), adds the sale to the member's spend and history, and tells the member's
stores. The ``receipt_claims`` row is locked while this happens, so two claims at once give one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from edge.core.claims import (
    CLAIM_REASON,
    DEFAULT_CLAIM_DAYS,
    claim_code_valid,
    claim_points,
    normalise_claim_code,
)
from sync.hub import admin, members, orders
from sync.hub.common import HubError
from sync.hub.db import insert
from sync.hub.ledger import post_points
from sync.hub.tables import customers, receipt_claims, sales


@dataclass(frozen=True)
class Claimed:
    """A claim applied: the sale, the member, the points added (0 for a sale that earns none)."""

    sale_id: str
    customer_id: str
    points: int


def register(conn: Connection, *, code: str, sale_id: str, store_id: str, device_id: str, at: str) -> None:
    """Remember a receipt's claim code (its ``sale.completed`` arrived); a code or sale seen before is kept."""
    conn.execute(insert(conn, receipt_claims).values(
        code=normalise_claim_code(code), sale_id=sale_id, store_id=store_id, device_id=device_id, issued_at=at)
        .on_conflict_do_nothing())


def valid_days(conn: Connection) -> int:
    """How many days a receipt can be claimed (``hub set-config claim_valid_days N``)."""
    raw = admin.get_config(conn, "claim_valid_days")
    try:
        return max(1, int(raw)) if raw is not None else DEFAULT_CLAIM_DAYS
    except ValueError:
        return DEFAULT_CLAIM_DAYS


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _refuse(code: str, message: str, status: int) -> HubError:
    return HubError(code, message, status)


def _check(conn: Connection, row: Any, now: datetime) -> None:
    if row.claimed_at is not None:
        raise _refuse("already_claimed", f"this receipt's points were already claimed on {row.claimed_at[:10]}; "
                      "a receipt is claimed once", 409)
    days = valid_days(conn)
    expires = _when(row.issued_at) + timedelta(days=days)
    if now > expires:
        raise _refuse("claim_expired", f"this claim code expired on {expires.date().isoformat()}: receipts can be "
                      f"claimed for {days} days", 410)
    owner = conn.execute(select(sales.c.customer_id).where(sales.c.sale_id == row.sale_id)).first()
    if owner is None:
        raise _refuse("unknown_claim_code", "the hub has not received this receipt's sale yet; try again later", 404)
    if owner[0] is not None:
        raise _refuse("sale_had_member", "this sale already earned points for a member; it cannot be claimed", 409)


def claim(conn: Connection, *, code: str, customer_id: str, channel: str, now: datetime | None = None) -> Claimed:
    """Apply one claim of ``code`` for ``customer_id`` (``channel``: ``till:<device>`` or ``api``) in the
    caller's write transaction. Raises ``HubError`` with a sentence: ``bad_claim_code`` 422 (typing error),
    ``unknown_claim_code`` 404, ``already_claimed`` 409, ``claim_expired`` 410, ``sale_had_member`` 409,
    ``unknown_customer`` 422."""
    now = now or datetime.now(UTC)
    if not claim_code_valid(code):
        raise _refuse("bad_claim_code", "this claim code has a typing error: check it against the receipt", 422)
    members.require(conn, customer_id)
    row = conn.execute(select(receipt_claims).where(receipt_claims.c.code == normalise_claim_code(code))
                       .with_for_update()).first()
    if row is None:
        raise _refuse("unknown_claim_code", "no receipt with this claim code has reached the hub; check the code, "
                      "or try again later if the store was offline", 404)
    _check(conn, row, now)
    sale = conn.execute(select(sales.c.payload, sales.c.total_cents, sales.c.store_id)
                        .where(sales.c.sale_id == row.sale_id)).one()
    tier = conn.execute(select(customers.c.tier).where(customers.c.id == customer_id)).scalar()
    lines = json.loads(sale.payload).get("lines", [])
    # the same rules a web order earns by: the programme's tier multipliers over the hub's earning rules
    points = claim_points(lines if isinstance(lines, list) else [], orders.loyalty_rules(conn), tier)
    at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    post_points(conn, customer_id=customer_id, points=points, reason=CLAIM_REASON, source=f"claim:{row.sale_id}",
                entry_id=f"claim-{row.sale_id}", at=at, store_id=sale.store_id, sale_id=row.sale_id)
    conn.execute(update(receipt_claims).where(receipt_claims.c.code == row.code).values(
        claimed_at=at, customer_id=customer_id, points=points, channel=channel))
    # the sale is now the member's: it counts in their spend and history like any of their sales
    conn.execute(update(sales).where(sales.c.sale_id == row.sale_id).values(customer_id=customer_id))
    conn.execute(update(customers).where(customers.c.id == customer_id).values(
        spend_12m_cents=customers.c.spend_12m_cents + int(sale.total_cents)))
    members.customer_changed(conn, customer_id)
    return Claimed(row.sale_id, customer_id, points)
