"""Queries the till needs: products, customers with their balance, offers and coupons."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import sqlite_utils

from edge.core.catalog import InvalidGtin, Product, normalize_gtin
from edge.core.contacts import contact_hash, looks_like_email, looks_like_phone
from edge.core.contract import EventType
from edge.core.i18n import ENGLISH, Translator
from edge.core.loyalty import Balance
from edge.core.offers import Offer
from edge.core.programme import PointsSummary, iso
from edge.store.records import Customer, customer_from_row, offer_from_row, product_from_row


class Repository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def _rows(self, sql: str, params: list[object] | tuple[object, ...] = ()) -> list[dict]:
        cursor = self.db.execute(sql, list(params))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # products -------------------------------------------------------------------------------------------
    def product(self, gtin: str) -> Product | None:
        try:
            key = normalize_gtin(gtin)
        except InvalidGtin:
            return None
        rows = self._rows("SELECT * FROM products WHERE gtin = ?", [key])
        return product_from_row(rows[0]) if rows else None

    def product_by_reference(self, item_reference: str) -> Product | None:
        """Weighed/priced in-store items, by the item reference on their scale label."""
        rows = self._rows("SELECT * FROM products WHERE item_reference = ? ORDER BY gtin LIMIT 1", [item_reference])
        return product_from_row(rows[0]) if rows else None

    def token_keys(self, now: datetime | None = None) -> dict[str, bytes]:
        """kid -> raw Ed25519 public key, for keys not past their end date at ``now`` (default: the device clock)."""
        at = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
        keys = {}
        for row in self._rows("SELECT * FROM token_keys WHERE not_after IS NULL OR not_after > ?", [at]):
            try:
                keys[row["kid"]] = base64.b64decode(row["public_key"])
            except (ValueError, TypeError):
                continue  # a damaged key refuses its tokens; it must not stop the till
        return keys

    def search_products(self, text: str, limit: int = 20) -> list[Product]:
        words = [w for w in text.split() if w]
        if not words:
            return []
        where = " AND ".join("name LIKE ? ESCAPE '\\'" for _ in words)
        like = ["%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in words]
        rows = self._rows(f"SELECT * FROM products WHERE {where} ORDER BY name LIMIT ?", [*like, limit])
        return [product_from_row(r) for r in rows]

    def product_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM products").fetchone()[0])

    # customers ------------------------------------------------------------------------------------------
    def balance(self, customer_id: str, *, pending_days: int = 0, now: datetime | None = None) -> Balance:
        """Confirmed + this till's unconfirmed entries. ``pending_days`` (the programme's pending period):
        the points the hub holds in their pending period at ``now``, and this till's unconfirmed earns younger
        than it, are ``locked``."""
        now = now or datetime.now(UTC)
        row = self.db.execute("SELECT confirmed_points, points_summary FROM customers WHERE id = ?",
                              [customer_id]).fetchone()
        since = iso(now - timedelta(days=pending_days))
        earn, burn, young = self.db.execute(
            """SELECT coalesce(sum(CASE WHEN kind = 'earn' THEN points END), 0),
                      coalesce(sum(CASE WHEN kind = 'burn' THEN points END), 0),
                      coalesce(sum(CASE WHEN kind = 'earn' AND created_at > ? THEN points END), 0)
               FROM ledger l LEFT JOIN ledger_confirmations c ON c.entry_id = l.entry_id
               WHERE l.customer_id = ? AND c.entry_id IS NULL""",
            [since, customer_id],
        ).fetchone()
        if row is None:
            return Balance(0, earn, burn)
        locked = PointsSummary.from_doc(json.loads(row[1] or "{}")).locked_at(now) + (young if pending_days else 0)
        return Balance(row[0], earn, burn, locked)

    def customer_points(self, customer_id: str) -> tuple[PointsSummary, int, int]:
        """(the hub's points summary, this till's unconfirmed earns, unconfirmed burns) of the customer."""
        rows = self._rows("SELECT points_summary FROM customers WHERE id = ?", [customer_id])
        summary = PointsSummary.from_doc(json.loads(rows[0]["points_summary"] or "{}")) if rows else PointsSummary()
        b = self.balance(customer_id)
        return summary, b.pending_earn, b.pending_burn

    def customer(self, customer_id: str) -> Customer | None:
        rows = self._rows("SELECT * FROM customers WHERE id = ?", [customer_id])
        return customer_from_row(rows[0], self.balance(customer_id)) if rows else None

    def find_customer(self, text: str, region: str = "") -> Customer | None:
        """Card number, customer id, phone number or e-mail address, as a cashier would type it.

        A phone number is read in ``region`` (the store's country, ISO 3166) unless it carries its own code.
        """
        text = text.strip()
        if not text:
            return None
        rows = self._rows("SELECT id FROM customers WHERE card_number = ? OR id = ?", [text, text])
        if not rows and looks_like_email(text):
            rows = self._rows("SELECT id FROM customers WHERE email_hash = ?", [contact_hash("email", text)])
        if not rows and looks_like_phone(text, region):
            rows = self._rows("SELECT id FROM customers WHERE phone_hash = ?", [contact_hash("phone", text, region)])
        return self.customer(rows[0]["id"]) if rows else None

    def sale_customer(self, sale_id: str) -> str | None:
        """The customer id a recorded sale was for (None: a guest sale, or no such sale)."""
        row = self.db.execute("SELECT customer_id FROM sales WHERE id = ?", [sale_id]).fetchone()
        return row[0] if row else None

    def unsynced_spend(self, customer_id: str) -> int:
        """What the customer spent at this till that the hub has not confirmed yet (its spend lags by that).
        A damaged outbox payload (not JSON) is skipped: it must not stop the till (sync.outbox buries it)."""
        row = self.db.execute(
            """SELECT coalesce(sum(s.total_cents), 0) FROM sales s JOIN outbox o
               ON o.type = ? AND json_valid(o.payload) AND json_extract(o.payload, '$.id') = s.id
               WHERE s.customer_id = ? AND o.state IN ('pending', 'in_flight')""",
            [EventType.SALE_COMPLETED, customer_id],
        ).fetchone()
        return int(row[0])

    def offline_burned_today(self, customer_id: str, now: datetime | None = None) -> int:
        day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
        row = self.db.execute(
            """SELECT coalesce(sum(points), 0) FROM ledger
               WHERE customer_id = ? AND kind = 'burn' AND offline = 1 AND substr(created_at, 1, 10) = ?""",
            [customer_id, day],
        ).fetchone()
        return int(row[0])

    # offers and coupons ---------------------------------------------------------------------------------
    def offers_for(self, customer_id: str | None, now: datetime | None = None) -> list[Offer]:
        """Store-wide offers plus this customer's personal ones (the engine checks the rest), without offers
        whose usage limits are reached as far as this till knows (``limit_reached``)."""
        rows = self._rows(
            "SELECT * FROM offers WHERE active = 1 AND (customer_id IS NULL OR customer_id = ?) ORDER BY id",
            [customer_id],
        )
        return [offer_from_row(r) for r in rows if not self.limit_reached(r, customer_id, now)]

    def limit_reached(self, offer_row: dict, customer_id: str | None, now: datetime | None = None) -> bool:
        """Whether the offer's usage limits (``edge.core.contract.offer_limits_problem``) are used up: its total
        budget (the hub's ``used_total`` plus this till's sales using it not yet sent), or, for a member, their
        uses in ``period_days`` (the hub's count in the profile plus this till's unsent sales). What the till
        cannot know (another till's unsent sales) the hub reports."""
        limits = json.loads(offer_row.get("limits") or "{}")
        if not limits:
            return False
        unsent = """SELECT count(DISTINCT d.sale_id) FROM sale_discounts d JOIN sales s ON s.id = d.sale_id
                    JOIN outbox o ON o.type = ? AND json_valid(o.payload) AND json_extract(o.payload, '$.id') = s.id
                    WHERE d.offer_id = ? AND o.state IN ('pending', 'in_flight')"""
        args: list[object] = [EventType.SALE_COMPLETED, offer_row["id"]]
        if "total" in limits:
            used = int(limits.get("used_total") or 0) + int(self.db.execute(unsent, args).fetchone()[0])
            if used >= int(limits["total"]):
                return True
        if "per_customer" in limits and customer_id is not None:
            since = (now or datetime.now(UTC)) - timedelta(days=int(limits["period_days"]))
            row = self.db.execute("SELECT offer_uses FROM customers WHERE id = ?", [customer_id]).fetchone()
            hub_uses = json.loads(row[0]).get(offer_row["id"], 0) if row and row[0] else 0
            mine = self.db.execute(unsent + " AND s.customer_id = ? AND s.created_at >= ?",
                                   [*args, customer_id, since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")]).fetchone()[0]
            return int(hub_uses) + int(mine) >= int(limits["per_customer"])
        return False

    def personal_offers(self, customer_id: str, now: datetime) -> list[Offer]:
        live = []
        for offer in self.offers_for(customer_id):
            if offer.customer_id == customer_id and (offer.valid_until is None or offer.valid_until > now):
                live.append(offer)
        return live

    def coupon(self, code: str) -> dict | None:
        rows = self._rows("SELECT * FROM coupons WHERE code = ?", [code.strip().upper()])
        return rows[0] if rows else None

    def coupons_for(self, customer_id: str) -> list[dict]:
        return self._rows(
            "SELECT c.*, o.name AS offer_name FROM coupons c JOIN offers o ON o.id = c.offer_id "
            "WHERE c.customer_id = ? AND c.redeemed_at IS NULL ORDER BY c.code",
            [customer_id],
        )

    def check_coupon(self, code: str, customer_id: str | None,
                     tr: Translator = ENGLISH) -> tuple[dict | None, str | None]:  # fmt: skip
        """(coupon, None) when usable, else (None, a sentence for the cashier in ``tr``'s language)."""
        coupon = self.coupon(code)
        if coupon is None:
            return None, tr._("coupon {code} is not known in this store").format(code=code)
        if coupon["redeemed_at"] and coupon["single_use"]:
            return None, tr._("coupon {code} was already used on {date}").format(code=code,
                                                                                date=coupon["redeemed_at"][:10])
        if coupon["customer_id"] and coupon["customer_id"] != customer_id:
            return None, tr._("coupon {code} belongs to another customer; scan their card first").format(code=code)
        return coupon, None
