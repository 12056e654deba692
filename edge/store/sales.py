"""Completing a sale: one transaction writes the sale, its lines and discounts, its ledger entries, the
coupon redemptions and one outbox event per change. A crash at any point leaves the whole sale or none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlite_utils

from edge.core.basket import Basket
from edge.core.contract import CENTS, MAX_CENTS, PAYMENT_METHODS, EventType, check_event_payload, ledger_event
from edge.core.l10n import Formats
from edge.core.loyalty import Balance, LoyaltyRules, Settlement, check_redemption, redemption_limit
from edge.core.money import cash_round
from edge.core.offers import CustomerContext, Offer
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
    unused_coupons: tuple[str, ...] = ()  # presented but gave no discount: not redeemed, the customer keeps them
    claim_code: str | None = None  # a guest sale's receipt claim code (edge.core.claims), canonical form
    reward_points: int = 0  # points spent on the rewards claimed during the sale (on its receipt)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class _Sale:
    """One sale being recorded: what every step of ``SalesService.complete`` reads."""

    id: str
    now: datetime
    created: str  # ``now`` as the ISO 8601 UTC text every row and event of the sale carries
    basket: Basket
    settlement: Settlement
    payment_method: str
    tendered_cents: int | None
    hub_online: bool
    claim_code: str | None = None
    rewards: tuple[tuple[str, int], ...] = ()  # (name, points) claimed for the member during the sale

    @property
    def customer(self) -> CustomerContext | None:
        return self.basket.customer

    @property
    def unused_coupons(self) -> tuple[str, ...]:
        """The presented coupons whose offer gave no discount on this sale (sorted codes)."""
        given = {d.offer_id for d in self.settlement.pricing.discounts}
        return tuple(code for code, offer_id in sorted(self.basket.coupons.items()) if offer_id not in given)


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
        self.pending_days = 0  # the programme's pending period: recent earns cannot be spent yet

    def complete(
        self,
        basket: Basket,
        offers: list[Offer],
        *,
        payment_method: str,
        tendered_cents: int | None = None,
        hub_online: bool = False,
        now: datetime | None = None,
        claim_code: str | None = None,
        rewards: tuple[tuple[str, int], ...] = (),
    ) -> CompletedSale:
        """Record the sale of ``basket`` priced with ``offers``: all of it in one ``BEGIN IMMEDIATE`` transaction,
        or nothing.

        ``claim_code``: a guest sale's receipt claim code (``edge.core.claims``; ignored for a member's sale),
        printed on the receipt and sent with the sale. ``rewards``: (name, points) of the rewards claimed for the
        member during this sale (already written by ``edge.store.rewards.claim``), printed on a member's receipt. ``payment_method`` is one of ``contract.PAYMENT_METHODS``; ``tendered_cents`` (cash) must cover the amount
        due; ``hub_online`` decides the redemption limit (offline cap) and marks ledger entries offline.
        The steps, in order: re-read the balance and coupons (the screen may be stale), render the receipt,
        write the sale row, its lines and discounts, redeem the coupons, write the ledger entries, enqueue
        ``sale.completed``. Each write enqueues its outbox event (``edge.core.contract.EventType``).
        Raises SaleError (nothing written) with a sentence for the cashier, also for a sale whose
        ``sale.completed`` the contract refuses (``contract.check_event_payload``, e.g. ``tendered_cents`` over
        ``MAX_CENTS``): the hub would dead-letter it, so it is never written.
        """
        if basket.is_empty:
            raise SaleError(self.formats.tr._("the basket is empty: scan a product first"))
        if payment_method not in PAYMENT_METHODS:
            raise SaleError(f"unknown payment method {payment_method!r}")  # a programming error, not the cashier's
        now = now or datetime.now(UTC)
        settlement = basket.settle(offers, now, self.rules, self.formats)
        cash_due = cash_round(settlement.amount_due_cents, self.formats.currency)  # the currency's cash unit
        if tendered_cents is not None and payment_method == "cash" and tendered_cents < cash_due:
            raise SaleError(self.formats.tr._("the cash tendered is less than the amount due"))
        if tendered_cents is not None and not CENTS.ok(tendered_cents):
            raise SaleError(self.formats.tr._("the cash tendered is more than a sale can record: at most {amount}")
                            .format(amount=self.formats.money(MAX_CENTS)))
        sale = _Sale(uuid7(), now, _iso(now), basket, settlement, payment_method, tendered_cents, hub_online,
                     claim_code if basket.customer is None else None, rewards if basket.customer else ())
        with immediate(self.db):
            balance = self._balance_after(sale)
            receipt = self._receipt(sale, balance, offers)
            sale_payload = self._write_sale(sale, receipt)
            refused = check_event_payload(EventType.SALE_COMPLETED, sale_payload)
            if refused is not None:  # the hub would refuse it: nothing is written (the transaction rolls back)
                raise SaleError(self.formats.tr._("this sale cannot be recorded ({problem}): nothing was written")
                                .format(problem=refused))
            events = self._redeem_coupons(sale)
            events += self._write_ledger(sale)
            enqueue(self.db, EventType.SALE_COMPLETED, sale_payload)
            events += 1
            self._fault("before_commit")
        return CompletedSale(
            sale_id=sale.id,
            receipt=receipt,
            total_cents=settlement.amount_due_cents,
            points_earned=settlement.points_earned,
            points_redeemed=settlement.points_redeemed,
            new_balance=balance.available if balance else None,
            pending_points=balance.pending if balance else None,
            outbox_events=events,
            unused_coupons=sale.unused_coupons,
            claim_code=sale.claim_code,
            reward_points=sum(points for _, points in sale.rewards),
        )

    def _balance_after(self, sale: _Sale) -> Balance | None:
        """Step 1 (in the transaction): the balance and the coupons re-read, the redemption checked against the
        limit of now; the customer's balance once this sale's entries are pending (None for a guest)."""
        customer, settlement = sale.customer, sale.settlement
        balance_before = (self.repo.balance(customer.id, pending_days=self.pending_days, now=sale.now)
                          if customer else None)
        self._check_coupons(sale.basket)
        if balance_before is None:
            return None
        assert customer is not None
        if settlement.points_redeemed:
            limit = redemption_limit(
                balance_before,
                settlement.pricing.total_cents,
                self.rules,
                hub_online=sale.hub_online,
                offline_burned_today=self.repo.offline_burned_today(customer.id, sale.now),
                formats=self.formats,
            )
            problem = check_redemption(settlement.points_redeemed, limit, self.rules, self.formats.tr)
            if problem:
                raise SaleError(problem)
        return Balance(balance_before.confirmed, balance_before.pending_earn + settlement.points_earned,
                       balance_before.pending_burn + settlement.points_redeemed, balance_before.locked)

    def _receipt(self, sale: _Sale, balance: Balance | None, offers: list[Offer]) -> str:
        """Step 2: the receipt text, with the balance after this sale, in the member's language if the profile
        names one (the same sale, its discount reasons worded for them), else the store's."""
        reader = self.formats.with_language(self._customer_language(sale.customer.id) if sale.customer else None)
        worded = (sale.settlement if reader is self.formats
                  else sale.basket.settle(offers, sale.now, self.rules, reader))  # fmt: skip
        return render_receipt(worded, ReceiptInfo(
            store_name=self.store_name, sale_id=sale.id, when=sale.now, payment_method=sale.payment_method,
            tendered_cents=sale.tendered_cents, currency=self.currency, formats=reader,
            customer_name=self._customer_name(sale.customer.id) if sale.customer else None,
            new_balance=balance.available if balance else None,
            pending_points=balance.pending if balance else None, unused_coupons=sale.unused_coupons,
            next_expiry=self._next_expiry(sale.customer.id, balance) if sale.customer and balance else None,
            claim_code=sale.claim_code, rewards=sale.rewards,
        ), self.receipt_width)  # fmt: skip

    def _next_expiry(self, customer_id: str, balance: Balance) -> tuple[int, date] | None:
        """The member's next expiry once this sale's burn is taken (burns take the oldest points first)."""
        summary, _, _ = self.repo.customer_points(customer_id)
        return summary.next_expiry(balance.pending_burn)

    def _write_sale(self, sale: _Sale, receipt: str) -> dict[str, Any]:
        """Step 3: the ``sales`` row, its ``sale_lines`` and ``sale_discounts``; returns the ``sale.completed``
        payload, built from the rows as they are written, not read back (a sale is on the till's critical
        path); its keys are the column names, as a SELECT * would give them."""
        settlement, customer = sale.settlement, sale.customer
        payload: dict[str, Any] = {
            "id": sale.id, "customer_id": customer.id if customer else None, "created_at": sale.created,
            "subtotal_cents": settlement.pricing.subtotal_cents, "discount_cents": settlement.pricing.discount_cents,
            "points_redeemed": settlement.points_redeemed, "points_value_cents": settlement.points_value_cents,
            "total_cents": settlement.amount_due_cents, "vat_cents": settlement.vat_cents,
            "payment_method": sale.payment_method, "tendered_cents": sale.tendered_cents,
            "points_earned": settlement.points_earned, "claim_code": sale.claim_code,
        }  # fmt: skip
        self.db.execute(
            """INSERT INTO sales (id, customer_id, created_at, subtotal_cents, discount_cents, points_redeemed,
               points_value_cents, total_cents, vat_cents, payment_method, tendered_cents, points_earned, receipt,
               claim_code)
               VALUES (:id, :customer_id, :created_at, :subtotal_cents, :discount_cents, :points_redeemed,
               :points_value_cents, :total_cents, :vat_cents, :payment_method, :tendered_cents, :points_earned,
               :receipt, :claim_code)""",
            {**payload, "receipt": receipt},
        )
        self._fault("after_sale_row")
        lines = sorted(settlement.pricing.lines, key=lambda p: p.line.line_no)
        points = {ln.line_no: ln.points for ln in settlement.lines}  # each line's share of the order's points
        payload["lines"] = [
            {"line_no": p.line.line_no, "gtin": p.line.product.gtin, "name": p.line.product.name,
             "category": p.line.product.category, "qty": p.line.qty, "unit_price_cents": p.line.product.price_cents,
             "gross_cents": p.line.gross_cents, "discount_cents": p.discount_cents,
             "vat_rate_bp": p.line.product.vat_rate_bp, "points": points[p.line.line_no]}
            for p in lines
        ]  # fmt: skip
        self.db.conn.executemany(
            """INSERT INTO sale_lines (sale_id, line_no, gtin, name, category, qty, unit_price_cents,
               gross_cents, discount_cents, vat_rate_bp, points) VALUES (:sale_id, :line_no, :gtin, :name,
               :category, :qty, :unit_price_cents, :gross_cents, :discount_cents, :vat_rate_bp, :points)""",
            [{"sale_id": sale.id, **row} for row in payload["lines"]],
        )
        payload["discounts"] = [
            {"n": n, "line_no": d.line_no, "offer_id": d.offer_id, "amount_cents": d.amount_cents,
             "reason": d.reason}
            for n, d in enumerate(settlement.pricing.discounts)
        ]  # fmt: skip
        self.db.conn.executemany(
            """INSERT INTO sale_discounts (sale_id, n, line_no, offer_id, amount_cents, reason)
               VALUES (:sale_id, :n, :line_no, :offer_id, :amount_cents, :reason)""",
            [{"sale_id": sale.id, **row} for row in payload["discounts"]],
        )
        self._fault("after_lines")
        return payload

    def _redeem_coupons(self, sale: _Sale) -> int:
        """Step 4: each coupon that gave its discount marked redeemed by this sale (a single-use one only once)
        and its ``coupon.redeemed`` event; a coupon whose condition was not met is not used (the customer keeps
        it). Returns the events enqueued. SaleError if another sale used it meanwhile."""
        customer_id = sale.customer.id if sale.customer else None
        used = [code for code in sorted(sale.basket.coupons) if code not in sale.unused_coupons]
        for code in used:
            cur = self.db.execute(
                """UPDATE coupons SET redeemed_at = ?, redeemed_sale_id = ?
                   WHERE code = ? AND (redeemed_at IS NULL OR single_use = 0)""",
                [sale.created, sale.id, code],
            )
            if cur.rowcount != 1:
                raise SaleError(self.formats.tr._("coupon {code} was already used; remove it and try again")
                                .format(code=code))  # fmt: skip
            enqueue(self.db, EventType.COUPON_REDEEMED, {"code": code, "sale_id": sale.id, "customer_id": customer_id})
        return len(used)

    def _write_ledger(self, sale: _Sale) -> int:
        """Step 5: the burn (points redeemed) then the earn entry of a member's sale, each with its
        ``ledger.burn``/``ledger.earn`` event; entries made without the hub are marked offline. Returns the
        events enqueued."""
        customer, settlement = sale.customer, sale.settlement
        if customer is None:
            return 0
        entries = []
        if settlement.points_redeemed:
            entries.append(("burn", settlement.points_redeemed, f"redeemed at {self.store_name}"))
        if settlement.points_earned:
            entries.append(("earn", settlement.points_earned, f"purchase at {self.store_name}"))
        for kind, points, reason in entries:
            entry_id = uuid7()
            self.db.execute(
                """INSERT INTO ledger (entry_id, customer_id, kind, points, sale_id, reason, offline, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [entry_id, customer.id, kind, points, sale.id, reason, 0 if sale.hub_online else 1, sale.created],
            )
            self._fault(f"after_ledger_{kind}")
            enqueue(self.db, ledger_event(kind), {"entry_id": entry_id, "customer_id": customer.id,
                                                  "points": points, "sale_id": sale.id, "reason": reason,
                                                  "created_at": sale.created})  # fmt: skip
        return len(entries)

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
        tr = self.formats.tr
        for code, offer_id in sorted(basket.coupons.items()):
            row = self.db.execute(
                "SELECT offer_id, customer_id, single_use, redeemed_at FROM coupons WHERE code = ?", [code.upper()]
            ).fetchone()
            if row is None:
                raise SaleError(tr._("coupon {code} is not known in this store; remove it and try again").format(code=code))
            if row[0] != offer_id:
                raise SaleError(tr._("coupon {code} is for another offer; remove it and scan it again").format(code=code))
            if row[1] is not None and row[1] != customer_id:
                raise SaleError(tr._("coupon {code} belongs to another customer; remove it or scan their card")
                                .format(code=code))  # fmt: skip
            if row[2] and row[3]:
                raise SaleError(tr._("coupon {code} was already used; remove it and try again").format(code=code))

    def record_feedback(self, sale_id: str | None, customer_id: str | None, score: int) -> str:
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
            raise SaleError(self.formats.tr._("the score must be a whole number from 0 to 10"))
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
