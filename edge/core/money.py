"""Money is integer cents; prices include VAT. The rounding rules, all in one place:

1. Percentages of an amount round half up to the cent (``percent_of``): 10 % of 1.25 is 0.13.
2. The VAT inside a VAT-inclusive amount is ``gross * rate / (1 + rate)``, rounded half up, per sale line
   after that line's discounts; the receipt's VAT total is the sum of the lines.
3. A basket-level amount (a basket discount, the value of redeemed points) is spread over the lines in
   proportion to what each line still costs, with the largest-remainder method, so the parts add up to
   the whole exactly and no line gets more than it costs.
4. Points earned are rounded once per order, not per line (``split_floored``): each line's exact points
   (a fraction: what it costs x points per euro x its multipliers) are summed over the order and the sum is
   rounded down once; that total is then allocated to the lines by largest remainder (Hamilton's method),
   so every line gets the floor or the ceiling of its exact share and the lines add up to the order's
   points. A line's share is recorded with it, so a returned line reverses exactly its share. This is how
   ERPNext and Odoo round loyalty points (per order): 10 lines of 1.49 earn 14 points at x1 and 18 at
   x1.25, where flooring each line would give 10 and 10.
5. The value of redeemed points is rounded down to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from math import lcm

Cents = int

CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}


@lru_cache(maxsize=1024)
def exact(value: float | int | str) -> Fraction:
    """The decimal a setting was written as (1.1 is 11/10, not the float nearest to it), cached: hot path."""
    return Fraction(str(value))


def percent_of(amount: Cents, percent: float) -> Cents:
    """``percent`` % of ``amount``, half up. Works in hundredths of a percent to stay exact."""
    basis_points = round(percent * 100)
    return (amount * basis_points + 5_000) // 10_000


def vat_included(gross: Cents, vat_rate_bp: int) -> Cents:
    """The VAT contained in a VAT-inclusive ``gross`` amount at ``vat_rate_bp`` basis points, half up."""
    if gross <= 0 or vat_rate_bp <= 0:
        return 0
    numerator = gross * vat_rate_bp
    denominator = 10_000 + vat_rate_bp
    return (2 * numerator + denominator) // (2 * denominator)


def allocate(total: Cents, weights: Sequence[Cents]) -> list[Cents]:
    """Split ``total`` over ``weights`` proportionally; parts sum to ``total`` and never exceed a weight.

    Largest remainder, ties to the earlier index (deterministic). ``total`` must not exceed ``sum(weights)``.
    """
    whole = sum(weights)
    if total < 0 or total > whole:
        raise ValueError(f"cannot allocate {total} over {whole}")
    if whole == 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    short = total - sum(parts)
    for i in remainders:
        if short == 0:
            break
        if parts[i] < weights[i]:
            parts[i] += 1
            short -= 1
    return parts


def split_floored(numerators: Sequence[int], denominators: Sequence[int]) -> list[int]:
    """Round exact shares once: the whole is ``floor(sum(n_i / d_i))``, spread so each part is the floor or the
    ceiling of its share ``n_i / d_i`` and the parts add up to the whole (rule 4 above).

    The parts that get the extra unit are those with the largest fractional remainders, ties to the earlier
    index (deterministic: callers pass lines in line-number order). Integers only, no floats: the shares are
    put on their least common denominator. Numerators must be >= 0 and denominators > 0 (ValueError).
    """
    count = len(numerators)
    if count != len(denominators):
        raise ValueError("one denominator per numerator")
    if not count:
        return []
    if min(numerators) < 0 or min(denominators) <= 0:
        raise ValueError("shares must be non-negative with positive denominators")
    common = denominators[0] if count == 1 else lcm(*denominators)
    scaled = [n * (common // d) for n, d in zip(numerators, denominators)]  # noqa: B905 - lengths checked
    parts = [v // common for v in scaled]
    short = sum(scaled) // common - sum(parts)  # 0 <= short < count: the sum of the fractional parts
    if short:
        remainders = [v % common for v in scaled]
        for i in sorted(range(count), key=lambda i: -remainders[i])[:short]:  # stable: ties to the earlier
            parts[i] += 1
    return parts


def format_money(amount: Cents, currency: str = "EUR") -> str:
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    return f"{sign}{symbol}{whole:,}.{cents:02d}"


def parse_money(text: str) -> Cents:
    """'12.5' -> 1250, '12,50' -> 1250, '3' -> 300. Raises ValueError with a readable message."""
    cleaned = text.strip().replace("€", "").replace("$", "").replace("£", "").replace(",", ".").strip()
    if not cleaned:
        raise ValueError("enter an amount, for example 20 or 12.50")
    whole, _, frac = cleaned.partition(".")
    # ASCII digits only: str.isdigit() also accepts '²' and other scripts' digits, which int() rejects or
    # reads silently
    digits = whole + frac
    if not digits or not (digits.isascii() and digits.isdigit()) or len(frac) > 2:
        raise ValueError(f"'{text}' is not an amount; type it like 12.50")
    return int(whole or "0") * 100 + int((frac + "00")[:2])
