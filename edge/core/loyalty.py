"""Points: earning, redemption limits and the offline balance.

Earning: each line's exact points are ``paid * points_per_unit * category multiplier * tier multiplier * promo
multiplier / minor units per currency unit``, where ``paid`` (in minor units) is what the line costs after discounts and after its share of the points
redeemed (points do not earn points). ``points_per_unit`` is per whole unit of the store's currency: the
minor units per unit are ``10 ** minor_exponent(currency)`` by ISO 4217 (EUR, COP 100; CLP, JPY 1; KWD 1000),
the same table the amounts are kept in (``edge.core.money``), so a peso in Chile earns what a euro earns in
Spain at the same rate, never a hundredth of it. Multipliers are exact fractions of the configured decimals. The order
earns ``floor`` of the sum of its lines' exact points - rounded once per order, as ERPNext and Odoo do, so
that a tier multiplier still counts on cheap lines - and that total is allocated to the lines by largest
remainder (``edge.core.money.split_floored``, rule 4 there): each line's ``points`` is the floor or ceiling of
its exact points, and the lines add up to the order's points, so a returned line reverses exactly its share.

Redemption: points are worth ``point_value_cents`` each (value rounded down), at least ``min_redeem_points``
at a time, for at most ``max_redeem_share`` of the basket after discounts, never more than the available
balance, and - while the hub is unreachable - no more than ``offline_burn_cap_points`` per customer per day
(pending offline burns included), which bounds what can be double-spent across stores during an outage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import floor

from edge.core.i18n import ENGLISH, Translator
from edge.core.l10n import ENGLISH as ENGLISH_FORMATS
from edge.core.l10n import Formats
from edge.core.money import allocate, exact, minor_exponent, split_floored, vat_included
from edge.core.offers import Pricing


@dataclass(frozen=True)
class LoyaltyRules:
    points_per_unit: float = 1.0
    category_multipliers: Mapping[str, float] | None = None
    tier_multipliers: Mapping[str, float] | None = None
    point_value_cents: float = 1.0
    min_redeem_points: int = 100
    max_redeem_share: float = 0.5
    offline_burn_cap_points: int = 2_000

    @classmethod
    def from_settings(cls, s: object) -> LoyaltyRules:
        return cls(**{f: getattr(s, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Balance:
    """available = confirmed (from the hub) + pending local earns - pending local burns; ``locked``: the part
    still in the programme's pending period (``edge.core.programme``), which cannot be spent yet."""

    confirmed: int
    pending_earn: int = 0
    pending_burn: int = 0
    locked: int = 0

    @property
    def available(self) -> int:
        return self.confirmed + self.pending_earn - self.pending_burn

    @property
    def spendable(self) -> int:
        """What may be redeemed now: the available points less those still locked."""
        return max(self.available - self.locked, 0)

    @property
    def pending(self) -> int:
        return self.pending_earn - self.pending_burn


@dataclass(frozen=True)
class RedemptionLimit:
    max_points: int
    reason: str  # what limits it, in words for the cashier


def points_value_cents(points: int, rules: LoyaltyRules) -> int:
    return floor(Fraction(points) * exact(rules.point_value_cents))


def redemption_limit(
    balance: Balance,
    payable_cents: int,
    rules: LoyaltyRules,
    *,
    hub_online: bool,
    offline_burned_today: int = 0,
    formats: Formats = ENGLISH_FORMATS,
) -> RedemptionLimit:
    """The most points the customer may redeem on this basket now, and why, in ``formats``' language."""
    tr = formats.tr
    value = exact(rules.point_value_cents)
    if value <= 0:
        return RedemptionLimit(0, tr._("points cannot be redeemed in this store"))
    share_cents = floor(Fraction(payable_cents) * exact(rules.max_redeem_share))
    share = formats.percent(float(rules.max_redeem_share))
    limits = [
        (max(balance.spendable, 0), tr._("the customer's spendable points") if balance.locked
         else tr._("the customer's available points")),
        (floor(share_cents / value), tr._("at most {share} of the basket may be paid with points").format(share=share)),
    ]
    if not hub_online:
        left = max(rules.offline_burn_cap_points - offline_burned_today, 0)
        limits.append((left, tr._("offline limit of {n} points per customer per day")
                       .format(n=rules.offline_burn_cap_points)))  # fmt: skip
    max_points, reason = min(limits, key=lambda lr: lr[0])
    if max_points < rules.min_redeem_points:
        return RedemptionLimit(0, tr._("at least {n} points are needed; {reason}: {max}")
                               .format(n=rules.min_redeem_points, reason=reason, max=max_points))  # fmt: skip
    return RedemptionLimit(max_points, reason)


