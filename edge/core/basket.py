"""The basket a cashier is building: pure state, priced by the offers engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from edge.core.catalog import Product
from edge.core.contract import MAX_QTY
from edge.core.i18n import N_, Text
from edge.core.l10n import Formats
from edge.core.loyalty import LoyaltyRules, Settlement, settle
from edge.core.offers import BasketLine, CustomerContext, Offer, Pricing, evaluate


class BasketError(ValueError):
    pass


@dataclass
class Basket:
    lines: list[BasketLine] = field(default_factory=list)
    customer: CustomerContext | None = None
    coupons: dict[str, str] = field(default_factory=dict)  # code -> offer id
    points_to_redeem: int = 0
    _next_line: int = 1
    # lines voided on this sale, last one last: ``restore_voided`` brings them back (a new sale starts empty)
    voided: list[BasketLine] = field(default_factory=list)

    def add(self, product: Product, qty: int = 1) -> BasketLine:
        """Scanning the same product again adds to its last line, as cashiers expect."""
        if qty < 1 or qty > MAX_QTY:
            raise BasketError(Text(N_("quantity must be between 1 and {max}"), max=MAX_QTY))
        if self.lines and self.lines[-1].product == product:
            return self.set_qty(self.lines[-1].line_no, min(self.lines[-1].qty + qty, MAX_QTY))
        line = BasketLine(self._next_line, product, qty)
        self._next_line += 1
        self.lines.append(line)
        return line

    def set_qty(self, line_no: int, qty: int) -> BasketLine:
        if qty < 1 or qty > MAX_QTY:
            raise BasketError(Text(N_("quantity must be between 1 and {max}"), max=MAX_QTY))
        for i, line in enumerate(self.lines):
            if line.line_no == line_no:
                self.lines[i] = BasketLine(line_no, line.product, qty)
                return self.lines[i]
        raise BasketError(Text(N_("there is no line {line}"), line=line_no))

    def void(self, line_no: int) -> BasketLine:
        """Take line ``line_no`` out of the basket; it is remembered in ``voided`` for an undo."""
        for i, line in enumerate(self.lines):
            if line.line_no == line_no:
                voided = self.lines.pop(i)
                self.voided.append(voided)
                return voided
        raise BasketError(Text(N_("there is no line {line}"), line=line_no))

    def restore_voided(self) -> BasketLine:
        """Undo the last void of this sale: the line comes back as it was (same number, product with the price
        it was rung up at, quantity) in its place among the lines; offers are re-evaluated on the next
        ``price``. BasketError when nothing was voided."""
        if not self.voided:
            raise BasketError("no line was voided on this sale")
        line = self.voided.pop()
        at = next((i for i, kept in enumerate(self.lines) if kept.line_no > line.line_no), len(self.lines))
        self.lines.insert(at, line)
        return line

    def price(self, offers: list[Offer], now: datetime, formats: Formats | None = None) -> Pricing:
        """The basket priced by the offers engine; discount reasons in ``formats``' language (English)."""
        return evaluate(self.lines, offers, self.customer, now, self.coupons.values(), formats)

    def settle(self, offers: list[Offer], now: datetime, rules: LoyaltyRules,
               formats: Formats | None = None) -> Settlement:
        """Priced, then points redeemed and earned (``edge.core.loyalty.settle``)."""
        tier = self.customer.tier if self.customer else None
        points = self.points_to_redeem if self.customer else 0
        return settle(self.price(offers, now, formats), points, rules, tier, formats.currency if formats else "EUR")

    @property
    def is_empty(self) -> bool:
        return not self.lines
