"""The offers engine: which offers apply to a basket, and what each one takes off.

Stacking and priority rules (deterministic; neither offer order nor line order changes the result):

1. Eligibility: an offer applies only if active, inside its validity window, for the customer's tier (when
   it names tiers), for that customer (personal offers), and with its coupon presented (coupon offers).
   Guests get only offers with none of those conditions. An offer marked ``birthday_month`` (older hubs) never
   applies: it gave its discount on every sale of the month; the birthday gift is now a single-use personal
   coupon the hub issues (``hub issue-birthday-coupons``, issue 15).
2. Line offers (``percent_off``, ``buy_x_get_y``): each line takes the single best non-stackable line
   offer - the largest amount; ties go to the higher priority, then the smaller offer id. Stackable line
   offers add to it, in (priority desc, id) order, until the line is free; a line never goes below zero.
3. Basket offers (``amount_off_basket``): the threshold is checked against the basket after line
   discounts. The best non-stackable one applies (same tie rule) and every stackable one after it; the
   total never goes below zero. A basket discount is spread over the lines (see ``money.allocate``).
4. Points multipliers multiply nothing together: each line earns with the largest multiplier that targets it.
5. Every discount carries a one-line reason that the receipt prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from functools import cached_property
from typing import Any

from edge.core.catalog import Product
from edge.core.contract import OFFER_KINDS, OfferKind, OfferRole, offer_kinds, offer_params_problem
from edge.core.l10n import Formats
from edge.core.money import allocate, exact, percent_of

# the kinds and their parameter checks are the contract's registry (one place to add a kind)
LINE_KINDS = offer_kinds(OfferRole.LINE)
KINDS = offer_kinds()


@dataclass(frozen=True)
class Offer:
    id: str
    kind: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    stackable: bool = False
    tiers: tuple[str, ...] = ()
    customer_id: str | None = None
    requires_coupon: bool = False
    birthday_month: bool = False
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    source: str = "hub"
    active: bool = True

    def targets(self, product: Product) -> bool:
        gtins = self.params.get("gtins")
        category = self.params.get("category")
        if gtins and product.gtin not in gtins:
            return False
        return not (category and product.category != category)

    @property
    def sort_key(self) -> tuple[int, str]:
        return (-self.priority, self.id)


@dataclass(frozen=True)
class CustomerContext:
    id: str
    tier: str
    birthday: date | None = None


@dataclass(frozen=True)
class BasketLine:
    line_no: int
    product: Product
    qty: int

    @property
    def gross_cents(self) -> int:
        return self.product.price_cents * self.qty


@dataclass(frozen=True)
class Discount:
    offer_id: str
    line_no: int | None  # None: a basket discount (its spread over lines is in PricedLine.discount_cents)
    amount_cents: int
    reason: str
    short: str = ""  # the reason without the product name, for the till's narrow basket column


@dataclass(frozen=True)
class PricedLine:
    line: BasketLine
    discount_cents: int
    points_multiplier: Fraction

    @property
    def net_cents(self) -> int:
        return self.line.gross_cents - self.discount_cents


@dataclass(frozen=True)
class Pricing:
    lines: tuple[PricedLine, ...]
    discounts: tuple[Discount, ...]
    multiplier_reasons: tuple[str, ...]

    @cached_property
    def subtotal_cents(self) -> int:
        return sum(p.line.gross_cents for p in self.lines)

    @cached_property
    def discount_cents(self) -> int:
        return sum(p.discount_cents for p in self.lines)

    @cached_property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents

    @property
    def offer_ids(self) -> tuple[str, ...]:
        return tuple(sorted({d.offer_id for d in self.discounts}))


def is_eligible(
    offer: Offer, customer: CustomerContext | None, now: datetime, coupon_offer_ids: Iterable[str] = ()
) -> bool:
    if not offer.active or offer.kind not in KINDS or offer.birthday_month:
        return False  # birthday_month: see rule 1
    if offer_params_problem(offer.kind, offer.params) is not None:
        return False  # an offer the engine cannot evaluate is skipped; it must never stop a sale
    if offer.valid_from and now < offer.valid_from:
        return False
    if offer.valid_until and now >= offer.valid_until:
        return False
    if offer.requires_coupon and offer.id not in set(coupon_offer_ids):
        return False
    if offer.customer_id or offer.tiers:
        if customer is None:
            return False
        if offer.customer_id and offer.customer_id != customer.id:
            return False
        if offer.tiers and customer.tier not in offer.tiers:
            return False
    return True


LineCandidates = dict[int, tuple[int, str]]  # line_no -> (amount in cents, reason) one line offer would take off


def _percent_candidates(offer: Offer, targeted: Sequence[BasketLine], fmt: Formats) -> LineCandidates:
    out: LineCandidates = {}
    percent = float(offer.params.get("percent", 0))
    if not 0 < percent <= 100:
        return out
    for ln in targeted:
        amount = percent_of(ln.gross_cents, percent)
        if amount > 0:
            out[ln.line_no] = (amount, fmt.tr._("{offer}: {percent} off {product}").format(
                offer=offer.name, percent=fmt.percent(percent / 100), product=ln.product.name))
    return out


def _buy_x_get_y_candidates(offer: Offer, targeted: Sequence[BasketLine], fmt: Formats) -> LineCandidates:
    out: LineCandidates = {}
    buy, get = int(offer.params.get("buy", 0)), int(offer.params.get("get", 0))
    if buy < 1 or get < 1:
        return out
    # every unit, dearest first; in each complete group of buy+get units the cheapest `get` are free
    units = sorted(
        ((ln.product.price_cents, ln.line_no) for ln in targeted for _ in range(ln.qty)),
        key=lambda u: (-u[0], u[1]),
    )
    free: dict[int, int] = {}
    group = buy + get
    for start in range(0, len(units) - group + 1, group):
        for price, line_no in units[start + buy : start + group]:
            free[line_no] = free.get(line_no, 0) + price
    names = {ln.line_no: ln.product.name for ln in targeted}
    for line_no, amount in free.items():
        if amount > 0:
            out[line_no] = (amount, fmt.tr._("{offer}: buy {buy} get {get} free ({product})").format(
                offer=offer.name, buy=buy, get=get, product=names[line_no]))
    return out


# how each line kind (contract.OfferRole.LINE) prices the lines it targets
_LINE_PRICERS: dict[str, Callable[[Offer, Sequence[BasketLine], Formats], LineCandidates]] = {
    OfferKind.PERCENT_OFF: _percent_candidates,
    OfferKind.BUY_X_GET_Y: _buy_x_get_y_candidates,
}


def _line_candidates(offer: Offer, lines: Sequence[BasketLine], fmt: Formats) -> LineCandidates:
    """line_no -> (amount, reason) this line offer would take off, on its own; reasons in ``fmt``'s language."""
    pricer = _LINE_PRICERS.get(offer.kind)
    return {} if pricer is None else pricer(offer, [ln for ln in lines if offer.targets(ln.product)], fmt)