def check_redemption(points: int, limit: RedemptionLimit, rules: LoyaltyRules, tr: Translator = ENGLISH) -> str | None:
    """None when ``points`` may be redeemed, else a sentence for the cashier (in ``tr``'s language)."""
    if points == 0:
        return None
    if points < 0:
        return tr._("points to redeem cannot be negative")
    if points < rules.min_redeem_points:
        return tr._("redeem at least {n} points").format(n=rules.min_redeem_points)
    if points > limit.max_points:
        return tr._("at most {max} points can be redeemed now ({reason})").format(max=limit.max_points,
                                                                                  reason=limit.reason)
    return None


@dataclass(frozen=True)
class SettledLine:
    line_no: int
    paid_cents: int  # after discounts and the line's share of the points value
    vat_cents: int
    points: int


@dataclass(frozen=True)
class Settlement:
    """The money and points of a basket once the customer chose how many points to redeem."""

    pricing: Pricing
    points_redeemed: int
    points_value_cents: int
    lines: tuple[SettledLine, ...]

    @property
    def amount_due_cents(self) -> int:
        return self.pricing.total_cents - self.points_value_cents

    @property
    def vat_cents(self) -> int:
        return sum(ln.vat_cents for ln in self.lines)

    @property
    def points_earned(self) -> int:
        return sum(ln.points for ln in self.lines)


def settle(pricing: Pricing, points_redeemed: int, rules: LoyaltyRules, tier: str | None,
           currency: str = "EUR") -> Settlement:
    """Spread the redeemed points' value over the lines; compute VAT per line and the points earned, rounded
    once per order and allocated to the lines by largest remainder (module docstring).

    ``tier`` None means a guest: guests earn nothing. ``currency`` (ISO 4217) says how many minor units make
    the unit ``points_per_unit`` is counted in (module docstring).
    """
    value = min(points_value_cents(points_redeemed, rules), pricing.total_cents)
    priced = sorted(pricing.lines, key=lambda p: p.line.line_no)
    shares = allocate(value, [p.net_cents for p in priced])
    ppu, tier_mult = rules.points_per_unit, (rules.tier_multipliers or {}).get(tier or "", 1.0)
    paid = [p.net_cents - share for p, share in zip(priced, shares, strict=True)]
    points = [0] * len(priced)
    if tier is not None:
        unit = 10 ** minor_exponent(currency)  # minor units per currency unit (ISO 4217)
        factors = [
            _earn_factor(ppu, tier_mult, (rules.category_multipliers or {}).get(p.line.product.category, 1.0),
                         p.points_multiplier, unit)
            for p in priced
        ]  # fmt: skip
        points = split_floored([c * num for c, (num, _) in zip(paid, factors, strict=True)], [d for _, d in factors])
    settled = tuple(
        SettledLine(p.line.line_no, c, vat_included(c, p.line.product.vat_rate_bp), pts)
        for p, c, pts in zip(priced, paid, points, strict=True)
    )
    return Settlement(pricing, points_redeemed, value, settled)


@lru_cache(maxsize=4096)
def _earn_factor(ppu: float, tier: float, category: float, promo: Fraction, unit: int = 100) -> tuple[int, int]:
    """points per minor unit (``unit`` minor units per currency unit) as an exact fraction (numerator,
    denominator); a sale's hot path, so cached."""
    factor = exact(ppu) * exact(tier) * exact(category) * promo / unit
    return factor.numerator, factor.denominator


def balance_from_ledger(confirmed: int, pending_entries: Sequence[tuple[str, int]]) -> Balance:
    """``pending_entries``: (kind, points) of local ledger entries the hub has not confirmed yet."""
    earn = sum(p for k, p in pending_entries if k == "earn")
    burn = sum(p for k, p in pending_entries if k == "burn")
    return Balance(confirmed, earn, burn)
