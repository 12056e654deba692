"""A till session: the cashier's basket, the customer and the actions on them.

No Textual here: the UI calls these methods from thread workers and shows what they return, and the
tests drive the same object. One lock serialises database work, because the UI's workers share a connection.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import sqlite_utils

from devices.barcode.config import BarcodeSettingsError, config_from_settings
from edge.clock import HubClock
from edge.core.basket import Basket, BasketError
from edge.core.catalog import Product
from edge.core.i18n import ENGLISH, Translator
from edge.core.loyalty import (
    Balance,
    LoyaltyRules,
    RedemptionLimit,
    Settlement,
    check_redemption,
    redemption_limit,
)
from edge.core.measures import PricedLine, price_scale_label, price_scanned_item
from edge.core.money import minor_exponent
from edge.core.offers import Offer
from edge.core.programme import ProgrammeRules
from edge.settings import ConfigError, Settings
from edge.store.parked import ParkedSale, ParkedSaleError, parked_count, parked_sales
from edge.store.parked import park as park_basket
from edge.store.parked import recall as recall_basket
from edge.store.records import Customer
from edge.store.repository import Repository
from edge.store.rewards import Reward, RewardError
from edge.store.rewards import claim as claim_reward
from edge.store.rewards import rewards as reward_catalogue
from edge.store.sales import CompletedSale, SaleError, SalesService
from edge.store.sightings import record_token_sighting
from sync.apply import programme_rules
from sync.outbox import pending_count

if TYPE_CHECKING:
    from devices.barcode.decode import ScanResult
    from devices.barcode.loyalty_token import TokenVerifier
    from sync.lookup import LookupResult, MemberLookup

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class PointsView:
    """The member's points as the till shows them: lifetime ``earned`` and ``spent`` (the hub's figures plus
    this till's unconfirmed entries), ``balance`` (available), ``spendable`` (less what the pending period
    still locks), and the next expiry (``expiring``: points, ``expires_on``; ``soon`` within the programme's
    warning window)."""

    earned: int
    spent: int
    balance: int
    spendable: int
    expiring: int = 0
    expires_on: date | None = None
    soon: bool = False


@dataclass(frozen=True)
class Outcome:
    """What one cashier action did, in a sentence. ``kind`` "switch_customer": another member's card was
    scanned while a member is on the sale; nothing changed, ``customer`` is the one to switch to if the
    cashier confirms (``TillSession.set_customer``)."""

    ok: bool
    message: str
    kind: str = "info"  # product | customer | switch_customer | coupon | reward | error | info | ask_hub
    customer: Customer | None = None
    # kind "ask_hub": the member is unknown here and the hub is online: (kind, value) to ask it about
    # (``TillSession.ask_hub`` in a thread worker, then ``member_from_hub``)
    ask_hub: tuple[str, str] | None = None


def _claim_code_shaped(text: str) -> bool:
    """A receipt claim code as printed (``K7QM-4XPA-TZ9B``), typed with or without dashes: 12 symbols of its
    alphabet, at least one a letter (12 digits are a UPC-A product code)."""
    from edge.core.claims import looks_like_claim_code, normalise_claim_code

    return looks_like_claim_code(text) and not normalise_claim_code(text).isdigit()


def items_words(n: int, tr: Translator = ENGLISH) -> str:
    """``1 item``, ``2 items`` in ``tr``'s language (its plural rules)."""
    return tr.ngettext("{n} item", "{n} items", n).format(n=n)