@dataclass
class _Discounting:
    """The running state of one evaluation: gross and discount per line, and the discounts so far."""

    gross: dict[int, int]
    line_discount: dict[int, int]
    fmt: Formats  # the language and money the reasons are written in
    discounts: list[Discount] = field(default_factory=list)

    def remaining(self) -> dict[int, int]:
        return {n: self.gross[n] - self.line_discount[n] for n in self.gross}


def _apply_line_offers(lines: Sequence[BasketLine], eligible: Sequence[Offer], state: _Discounting) -> None:
    """Rule 2: each line takes its best non-stackable line offer, then every stackable one, never below zero."""
    candidates = [(o, _line_candidates(o, lines, state.fmt)) for o in eligible if o.kind in LINE_KINDS]
    for ln in lines:
        best: tuple[int, Offer, str] | None = None
        for offer, per_line in candidates:
            if offer.stackable or ln.line_no not in per_line:
                continue
            amount, reason = per_line[ln.line_no]
            if best is None or amount > best[0]:  # candidates are already in tie-break order
                best = (amount, offer, reason)
        chosen = [best] if best else []
        chosen += [
            (per_line[ln.line_no][0], offer, per_line[ln.line_no][1])
            for offer, per_line in candidates
            if offer.stackable and ln.line_no in per_line
        ]
        for amount, offer, reason in chosen:
            amount = min(amount, state.gross[ln.line_no] - state.line_discount[ln.line_no])
            if amount > 0:
                state.line_discount[ln.line_no] += amount
                state.discounts.append(Discount(offer.id, ln.line_no, amount, reason, _short(offer)))


