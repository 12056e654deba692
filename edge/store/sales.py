"""Completing a sale: one transaction writes the sale, its lines and discounts, its ledger entries, the
coupon redemptions and one outbox event per change. A crash at any point leaves the whole sale or none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from edge.core.basket import Basket
from edge.core.contract import PAYMENT_METHODS, EventType, ledger_event
from edge.core.l10n import Formats
from edge.core.loyalty import Balance, LoyaltyRules, check_redemption, redemption_limit
from edge.core.money import cash_round
from edge.core.offers import Offer
from edge.core.receipt import ReceiptInfo, render_receipt
from edge.db.connection import immediate
from edge.store.repository import Repository
from sync.ids import uuid7
from sync.outbox import enqueue

FaultHook = Callable[[str], None]


class SaleError(Exception):
    """The sale was not recorded (nothing was written); the message says why, for the cashier."""


@dataclass(frozen=True)
class CompletedSale:
    sale_id: str
    receipt: str
    total_cents: int
    points_earned: int
    points_redeemed: int
    new_balance: int | None
    pending_points: int | None
    outbox_events: int


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SalesService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        rules: LoyaltyRules,
        *,
        store_name: str = "Demo Store",
        currency: str = "EUR",
        receipt_width: int = 40,
        fault: FaultHook | None = None,
        formats: Formats | None = None,
    ) -> None:
        self.db = db
        self.repo = Repository(db)
        self.rules = rules
        self.store_name = store_name
        self.currency = currency
        # the store's language, money and time zone; a member's receipt is in the member's language
        self.formats = formats or Formats(currency=currency)
        self.receipt_width = receipt_width
        self._fault = fault or (lambda _point: None)

    def complete(
        self,
        basket: Basket,
        offers: list[Offer],
        *,
        payment_method: str,
        tendered_cents: int | None = None,
        hub_online: bool = False,
        now: datetime | None = None,
    ) -> CompletedSale:
        if basket.is_empty:
            raise SaleError("the basket is empty: scan a product first")
        if payment_method not in PAYMENT_METHODS:
            raise SaleError(f"unknown payment method {payment_method!r}")
        now = now or datetime.now(UTC)
        settlement = basket.settle(offers, now, self.rules, self.formats)
        cash_due = cash_round(settlement.amount_due_cents, self.formats.currency)
        if tendered_cents is not None and payment_method == "cash" and tendered_cents < cash_due:
            raise SaleError("the cash tendered is less than the amount due")
        customer = basket.customer
        sale_id = uuid7()
        created = _iso(now)
        events = 0
        with immediate(self.db):
            # the balance and the coupons are re-read inside the transaction: the screen may be stale
            balance_before = self.repo.balance(customer.id) if customer else None
            self._check_coupons(basket)
            if customer and settlement.points_redeemed:
                assert balance_before is not None
                limit = redemption_limit(
                    balance_before,
                    settlement.pricing.total_cents,
                    self.rules,
                    hub_online=hub_online,
                    offline_burned_today=self.repo.offline_burned_today(customer.id, now),
                )
                problem = check_redemption(settlement.points_redeemed, limit, self.rules)
                if problem:
                    raise SaleError(problem)
            lines = sorted(settlement.pricing.lines, key=lambda p: p.line.line_no)
            # the sale.completed payload is built from the rows as they are written, not read back (a sale
            # is on the till's critical path); keys are the column names, as a SELECT * would give them
            sale_payload: dict = {
                "id": sale_id, "customer_id": customer.id if customer else None, "created_at": created,
                "subtotal_cents": settlement.pricing.subtotal_cents, "discount_cents": settlement.pricing.discount_cents,
                "points_redeemed": settlement.points_redeemed, "points_value_cents": settlement.points_value_cents,
                "total_cents": settlement.amount_due_cents, "vat_cents": settlement.vat_cents,
                "payment_method": payment_method, "tendered_cents": tendered_cents,
                "points_earned": settlement.points_earned,
            }  # fmt: skip
            burned = settlement.points_redeemed if customer else 0
            earned = settlement.points_earned if customer else 0
            balance = (
                Balance(balance_before.confirmed, balance_before.pending_earn + earned,
                        balance_before.pending_burn + burned)
                if balance_before is not None else None
            )  # fmt: skip
            # the member reads the receipt in the profile's language: the same sale, its reasons worded for them
            reader = self.formats.with_language(self._customer_language(customer.id) if customer else None)
            worded = settlement if reader is self.formats else basket.settle(offers, now, self.rules, reader)
            receipt = render_receipt(worded, ReceiptInfo(
                store_name=self.store_name, sale_id=sale_id, when=now, payment_method=payment_method,
                tendered_cents=tendered_cents, currency=self.currency,
                formats=reader,
                customer_name=self._customer_name(customer.id) if customer else None,
                new_balance=balance.available if balance else None,
                pending_points=balance.pending if balance else None,
            ), self.receipt_width)  # fmt: skip
            self.db.execute(
                """INSERT INTO sales (id, customer_id, created_at, subtotal_cents, discount_cents, points_redeemed,
                   points_value_cents, total_cents, vat_cents, payment_method, tendered_cents, points_earned, receipt)
                   VALUES (:id, :customer_id, :created_at, :subtotal_cents, :discount_cents, :points_redeemed,
                   :points_value_cents, :total_cents, :vat_cents, :payment_method, :tendered_cents, :points_earned,
                   :receipt)""",
                {**sale_payload, "receipt": receipt},
            )
            self._fault("after_sale_row")
            sale_payload["lines"] = [
                {"line_no": p.line.line_no, "gtin": p.line.product.gtin, "name": p.line.product.name,
                 "category": p.line.product.category, "qty": p.line.qty, "unit_price_cents": p.line.product.price_cents,
                 "gross_cents": p.line.gross_cents, "discount_cents": p.discount_cents,
                 "vat_rate_bp": p.line.product.vat_rate_bp}
                for p in lines
            ]  # fmt: skip
            self.db.conn.executemany(
                """INSERT INTO sale_lines (sale_id, line_no, gtin, name, category, qty, unit_price_cents,
                   gross_cents, discount_cents, vat_rate_bp) VALUES (:sale_id, :line_no, :gtin, :name, :category,
                   :qty, :unit_price_cents, :gross_cents, :discount_cents, :vat_rate_bp)""",
                [{"sale_id": sale_id, **row} for row in sale_payload["lines"]],
            )
            sale_payload["discounts"] = [
                {"n": n, "line_no": d.line_no, "offer_id": d.offer_id, "amount_cents": d.amount_cents,
                 "reason": d.reason}
                for n, d in enumerate(settlement.pricing.discounts)
            ]  # fmt: skip
            self.db.conn.executemany(
                """INSERT INTO sale_discounts (sale_id, n, line_no, offer_id, amount_cents, reason)
                   VALUES (:sale_id, :n, :line_no, :offer_id, :amount_cents, :reason)""",
                [{"sale_id": sale_id, **row} for row in sale_payload["discounts"]],
            )
            self._fault("after_lines")
            for code in sorted(basket.coupons):
                cur = self.db.execute(
                    """UPDATE coupons SET redeemed_at = ?, redeemed_sale_id = ?
                       WHERE code = ? AND (redeemed_at IS NULL OR single_use = 0)""",
                    [created, sale_id, code],
                )
                if cur.rowcount != 1:
                    raise SaleError(f"coupon {code} was already used; remove it and try again")
                enqueue(self.db, EventType.COUPON_REDEEMED, {"code": code, "sale_id": sale_id,
                                                     "customer_id": customer.id if customer else None})  # fmt: skip
                events += 1
            ledger_entries = []
            if customer and settlement.points_redeemed:
                ledger_entries.append(("burn", settlement.points_redeemed, f"redeemed at {self.store_name}"))
            if customer and settlement.points_earned:
                ledger_entries.append(("earn", settlement.points_earned, f"purchase at {self.store_name}"))
            for kind, points, reason in ledger_entries:
                assert customer is not None
                entry_id = uuid7()
                self.db.execute(
                    """INSERT INTO ledger (entry_id, customer_id, kind, points, sale_id, reason, offline, created_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    [entry_id, customer.id, kind, points, sale_id, reason, 0 if hub_online else 1, created],
                )
                self._fault(f"after_ledger_{kind}")
                enqueue(self.db, ledger_event(kind), {"entry_id": entry_id, "customer_id": customer.id,
                                                   "points": points, "sale_id": sale_id, "reason": reason,
                                                   "created_at": created})  # fmt: skip
                events += 1
            enqueue(self.db, EventType.SALE_COMPLETED, sale_payload)
            events += 1
            self._fault("before_commit")
        return CompletedSale(
            sale_id=sale_id,
            receipt=receipt,
            total_cents=settlement.amount_due_cents,
            points_earned=settlement.points_earned,
            points_redeemed=settlement.points_redeemed,
            new_balance=balance.available if balance else None,
            pending_points=balance.pending if balance else None,
            outbox_events=events,
        )

    def _customer_language(self, customer_id: str) -> str | None:
        """The member's preferred language from the profile (``preferences.language``), if any."""
        row = self.db.execute("SELECT json_extract(preferences, '$.language') FROM customers WHERE id = ?",
                              [customer_id]).fetchone()
        return row[0] if row and isinstance(row[0], str) else None

    def _customer_name(self, customer_id: str) -> str:
        row = self.db.execute("SELECT display_name FROM customers WHERE id = ?", [customer_id]).fetchone()
        return row[0] if row else customer_id

    def _check_coupons(self, basket: Basket) -> None:
        """Each coupon must exist, be unused (single use), belong to this customer or nobody, and give its offer."""
        customer_id = basket.customer.id if basket.customer else None
        for code, offer_id in sorted(basket.coupons.items()):
            row = self.db.execute(
                "SELECT offer_id, customer_id, single_use, redeemed_at FROM coupons WHERE code = ?", [code.upper()]
            ).fetchone()
            if row is None:
                raise SaleError(f"coupon {code} is not known in this store; remove it and try again")
            if row[0] != offer_id:
                raise SaleError(f"coupon {code} is for another offer; remove it and scan it again")
            if row[1] is not None and row[1] != customer_id:
                raise SaleError(f"coupon {code} belongs to another customer; remove it or scan their card")
            if row[2] and row[3]:
                raise SaleError(f"coupon {code} was already used; remove it and try again")

    def record_feedback(self, sale_id: str | None, customer_id: str | None, score: int) -> str:
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
            raise SaleError("the score must be a whole number from 0 to 10")
        feedback_id = uuid7()
        created = _iso(datetime.now(UTC))
        with immediate(self.db):
            self.db.execute(
                "INSERT INTO feedback (id, sale_id, customer_id, score, created_at) VALUES (?, ?, ?, ?, ?)",
                [feedback_id, sale_id, customer_id, score, created],
            )
            enqueue(self.db, EventType.FEEDBACK_SUBMITTED, {"id": feedback_id, "sale_id": sale_id,
                                                    "customer_id": customer_id, "score": score,
                                                    "created_at": created})  # fmt: skip
        return feedback_id