class TillSession:
    def __init__(self, settings: Settings, db: sqlite_utils.Database, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.repo = Repository(db)
        self.rules = LoyaltyRules.from_settings(settings.loyalty)
        # the till's built-in programme (its [loyalty] settings) until the hub's arrives (_reload_programme)
        self.programme = ProgrammeRules.from_settings(settings.loyalty.tier_thresholds_cents,
                                                      settings.loyalty.tier_multipliers)
        self.sales = SalesService(
            db,
            self.rules,
            store_name=settings.store.name,
            currency=settings.store.currency,
            receipt_width=settings.till.receipt_width,
            formats=settings.store.formats,
        )
        self.tr = settings.store.formats.tr  # what the cashier reads, in the store's language
        self.clock: Clock = clock or HubClock(db)  # the device's time corrected by the hub's (edge/clock.py)
        try:
            self.barcode_config = config_from_settings(settings.barcode)
        except BarcodeSettingsError as exc:
            raise ConfigError("settings", "barcode", str(exc)) from None
        self.last_decode: ScanResult | None = None
        self.lock = threading.RLock()
        self.sale_seq = 0  # counts the sales begun on this till since it started (new_sale)
        self.basket = Basket()
        self.customer: Customer | None = None
        self.hub_online = False
        # the member look-up at the hub (sync.lookup.MemberLookup), when the till is enrolled; set by the app
        self.member_lookup: MemberLookup | None = None
        # a member could not be identified because the hub could not be asked: the guest receipt gets a claim code
        self.claim_pending = False
        # rewards claimed during this sale: (customer id, name, points), for its receipt (cleared by new_sale)
        self.sale_rewards: list[tuple[str, str, int]] = []
        self.last_sale: CompletedSale | None = None
        # the line the cashier last touched (scan, quantity): the basket's highlight follows it
        self.focus_line: int | None = None
        self.focus_seq = 0
        self._offers: list[Offer] = []
        self._reload_offers()

    # reading ------------------------------------------------------------------------------------------
    def _reload_offers(self) -> None:
        self._offers = self.repo.offers_for(self.customer.id if self.customer else None, self.clock())
        self._reload_programme()

    def _reload_programme(self) -> None:
        """The hub's programme when one was pulled (``sync.apply.programme_rules``): its tiers and multipliers
        replace the settings' defaults for earning, progress, the pending period and the offline allowance."""
        pulled = programme_rules(self.db.conn)
        if pulled is None or pulled == self.programme:
            return
        self.programme = pulled
        self.rules = dataclasses.replace(self.rules, tier_multipliers=pulled.multipliers,
                                         offline_burn_cap_points=pulled.offline_burn_cap_points)
        self.sales.rules = self.rules
        self.sales.pending_days = pulled.pending_days

    def balance(self, customer_id: str) -> Balance:
        """The customer's balance with what the programme's pending period locks at the till's time."""
        return self.repo.balance(customer_id, pending_days=self.programme.pending_days, now=self.clock())

    def settlement(self) -> Settlement:
        with self.lock:
            return self.basket.settle(self._offers, self.clock(), self.rules, self.sales.formats)

    def redemption_limit(self, payable_cents: int | None = None) -> RedemptionLimit:
        """``payable_cents``: the basket after discounts when the caller has priced it already."""
        with self.lock:
            if self.customer is None:
                return RedemptionLimit(0, self.tr._("no customer: scan a loyalty card first"))
            if payable_cents is None:
                payable_cents = self.basket.price(self._offers, self.clock(), self.sales.formats).total_cents
            return redemption_limit(
                self.balance(self.customer.id),
                payable_cents,
                self.rules,
                hub_online=self.hub_online,
                offline_burned_today=self.repo.offline_burned_today(self.customer.id, self.clock()),
                formats=self.sales.formats,
            )

    def next_tier(self) -> tuple[str, int] | None:
        """The tier above the customer's, from rolling 12-month spend including this till's unsynced sales."""
        with self.lock:
            if self.customer is None:
                return None
            spend = self.customer.spend_12m_cents + self.repo.unsynced_spend(self.customer.id)
            if self.programme.rank(self.customer.tier) >= self.programme.rank(self.programme.tier_for_spend(spend)):
                above = self.programme.tiers[self.programme.rank(self.customer.tier) + 1:]
                return (above[0].name, max(above[0].threshold_cents - spend, 0)) if above else None
            return self.programme.next_tier(spend)

    def points_view(self) -> PointsView | None:
        """Earned, spent, balance and the next expiry of the customer on the sale (None for a guest)."""
        with self.lock:
            if self.customer is None:
                return None
            summary, earned, burned = self.repo.customer_points(self.customer.id)
            balance = self.balance(self.customer.id)
            expiry = summary.next_expiry(burned)
            now = self.clock()
            soon = expiry is not None and expiry[1] <= (now + timedelta(days=self.programme.expiry_warning_days)).date()
            return PointsView(summary.earned + earned, summary.spent + burned, balance.available, balance.spendable,
                              expiry[0] if expiry else 0, expiry[1] if expiry else None, soon)

    def personal_offers(self) -> list[Offer]:
        with self.lock:
            return self.repo.personal_offers(self.customer.id, self.clock()) if self.customer else []

    def coupons(self) -> list[dict]:
        """The customer's unused coupons, each with ``terms``: what it gives and when, in words."""
        with self.lock:
            rows = self.repo.coupons_for(self.customer.id) if self.customer else []
            return [{**row, "terms": self.coupon_terms(row["offer_id"], row.get("offer_name") or "")} for row in rows]

    def coupon_terms(self, offer_id: str, name: str = "") -> str:
        """"€3.00 off a basket of €15.00 or more", "20% off Beverages", or the offer's name."""
        offer = next((o for o in self._offers if o.id == offer_id), None)
        if offer is None:
            return name
        fmt, tr = self.sales.formats, self.tr
        p = offer.params
        if offer.kind == "amount_off_basket":
            amount = fmt.money(int(p.get("amount_cents", 0)))
            if p.get("threshold_cents"):
                return tr._("{amount} off a basket of {threshold} or more").format(
                    amount=amount, threshold=fmt.money(int(p["threshold_cents"])))
            return tr._("{amount} off").format(amount=amount)
        if offer.kind == "percent_off":
            percent = fmt.percent(float(p.get("percent", 0)) / 100)
            if p.get("category"):
                return tr._("{percent} off {category}").format(percent=percent, category=p["category"])
            return tr._("{percent} off").format(percent=percent)
        return offer.name

    def pending_events(self) -> int:
        with self.lock:
            return pending_count(self.db)

    # actions ------------------------------------------------------------------------------------------
    def scan(self, text: str, symbology: str | None = None) -> Outcome:
        """Whatever a scanner (or the keyboard, plus Enter) delivered: product, scale label, loyalty card or
        app code, coupon; typed phone numbers and e-mail addresses find customers too."""
        text = text.strip(" \r\n\t")
        if not text:
            return Outcome(False, self.tr._("nothing was scanned"), "error")
        from devices.barcode.decode import decode_scan

        with self.lock:
            if self.repo.coupon(text) is not None:
                return self.apply_coupon(text)
            if _claim_code_shaped(text):
                return self.claim_receipt(text)
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
            self.repo.token_keys(self.clock()),
            skew_s=self.settings.barcode.token_skew_s,
            max_ttl_s=self.settings.barcode.token_max_ttl_s,
            clock=lambda: self.clock().timestamp(),
        )

    def _act_on(self, result: ScanResult, text: str) -> Outcome:
        kind = result.kind
        if kind in ("product", "gs1") and result.gtin and result.gtin_valid:
            if result.product is None:
                return Outcome(False, self.tr._("{gtin} is not in this store's catalogue: set the item aside and "
                                                "call a supervisor").format(gtin=result.gtin), "error")  # fmt: skip
            return self._add_priced(price_scanned_item(result.product, result.ai, gtin=result.gtin,
                                                       currency=self.settings.store.currency))  # fmt: skip
        if kind == "variable_measure" and result.error is None:
            if result.product is None:
                return Outcome(False, self.tr._("scale label for item {item} is not in this store's catalogue: set "
                                                "the item aside and call a supervisor")
                               .format(item=result.item_reference), "error")  # fmt: skip
            return self._add_priced(price_scale_label(result.product, result.gtin or "", weight_g=result.weight_g,
                                                      price_cents=result.price_cents, count=result.count))
        if kind == "loyalty_card" and result.error is None and result.customer_id:
            customer = self.repo.find_customer(result.customer_id)
            if customer is None:
                return self.unknown_member("card", result.customer_id)
            return self.offer_customer(customer)
        if kind == "loyalty_token":
            return self._loyalty_token(result, text)
        if kind == "coupon" and result.coupon_code:
            return self.apply_coupon(result.coupon_code)
        if result.error and kind != "unknown":
            return Outcome(False, self.tr.text(result.error), "error")
        customer = self.repo.find_customer(text, self.settings.store.country)
        if customer is not None:
            return self.offer_customer(customer)
        contact = self._contact_query(text)
        if contact is not None:
            return self.unknown_member(*contact)
        if text.isdigit():
            return Outcome(False, self.tr._("{text} is not a product, loyalty card or coupon of this store")
                           .format(text=text), "error")  # fmt: skip
        if result.error and not text.replace(" ", "").isalpha():
            return Outcome(False, self.tr.text(result.error), "error")
        return Outcome(False, self.tr._("'{text}' was not recognised; use F3 to search products by name")
                       .format(text=text), "error")  # fmt: skip

    def _add_priced(self, line: PricedLine) -> Outcome:
        """A line priced from its GS1 data (``edge.core.measures``): added, or refused in the cashier's words."""
        if line.product is None:
            return Outcome(False, self.tr.text(line.error) if line.error
                           else self.tr._("this item cannot be priced from its label"), "error")
        added = self.add_product(line.product, line.qty)
        if added.ok and line.note:
            return Outcome(True, f"{added.message} ({self.tr.text(line.note)})", added.kind)
        return added

    def _loyalty_token(self, result: ScanResult, text: str) -> Outcome:
        check = result.token
        if check is None or not check.ok or not check.customer_id:
            error = result.error or (check.error if check else None)  # devices' constant texts are in the catalogs
            return Outcome(False, self.tr._(error) if error else self.tr._("loyalty code refused"), "error")
        customer = self.repo.customer(check.customer_id)
        if customer is None:
            return self.unknown_member("app_token", text[text.find("LT1."):].strip())
        copy = record_token_sighting(
            self.db, token_id=check.token_id or "", customer_id=customer.id, till_id=self.settings.device.id,
            now=self.clock(), expires_at=check.expires_at,
        )
        outcome = self.offer_customer(customer)
        if copy:
            from devices.barcode.loyalty_token import MSG_POSSIBLE_COPY

            warning = self.tr._("WARNING: {problem}").format(problem=self.tr._(MSG_POSSIBLE_COPY))
            return dataclasses.replace(outcome, message=f"{outcome.message} - {warning}")
        return outcome

    def add_product(self, product: Product, qty: int = 1) -> Outcome:
        with self.lock:
            try:
                line = self.basket.add(product, qty)
            except BasketError as exc:
                return Outcome(False, self.tr.text(exc.args[0]), "error")
            self._focus(line.line_no)
            return Outcome(True, f"{product.name} x{line.qty}", "product")

    def _focus(self, line_no: int | None) -> None:
        self.focus_line = line_no
        self.focus_seq += 1

    def add_gtin(self, gtin: str, qty: int = 1) -> Outcome:
        with self.lock:
            product = self.repo.product(gtin)
            if product is None:
                return Outcome(False, self.tr._("no product with number {gtin}").format(gtin=gtin), "error")
            return self.add_product(product, qty)

    def search(self, text: str) -> list[Product]:
        with self.lock:
            return self.repo.search_products(text)

    def lookup_customer(self, text: str) -> Outcome:
        with self.lock:
            customer = self.repo.find_customer(text, self.settings.store.country)
            if customer is None:
                contact = self._contact_query(text) or ("card", text.strip())
                if self.member_lookup is not None:
                    return self.unknown_member(*contact)
                return Outcome(False, self.tr._("no customer found for '{text}' (card, phone or e-mail)")
                               .format(text=text.strip()), "error")  # fmt: skip
            return self.offer_customer(customer)

    # a member this store has not been sent: ask the hub (issue 15 item 5) -----------------------------
    def _contact_query(self, text: str) -> tuple[str, str] | None:
        """A typed phone number or e-mail address as the hub look-up's (kind, hash); None for anything else.
        Only the hash leaves the till (``edge.core.contacts``)."""
        from edge.core.contacts import contact_hash, looks_like_email, looks_like_phone

        region = self.settings.store.country
        if looks_like_email(text):
            return "email_hash", contact_hash("email", text)
        if looks_like_phone(text, region):
            try:
                return "phone_hash", contact_hash("phone", text, region)
            except ValueError:
                return None
        return None

    def unknown_member(self, kind: str, value: str) -> Outcome:
        """A card, phone, e-mail or app code this store does not know. Enrolled and online: the UI asks the hub
        (kind "ask_hub"); otherwise the sale goes on as a guest sale whose receipt carries a claim code."""
        tr = self.sales.formats.tr
        with self.lock:
            if self.member_lookup is None:
                return Outcome(False, tr._("This member is not known in this store; serve them as a guest."),
                               "error")  # fmt: skip
            if self.hub_online:
                return Outcome(False, tr._("Asking the hub for this member..."), "ask_hub", ask_hub=(kind, value))
            self.claim_pending = True
            return Outcome(False, tr._("Hub not reachable: sale goes on as guest, receipt carries a claim code."),
                           "error")  # fmt: skip

    def ask_hub(self, kind: str, value: str) -> LookupResult:
        """Blocking (network, up to ``[hub] lookup_timeout_s``): call from a thread worker. The session lock is
        held only while a found member is stored, never during the request, so the cashier can go on."""
        from sync.apply import cache_customer
        from sync.lookup import LookupResult

        lookup = self.member_lookup
        if lookup is None:
            return LookupResult("unreachable", "this till is not enrolled with a hub")
        result = lookup.ask(kind, value)
        if result.customer is not None:
            with self.lock:
                try:
                    cache_customer(self.db, result.customer)
                except (KeyError, TypeError, ValueError) as exc:
                    return LookupResult("refused", f"the hub's member profile could not be stored ({exc})")
        return result

    def member_from_hub(self, result: LookupResult, sale_seq: int | None = None) -> Outcome:
        """What the hub said about an unknown member, in the cashier's words; a found member is identified.
        ``sale_seq``: the sale the card was scanned on; when that sale is over (paid, parked, discarded) before
        the answer came, nothing is set on the sale now on the till (it is another customer's)."""
        tr = self.sales.formats.tr
        with self.lock:
            if sale_seq is not None and sale_seq != self.sale_seq:
                if result.customer is None:
                    return Outcome(True, tr._("The hub answered about a card from a sale that is over; nothing "
                                              "changed on this sale."), "info")  # fmt: skip
                return Outcome(True, tr._("Member found at the hub: {name}, for a sale that is over; scan the card "
                                          "again to add them to this sale.")
                               .format(name=result.customer.get("display_name", "")), "info")  # fmt: skip
            if result.customer is not None:
                customer = self.repo.customer(str(result.customer["id"]))
                if customer is not None:
                    outcome = self.offer_customer(customer)
                    prefix = tr._("Member found at the hub")
                    return dataclasses.replace(outcome, message=f"{prefix}: {outcome.message}")
            if result.outcome in ("not_found", "ambiguous"):
                return Outcome(False, tr._("Not a member: {reason}.").format(reason=result.message), "error")
            if result.outcome == "limited":
                return Outcome(False, tr._("The hub refused more look-ups for now: {reason}.").format(
                    reason=result.message), "error")  # fmt: skip
            if self.customer is None:
                self.claim_pending = True
            return Outcome(False, tr._("Hub not reachable: sale goes on as guest, receipt carries a claim code."),
                           "error")  # fmt: skip

    # a guest receipt claimed by its member ---------------------------------------------------------------
    def claim_receipt(self, text: str) -> Outcome:
        """The member on the sale claims a guest receipt's points (its claim code, scanned or typed): a
        ``receipt.claimed`` event goes to the hub, which checks the receipt and adds the points once."""
        from edge.core.claims import claim_code_valid, normalise_claim_code
        from edge.core.contract import EventType
        from edge.db.connection import immediate
        from sync.ids import uuid7
        from sync.outbox import enqueue, utc_now_iso

        tr = self.sales.formats.tr
        with self.lock:
            if not claim_code_valid(text):
                return Outcome(False, tr._("This claim code has a typing error: check it against the receipt."),
                               "error")  # fmt: skip
            if self.customer is None:
                return Outcome(False, tr._("Identify the member first (card, phone, e-mail or app), then scan the "
                                           "receipt's claim code."), "error")  # fmt: skip
            code = normalise_claim_code(text)
            with immediate(self.db):
                if self._receipt_claim_sent(code):
                    return Outcome(False, tr._("This receipt's points were already claimed at this till: a receipt "
                                               "adds its points once."), "error")  # fmt: skip
                enqueue(self.db, EventType.RECEIPT_CLAIMED, {
                    "claim_id": uuid7(), "code": code, "customer_id": self.customer.id,
                    "claimed_at": utc_now_iso()})
            return Outcome(True, tr._("Receipt claim sent for {name}: the hub checks the receipt and adds its "
                                      "points once.").format(name=self.customer.display_name), "info")

    def _receipt_claim_sent(self, code: str) -> bool:
        """Whether this till already queued or sent a claim of receipt ``code`` (normalised), in any state its
        outbox still holds (a second claim would only be refused by the hub later)."""
        from edge.core.contract import EventType

        row = self.db.execute("SELECT 1 FROM outbox WHERE type = ? AND json_extract(payload, '$.code') = ? LIMIT 1",
                              [EventType.RECEIPT_CLAIMED.value, code]).fetchone()
        return row is not None

    def offer_customer(self, customer: Customer) -> Outcome:
        """A member identified themselves: on a sale without a member they are set at once; the member already
        on the sale is kept (said so); another member is only proposed (kind "switch_customer")."""
        with self.lock:
            current = self.customer
            if current is None:
                return self.set_customer(customer)
            if current.id == customer.id:
                return Outcome(True, self.tr._("{name} is already on this sale").format(name=customer.display_name),
                               "customer")  # fmt: skip
            return Outcome(False, self.tr._("{current} is on this sale; switch to {new}?")
                           .format(current=current.display_name, new=customer.display_name),
                           "switch_customer", customer)  # fmt: skip

    def set_customer(self, customer: Customer) -> Outcome:
        with self.lock:
            self.claim_pending = False
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
                return Outcome(False, self.tr.text(exc.args[0]), "error")
            self._focus(line.line_no)
            return Outcome(True, self.tr._("{name}: quantity {qty}").format(name=line.product.name, qty=qty),
                           "product")  # fmt: skip

    def void(self, line_no: int) -> Outcome:
        with self.lock:
            try:
                line = self.basket.void(line_no)
            except BasketError as exc:
                return Outcome(False, self.tr.text(exc.args[0]), "error")
            self._focus(None)
            return Outcome(True, self.tr._("voided line {line}: {name} x{qty} (Ctrl+Z: undo the void)")
                           .format(line=line_no, name=line.product.name, qty=line.qty), "product")  # fmt: skip

    def undo_void(self) -> Outcome:
        """Ctrl+Z: the line voided last on this sale comes back with its quantity and price."""
        with self.lock:
            try:
                line = self.basket.restore_voided()
            except BasketError:
                return Outcome(False, self.tr._("Nothing to undo: no line was voided on this sale."), "error")
            self._focus(line.line_no)
            return Outcome(True, self.tr._("void undone: line {line}, {name} x{qty} is back")
                           .format(line=line.line_no, name=line.product.name, qty=line.qty), "product")  # fmt: skip

    def apply_coupon(self, code: str) -> Outcome:
        with self.lock:
            code = code.strip().upper()
            if code in self.basket.coupons:
                return Outcome(False, self.tr._("coupon {code} is already applied to this sale").format(code=code),
                               "coupon")  # fmt: skip
            coupon, problem = self.repo.check_coupon(code, self.customer.id if self.customer else None, self.tr)
            if coupon is None:
                return Outcome(False, problem or self.tr._("coupon refused"), "error")
            self.basket.coupons[code] = coupon["offer_id"]
            applied = any(d.offer_id == coupon["offer_id"] for d in self.basket.price(self._offers, self.clock()).discounts)
            if not applied:
                return Outcome(True, self.tr._("coupon {code} added; {condition} before it applies")
                               .format(code=code, condition=self.coupon_condition(coupon["offer_id"])),
                               "coupon")  # fmt: skip
            return Outcome(True, self.tr._("coupon {code} added").format(code=code), "coupon")

    def coupon_condition(self, offer_id: str) -> str:
        """What the coupon's offer needs, in words ("needs a basket of €15.00 or more"); "" when nothing."""
        offer = next((o for o in self._offers if o.id == offer_id), None)
        if offer is None:
            return self.tr._("its offer is not active at this store")
        threshold = int(offer.params.get("threshold_cents", 0) or 0)
        if offer.kind == "amount_off_basket" and threshold:
            return self.tr._("it needs a basket of {amount} or more").format(amount=self.sales.formats.money(threshold))
        category = offer.params.get("category")
        if category:
            return self.tr._("it needs an item from {category}").format(category=category)
        if offer.params.get("gtins"):
            return self.tr._("it needs one of its products")
        return self.tr._("its condition is not met")

    # rewards ------------------------------------------------------------------------------------------
    def rewards(self) -> list[Reward]:
        """The reward catalogue as pulled from the hub, cheapest first."""
        with self.lock:
            return reward_catalogue(self.db)

    def claim_reward(self, reward_id: str) -> Outcome:
        """Claim a reward for the member on the sale (``edge.store.rewards.claim``: written at once with its
        outbox event, offline too). A coupon reward's coupon is added to this sale; for a product the
        message says what to hand over."""
        tr = self.sales.formats.tr
        with self.lock:
            if self.customer is None:
                return Outcome(False, tr._("scan the member's loyalty card before claiming a reward"), "error")
            try:
                claimed = claim_reward(self.db, self.rules, reward_id, self.customer.id, hub_online=self.hub_online,
                                       now=self.clock(), tr=tr)
            except RewardError as exc:
                return Outcome(False, str(exc), "error")
            self.sale_rewards.append((claimed.customer_id, claimed.reward.name, claimed.reward.points))
            self.refresh_customer()
            left = claimed.balance.available
            if claimed.coupon_code is not None:
                self.apply_coupon(claimed.coupon_code)
                text = tr._("{reward} claimed for {points} points: coupon {code} is on this sale; {left} points "
                            "left").format(reward=claimed.reward.name, points=claimed.reward.points,
                                           code=claimed.coupon_code, left=left)
            else:
                text = tr._("{reward} claimed for {points} points: hand over {product}; {left} points left").format(
                    reward=claimed.reward.name, points=claimed.reward.points,
                    product=claimed.product_name or claimed.reward.gtin, left=left)
            return Outcome(True, text, "reward")

    def redeem(self, points: int) -> Outcome:
        with self.lock:
            if self.customer is None:
                return Outcome(False, self.tr._("scan the customer's loyalty card before redeeming points"), "error")
            problem = check_redemption(points, self.redemption_limit(), self.rules, self.tr)
            if problem:
                return Outcome(False, problem, "error")
            self.basket.points_to_redeem = points
            words = self.tr.ngettext("redeeming {n} point", "redeeming {n} points", points).format(n=points)
            return Outcome(True, words if points else self.tr._("no points redeemed"), "info")

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
                claim_code=self._claim_code(),
                rewards=self._rewards_on_receipt(),
            )
            self.last_sale = sale
            self.new_sale()
            return sale

    def _rewards_on_receipt(self) -> tuple[tuple[str, int], ...]:
        """(name, points) of the rewards claimed during this sale for the member now on it."""
        if self.customer is None:
            return ()
        return tuple((name, points) for who, name, points in self.sale_rewards if who == self.customer.id)

    def _claim_code(self) -> str | None:
        """A fresh receipt claim code for a guest sale after a member could not be identified; else None."""
        if self.customer is not None or not self.claim_pending:
            return None
        from edge.core.claims import new_claim_code

        return new_claim_code()

    def record_feedback(self, score: int) -> str:
        with self.lock:
            if self.last_sale is None:
                raise SaleError(self.tr._("there is no sale to attach the answer to"))
            sale_id = self.last_sale.sale_id
            return self.sales.record_feedback(sale_id, self.repo.sale_customer(sale_id), score)

    def new_sale(self) -> None:
        with self.lock:
            self.sale_seq += 1  # a new sale: what was said about the last one no longer applies
            self.basket = Basket()
            self.customer = None
            self.claim_pending = False
            self.sale_rewards = []
            self._focus(None)
            self._reload_offers()

    # parked sales -------------------------------------------------------------------------------------
    def park(self) -> Outcome:
        """Set the basket aside (kept in the database) and start a new sale."""
        with self.lock:
            if self.basket.is_empty:
                return Outcome(False, self.tr._("the basket is empty: nothing to park"), "error")
            label = self.customer.display_name if self.customer else self.tr._("Guest")
            due = self.settlement().amount_due_cents
            parked = park_basket(self.db, self.basket, label=label, total_cents=due, now=self.clock(),
                                 rewards=self.sale_rewards)
            self.new_sale()
            money = self.sales.formats.money(parked.total_cents)
            return Outcome(True, self.tr._("Parked: {label}, {items}, {total}. F12 on an empty basket recalls it.")
                           .format(label=label, items=items_words(parked.items, self.tr), total=money),
                           "info")  # fmt: skip

    def parked(self) -> list[ParkedSale]:
        with self.lock:
            return parked_sales(self.db)

    def parked_count(self) -> int:
        with self.lock:
            return parked_count(self.db)

    def recall(self, parked_id: str) -> Outcome:
        """Bring a parked sale back as the current basket (which must be empty)."""
        with self.lock:
            if not self.basket.is_empty:
                return Outcome(False, self.tr._("finish or park the current sale before recalling another"), "error")
            try:
                recalled = recall_basket(self.db, parked_id)
            except ParkedSaleError as exc:
                return Outcome(False, self.tr.text(exc.args[0]), "error")
            self.new_sale()
            notes: list[str] = []
            customer = self.repo.customer(recalled.customer_id) if recalled.customer_id else None
            if customer is not None:
                self.set_customer(customer)
            elif recalled.customer_id:
                notes.append(self.tr._("customer {id} is no longer known here").format(id=recalled.customer_id))
            for product, qty in recalled.products:
                line = self.basket.add(product, qty)
                self._focus(line.line_no)
            for code, offer_id in recalled.coupons.items():
                coupon, problem = self.repo.check_coupon(code, customer.id if customer else None, self.tr)
                if coupon is None or coupon["offer_id"] != offer_id:
                    notes.append(problem or self.tr._("coupon {code} changed; scan it again").format(code=code))
                else:
                    self.basket.coupons[code] = offer_id
            if customer is not None and recalled.points_to_redeem:
                # checked again: the member may have spent the points elsewhere while the sale was parked
                problem = check_redemption(recalled.points_to_redeem, self.redemption_limit(), self.rules, self.tr)
                if problem:
                    notes.append(self.tr._("{points} points were to be redeemed, not kept: {problem}").format(
                        points=recalled.points_to_redeem, problem=problem))
                else:
                    self.basket.points_to_redeem = recalled.points_to_redeem
            self.sale_rewards = list(recalled.rewards)  # claimed (and spent) before the sale was parked
            items = sum(qty for _, qty in recalled.products)
            text = self.tr._("Recalled: {label}, {items}").format(
                label=customer.display_name if customer else self.tr._("Guest"), items=items_words(items, self.tr))
            return Outcome(not notes, text + (" - " + "; ".join(notes) if notes else ""), "info")

    # what the totals and the panel explain ------------------------------------------------------------
    def points_reason(self, settlement: Settlement) -> str:
        """Why the sale earns what it earns, for the cashier: the base rate, the tier and any multipliers."""
        with self.lock:
            if self.customer is None:
                return ""
            rules, currency = self.rules, self.settings.store.currency
            # one whole unit of the currency (10^exponent minor units), without its zero decimals
            unit = self.sales.formats.money(10 ** minor_exponent(currency)).replace(".00", "").replace(",00", "")
            ppu = rules.points_per_unit
            rate = self.tr._("{points} pt per {unit} paid") if ppu == 1 else self.tr._("{points} pts per {unit} paid")
            parts = [rate.format(points=self.sales.formats.number(ppu), unit=unit)]
            tier_mult = (rules.tier_multipliers or {}).get(self.customer.tier, 1.0)
            if tier_mult != 1.0:
                parts.append(f"{self.customer.tier} x{tier_mult:g}")
            categories = {p.line.product.category for p in settlement.pricing.lines}
            for category in sorted(categories):
                mult = (rules.category_multipliers or {}).get(category, 1.0)
                if mult != 1.0:
                    parts.append(f"{category} x{mult:g}")
            parts.extend(settlement.pricing.multiplier_reasons)
            return ", ".join(parts)

    def unmet_coupons(self, settlement: Settlement) -> list[tuple[str, str]]:
        """Coupons in the basket that give nothing now: (code, what they need)."""
        with self.lock:
            given = {d.offer_id for d in settlement.pricing.discounts}
            return [(code, self.coupon_condition(offer_id)) for code, offer_id in sorted(self.basket.coupons.items())
                    if offer_id not in given]  # fmt: skip