def _apply_basket_offers(eligible: Sequence[Offer], state: _Discounting) -> None:
    """Rule 3: basket offers against what the lines cost after line discounts; the best non-stackable one and
    every stackable one, each spread over the lines (``money.allocate``), the total never below zero."""
    net_total = sum(state.remaining().values())
    basket_offers = [
        o
        for o in eligible
        if OFFER_KINDS[o.kind].role is OfferRole.BASKET
        and int(o.params.get("amount_cents", 0)) > 0
        and net_total >= int(o.params.get("threshold_cents", 0))
    ]
    non_stackable = [o for o in basket_offers if not o.stackable]
    chosen: list[Offer] = []
    if non_stackable:
        chosen.append(min(non_stackable, key=lambda o: (-int(o.params["amount_cents"]), *o.sort_key)))
    chosen += [o for o in basket_offers if o.stackable]
    for offer in chosen:
        remaining = state.remaining()
        amount = min(int(offer.params["amount_cents"]), sum(remaining.values()))
        if amount <= 0:
            continue
        order = sorted(remaining)
        for n, part in zip(order, allocate(amount, [remaining[n] for n in order]), strict=True):
            state.line_discount[n] += part
        threshold = int(offer.params.get("threshold_cents", 0))
        tr = state.fmt.tr
        reason = tr._("{offer}: {amount} off on a basket over {threshold}") if threshold else tr._("{offer}: {amount} off")
        reason = reason.format(offer=offer.name, amount=state.fmt.money(amount), threshold=state.fmt.money(threshold))
        state.discounts.append(Discount(offer.id, None, amount, reason, offer.name))


def _points_multipliers(
    lines: Sequence[BasketLine], eligible: Sequence[Offer], state: _Discounting
) -> tuple[list[PricedLine], set[str]]:
    """Rule 4: each line earns with the largest multiplier that targets it (multipliers never multiply)."""
    multipliers = [o for o in eligible if OFFER_KINDS[o.kind].role is OfferRole.MULTIPLIER]
    priced: list[PricedLine] = []
    reasons: set[str] = set()
    for ln in lines:
        best_mult, best_offer = Fraction(1), None
        for offer in multipliers:
            if offer.targets(ln.product):
                m = exact(offer.params.get("multiplier", 1))
                if m > best_mult:
                    best_mult, best_offer = m, offer
        if best_offer is not None:
            reasons.add(state.fmt.tr._("{offer}: {multiplier}x points").format(
                offer=best_offer.name, multiplier=state.fmt.number(float(best_mult))))
        priced.append(PricedLine(ln, state.line_discount[ln.line_no], best_mult))
    return priced, reasons


def evaluate(
    lines: Sequence[BasketLine],
    offers: Iterable[Offer],
    customer: CustomerContext | None,
    now: datetime,
    coupon_offer_ids: Iterable[str] = (),
    formats: Formats | None = None,
) -> Pricing:
    """Price a basket: every discount with its reason, per-line totals, per-line points multipliers.

    ``lines`` in any order; ``offers`` as stored (ineligible or malformed ones are skipped, rule 1);
    ``coupon_offer_ids``: the offers whose coupon was presented. Amounts in cents. The rules are this
    module's docstring; the result does not depend on the order of offers or lines. Never raises for bad offers.
    Reasons are written in ``formats``' language and money (the store's; English and euros if None).
    """
    coupon_ids = set(coupon_offer_ids)
    eligible = sorted(
        (o for o in offers if is_eligible(o, customer, now, coupon_ids)), key=lambda o: o.sort_key
    )
    lines = sorted(lines, key=lambda ln: ln.line_no)
    state = _Discounting({ln.line_no: ln.gross_cents for ln in lines}, {ln.line_no: 0 for ln in lines},
                         formats or Formats())
    _apply_line_offers(lines, eligible, state)
    _apply_basket_offers(eligible, state)
    priced, reasons = _points_multipliers(lines, eligible, state)
    discounts = sorted(state.discounts, key=lambda d: (d.line_no if d.line_no is not None else 1 << 30, d.offer_id))
    return Pricing(tuple(priced), tuple(discounts), tuple(sorted(reasons)))


def _short(offer: Offer) -> str:
    if offer.kind == OfferKind.PERCENT_OFF:
        return f"{offer.name} -{float(offer.params.get('percent', 0)):g}%"
    if offer.kind == OfferKind.BUY_X_GET_Y:
        return f"{offer.name} ({offer.params.get('buy')}+{offer.params.get('get')})"
    return offer.name
