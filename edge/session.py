"""A till session: the cashier's basket, the customer and the actions on them.

No Textual here: the UI calls these methods from thread workers and shows what they return, and the
tests drive the same object. One lock serialises database work, because the UI's workers share a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlite_utils

from devices.barcode.config import BarcodeSettingsError, config_from_settings
from edge.core.basket import Basket, BasketError
from edge.core.catalog import Product
from edge.core.loyalty import LoyaltyRules, RedemptionLimit, Settlement, check_redemption, redemption_limit
from edge.core.measures import PricedLine, price_scale_label, price_scanned_item
from edge.core.offers import Offer
from edge.core.tiers import next_tier
from edge.settings import ConfigError, Settings
from edge.store.records import Customer
from edge.store.repository import Repository
from edge.store.sales import CompletedSale, SaleError, SalesService
from sync.outbox import enqueue, pending_count

if TYPE_CHECKING:
    from devices.barcode.decode import ScanResult
    from devices.barcode.loyalty_token import TokenCheck, TokenVerifier

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    kind: str = "info"  # product | customer | coupon | error | info


class TillSession:
    def __init__(self, settings: Settings, db: sqlite_utils.Database, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.repo = Repository(db)
        self.rules = LoyaltyRules.from_settings(settings.loyalty)
        self.sales = SalesService(
            db,
            self.rules,
            store_name=settings.store.name,
            currency=settings.store.currency,
            receipt_width=settings.till.receipt_width,
            formats=settings.store.formats,
        )
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        try:
            self.barcode_config = config_from_settings(settings.barcode)
        except BarcodeSettingsError as exc:
            raise ConfigError("settings", "barcode", str(exc)) from None
        self.last_decode: ScanResult | None = None
        self.lock = threading.RLock()
        self.basket = Basket()
        self.customer: Customer | None = None
        self.hub_online = False
        self.last_sale: CompletedSale | None = None
        self._offers: list[Offer] = []
        self._reload_offers()

    # reading ------------------------------------------------------------------------------------------
    def _reload_offers(self) -> None:
        self._offers = self.repo.offers_for(self.customer.id if self.customer else None)

    def settlement(self) -> Settlement:
        with self.lock:
            return self.basket.settle(self._offers, self.clock(), self.rules, self.sales.formats)

    def redemption_limit(self, payable_cents: int | None = None) -> RedemptionLimit:
        """``payable_cents``: the basket after discounts when the caller has priced it already."""
        with self.lock:
            if self.customer is None:
                return RedemptionLimit(0, "no customer: scan a loyalty card first")
            if payable_cents is None:
                payable_cents = self.basket.price(self._offers, self.clock(), self.sales.formats).total_cents
            return redemption_limit(
                self.repo.balance(self.customer.id),
                payable_cents,
                self.rules,
                hub_online=self.hub_online,
                offline_burned_today=self.repo.offline_burned_today(self.customer.id, self.clock()),
            )

    def next_tier(self) -> tuple[str, int] | None:
        """The tier above the customer's, from rolling 12-month spend including this till's unsynced sales."""
        with self.lock:
            if self.customer is None:
                return None
            spend = self.customer.spend_12m_cents + self.repo.unsynced_spend(self.customer.id)
            return next_tier(spend, self.settings.loyalty.tier_thresholds_cents)

    def personal_offers(self) -> list[Offer]:
        with self.lock:
            return self.repo.personal_offers(self.customer.id, self.clock()) if self.customer else []

    def coupons(self) -> list[dict]:
        with self.lock:
            return self.repo.coupons_for(self.customer.id) if self.customer else []

    def pending_events(self) -> int:
        with self.lock:
            return pending_count(self.db)

    # actions ------------------------------------------------------------------------------------------
    def scan(self, text: str, symbology: str | None = None) -> Outcome:
        """Whatever a scanner (or the keyboard, plus Enter) delivered: product, scale label, loyalty card or
        app code, coupon; typed phone numbers and e-mail addresses find customers too."""
        text = text.strip(" \r\n\t")
        if not text:
            return Outcome(False, "nothing was scanned", "error")
        from devices.barcode.decode import decode_scan

        with self.lock:
            if self.repo.coupon(text) is not None:
                return self.apply_coupon(text)
            result = decode_scan(
                text,
                symbology=symbology,
                config=self.barcode_config,
                catalog_lookup=self._catalog_lookup,
                token_verifier=self._token_verifier(),
            )
            self.last_decode = result
            return self._act_on(result, text)

    def _catalog_lookup(self, key: str) -> Product | None:
        return self.repo.product(key) if len(key) == 14 else self.repo.product_by_reference(key)

    def _token_verifier(self) -> TokenVerifier:
        from devices.barcode.loyalty_token import TokenVerifier

        return TokenVerifier(
            self.repo.token_keys(),
            skew_s=self.settings.barcode.token_skew_s,
            max_ttl_s=self.settings.barcode.token_max_ttl_s,
            clock=lambda: self.clock().timestamp(),
        )

    def _act_on(self, result: ScanResult, text: str) -> Outcome:
        kind = result.kind
        if kind in ("product", "gs1") and result.gtin and result.gtin_valid:
            if result.product is None:
                return Outcome(False, f"{result.gtin} is not in this store's catalogue; key in the price "
                               "or set the item aside", "error")  # fmt: skip
            return self._add_priced(price_scanned_item(result.product, result.ai, gtin=result.gtin,
                                                       currency=self.settings.store.currency))  # fmt: skip
        if kind == "variable_measure" and result.error is None:
            if result.product is None:
                return Outcome(False, f"scale label for item {result.item_reference} is not in this store's "
                               "catalogue", "error")  # fmt: skip
            return self._add_priced(price_scale_label(result.product, result.gtin or "", weight_g=result.weight_g,
                                                      price_cents=result.price_cents, count=result.count))
        if kind == "loyalty_card" and result.error is None and result.customer_id:
            customer = self.repo.find_customer(result.customer_id)
            if customer is None:
                return Outcome(False, f"card {result.customer_id} is not known in this store yet; the customer "
                               "can still be served as a guest", "error")  # fmt: skip
            return self.set_customer(customer)
        if kind == "loyalty_token":
            return self._loyalty_token(result)
        if kind == "coupon" and result.coupon_code:
            return self.apply_coupon(result.coupon_code)
        if result.error and kind != "unknown":
            return Outcome(False, result.error, "error")
        customer = self.repo.find_customer(text, self.settings.store.country)
        if customer is not None:
            return self.set_customer(customer)
        if text.isdigit():
            return Outcome(False, f"{text} is not a product, loyalty card or coupon of this store", "error")
        if result.error and not text.replace(" ", "").isalpha():
            return Outcome(False, result.error, "error")
        return Outcome(False, f"'{text}' was not recognised; use F3 to search products by name", "error")

    def _add_priced(self, line: PricedLine) -> Outcome:
        """A line priced from its GS1 data (``edge.core.measures``): added, or refused in the cashier's words."""
        if line.product is None:
            return Outcome(False, line.error or "this item cannot be priced from its label", "error")
        added = self.add_product(line.product, line.qty)
        return Outcome(True, f"{added.message} ({line.note})", added.kind) if added.ok and line.note else added

    def _loyalty_token(self, result: ScanResult) -> Outcome:
        check = result.token
        if check is None or not check.ok or not check.customer_id:
            return Outcome(False, result.error or (check.error if check else None) or "loyalty code refused",
                           "error")  # fmt: skip
        customer = self.repo.customer(check.customer_id)
        if customer is None:
            return Outcome(False, "this app code is genuine but the customer is not known in this store yet; "
                           "serve them as a guest and sync the till", "error")  # fmt: skip
        copy = self._record_token_sighting(check)
        outcome = self.set_customer(customer)
        if copy:
            from devices.barcode.loyalty_token import MSG_POSSIBLE_COPY

            return Outcome(True, f"{outcome.message} - WARNING: {MSG_POSSIBLE_COPY}", "customer")
        return outcome

    def _record_token_sighting(self, check: TokenCheck) -> bool:
        """Remember the code; True when another till saw the same code within its window (a possible copy)."""
        now = self.clock()
        expires = datetime.fromtimestamp(check.expires_at or now.timestamp(), UTC).isoformat()
        till = self.settings.device.id
        token_id = check.token_id or ""
        with self.db.atomic():
            seen_elsewhere = self.db.execute(
                "SELECT count(*) FROM token_sightings WHERE token_hash = ? AND till_id != ? AND expires_at > ?",
                [token_id, till, now.isoformat()],
            ).fetchone()[0]
            self.db.execute(
                "INSERT OR REPLACE INTO token_sightings (token_hash, till_id, customer_id, seen_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [token_id, till, check.customer_id, now.isoformat(), expires],
            )
            enqueue(self.db, "loyalty.token_seen", {"token_hash": token_id, "till_id": till,
                                                    "customer_id": check.customer_id, "seen_at": now.isoformat(),
                                                    "expires_at": expires})  # fmt: skip
        return bool(seen_elsewhere)

    def add_product(self, product: Product, qty: int = 1) -> Outcome:
        with self.lock:
            try:
                line = self.basket.add(product, qty)
            except BasketError as exc:
                return Outcome(False, str(exc), "error")
            return Outcome(True, f"{product.name} x{line.qty}", "product")

    def add_gtin(self, gtin: str, qty: int = 1) -> Outcome:
        with self.lock:
            product = self.repo.product(gtin)
            if product is None:
                return Outcome(False, f"no product with number {gtin}", "error")
            return self.add_product(product, qty)

    def search(self, text: str) -> list[Product]:
        with self.lock:
            return self.repo.search_products(text)

    def lookup_customer(self, text: str) -> Outcome:
        with self.lock:
            customer = self.repo.find_customer(text, self.settings.store.country)
            if customer is None:
                return Outcome(False, f"no customer found for '{text.strip()}' (card, phone or e-mail)", "error")
            return self.set_customer(customer)

    def set_customer(self, customer: Customer) -> Outcome:
        with self.lock:
            self.customer = customer
            self.basket.customer = customer.context
            self.basket.points_to_redeem = 0
            self._reload_offers()
            return Outcome(True, f"{customer.display_name} ({customer.tier})", "customer")

    def refresh_customer(self) -> None:
        with self.lock:
            if self.customer is not None:
                fresh = self.repo.customer(self.customer.id)
                if fresh is not None:
                    self.customer = fresh
                    self.basket.customer = fresh.context
            self._reload_offers()

    def set_qty(self, line_no: int, qty: int) -> Outcome:
        with self.lock:
            try:
                line = self.basket.set_qty(line_no, qty)
            except BasketError as exc:
                return Outcome(False, str(exc), "error")
            return Outcome(True, f"{line.product.name}: quantity {qty}", "product")

    def void(self, line_no: int) -> Outcome:
        with self.lock:
            try:
                line = self.basket.void(line_no)
            except BasketError as exc:
                return Outcome(False, str(exc), "error")
            return Outcome(True, f"voided {line.product.name}", "product")

    def apply_coupon(self, code: str) -> Outcome:
        with self.lock:
            code = code.strip().upper()
            coupon, problem = self.repo.check_coupon(code, self.customer.id if self.customer else None)
            if coupon is None:
                return Outcome(False, problem or "coupon refused", "error")
            self.basket.coupons[code] = coupon["offer_id"]
            return Outcome(True, f"coupon {code} added", "coupon")

    def redeem(self, points: int) -> Outcome:
        with self.lock:
            if self.customer is None:
                return Outcome(False, "scan the customer's loyalty card before redeeming points", "error")
            problem = check_redemption(points, self.redemption_limit(), self.rules)
            if problem:
                return Outcome(False, problem, "error")
            self.basket.points_to_redeem = points
            return Outcome(True, f"redeeming {points} points" if points else "no points redeemed", "info")

    def complete(self, payment_method: str, tendered_cents: int | None = None) -> CompletedSale:
        """Raises SaleError with a cashier-readable message; on success the till is ready for the next sale."""
        with self.lock:
            sale = self.sales.complete(
                self.basket,
                self._offers,
                payment_method=payment_method,
                tendered_cents=tendered_cents,
                hub_online=self.hub_online,
                now=self.clock(),
            )
            self.last_sale = sale
            self.new_sale()
            return sale

    def record_feedback(self, score: int) -> str:
        with self.lock:
            if self.last_sale is None:
                raise SaleError("there is no sale to attach the answer to")
            customer_id = self.db.execute(
                "SELECT customer_id FROM sales WHERE id = ?", [self.last_sale.sale_id]
            ).fetchone()[0]
            return self.sales.record_feedback(self.last_sale.sale_id, customer_id, score)

    def new_sale(self) -> None:
        with self.lock:
            self.basket = Basket()
            self.customer = None
            self._reload_offers()
