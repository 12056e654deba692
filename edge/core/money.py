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
6. Amounts are integer *minor units* of the store's currency, by its ISO 4217 exponent (py-moneyed's data):
   cents for EUR, USD and COP (exponent 2), whole units for CLP and JPY (exponent 0). "Cents" in names
   means minor units. How many of those digits are *shown* and how cash is rounded come from CLDR (Babel):
   COP is shown without decimals (``$7.440``) and paid in cash to the whole peso, CHF cash to 0.05
   (``cash_round``). Formatting and parsing by locale are ``format_money`` and ``parse_money`` here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from math import lcm

Cents = int


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


@lru_cache(maxsize=64)
def minor_exponent(currency: str) -> int:
    """Decimal digits of ``currency``'s minor unit by ISO 4217 (EUR 2, COP 2, CLP 0, JPY 0, KWD 3).

    Raises ValueError for a code that is not an ISO 4217 currency.
    """
    import moneyed  # deferred: only money formatting needs the currency table

    try:
        unit = moneyed.get_currency(currency.upper())
    except (moneyed.CurrencyDoesNotExist, AttributeError):
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code (for example EUR, COP, MXN)") from None
    sub_unit = int(unit.sub_unit or 1)
    return len(str(sub_unit)) - 1


@lru_cache(maxsize=64)
def _cash_rules(currency: str) -> tuple[int, int]:
    """(digits shown, cash rounding increment in those digits) from CLDR's currency data (via Babel)."""
    from babel.core import get_global

    fractions = get_global("currency_fractions")
    digits, _rounding, cash_digits, cash_rounding = fractions.get(currency.upper(), fractions["DEFAULT"])
    return cash_digits, cash_rounding


def shown_digits(currency: str) -> int:
    """How many decimals a ``currency`` amount is shown with (CLDR): EUR 2, COP 0, CLP 0, JPY 0."""
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency.upper()))


def cash_round(amount: Cents, currency: str) -> Cents:
    """``amount`` (minor units) rounded half up to what can be paid in cash in ``currency`` (CLDR cash rules).

    EUR stays to the cent; COP rounds to the whole peso (100 minor units); CHF to 0.05. A store whose law
    differs (Dutch 5-cent cash rounding) configures it at the till; this is the currency's own rule.
    """
    cash_digits, increment = _cash_rules(currency)
    step = 10 ** max(0, minor_exponent(currency) - cash_digits) * max(1, increment)
    if step == 1:
        return amount
    sign = -1 if amount < 0 else 1
    return sign * ((abs(amount) + step // 2) // step * step)


def format_money(amount: Cents, currency: str = "EUR", locale: str = "en") -> str:
    """``amount`` minor units of ``currency`` written the way ``locale`` writes money (Babel/CLDR).

    ``format_money(744, "EUR", "es_ES")`` -> ``'7,44\\xa0€'``; ``format_money(744_000, "COP", "es_CO")`` ->
    ``'$7.440'``; English: ``'€7.44'``. Digits shown follow CLDR; a remainder below them is never hidden.
    """
    from babel.numbers import format_currency

    code = currency.upper()
    value = Decimal(amount).scaleb(-minor_exponent(code))
    shown = shown_digits(code)
    hidden = value != value.quantize(Decimal(1).scaleb(-shown)) if shown < minor_exponent(code) else False
    text = str(format_currency(value, code, locale=locale.replace("-", "_"), currency_digits=not hidden))
    # CLDR's currencySpacing, which Babel does not apply: a letter symbol never touches the digits (CHF 10.00)
    return _LETTER_DIGIT.sub("\xa0", text)


_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def _amount_error(text: str, locale: str, empty: bool) -> ValueError:
    from edge.core.i18n import translator

    tr = translator(locale)
    example = format_number_plain(1250, 2, locale)
    if empty:
        return ValueError(tr._("enter an amount, for example 20 or {example}").format(example=example))
    return ValueError(tr._("'{text}' is not an amount; type it like {example}").format(text=text, example=example))


def format_number_plain(amount: Cents, exponent: int, locale: str) -> str:
    """``amount`` minor units as a bare number with ``exponent`` decimals in ``locale`` (no grouping)."""
    from babel.numbers import get_decimal_symbol

    whole, frac = divmod(abs(amount), 10**exponent)
    sign = "-" if amount < 0 else ""
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}{get_decimal_symbol(locale.replace('-', '_'))}{frac:0{exponent}d}"


def _strip_symbols(text: str) -> str:
    """``text`` without currency signs (Unicode category Sc) and the spaces around it: ' € 7,05' -> '7,05'.

    Spaces inside the number stay (and are refused): ``12 50`` is not read as 1250.
    """
    return "".join(ch for ch in text if unicodedata.category(ch) != "Sc").strip()


def _grouped(whole: str, group: str) -> str | None:
    """``1.234.567`` -> ``1234567`` when the groups are proper (1-3 digits, then threes), else None."""
    groups = whole.split(group)
    if 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]):
        return "".join(groups)
    return None


def _split_amount(cleaned: str, decimal: str, group: str) -> tuple[str, str] | None:
    """(whole digits, fraction digits) of a typed amount, or None if it is not one.

    The locale's decimal mark is the decimal point. The other of ``.``/``,`` is accepted either as a
    grouping mark in proper groups of three (``1.234,56`` in es) or, alone and followed by one or two
    digits, as a decimal point typed on a numeric keypad (``30.50`` in es, ``12,50`` in en).
    """
    other = "," if decimal == "." else "."
    if decimal in cleaned:
        whole, _, frac = cleaned.partition(decimal)
        if other in whole and other == group:
            grouped = _grouped(whole, group)
            return None if grouped is None else (grouped, frac)
        return whole, frac
    if cleaned.count(other) == 1:
        whole, _, frac = cleaned.partition(other)
        if len(frac) <= 2 or other != group:
            return whole, frac
        return (whole + frac, "") if 1 <= len(whole) <= 3 and len(frac) == 3 else None
    if other in cleaned and other == group:
        grouped = _grouped(cleaned, group)
        return None if grouped is None else (grouped, "")
    return cleaned, ""


def parse_money(text: str, locale: str = "en", currency: str = "EUR") -> Cents:
    """A typed amount in ``locale`` -> minor units of ``currency``. Raises ValueError with a readable message.

    en: ``'12.5'`` -> 1250, ``'12,50'`` -> 1250, ``'3'`` -> 300; es: ``'30,50'`` -> 3050, ``'1.234,56'`` ->
    123456, ``'30.50'`` -> 3050. Currency symbols and spaces around the number are ignored; a minus sign,
    exponents, other scripts' digits and more decimals than the currency has are refused.
    """
    from babel.numbers import get_decimal_symbol, get_group_symbol

    loc = locale.replace("-", "_")
    exponent = minor_exponent(currency)
    cleaned = _strip_symbols(text)
    if not cleaned:
        raise _amount_error(text, loc, empty=True)
    decimal = get_decimal_symbol(loc)
    decimal = decimal if decimal in ".," else "."
    # in English only the plain forms are read: '1,234.50' is refused rather than guessed
    group = get_group_symbol(loc) if decimal == "," else ""
    parts = None if cleaned.count(decimal) > 1 else _split_amount(cleaned, decimal, group)
    if parts is None:
        raise _amount_error(text, loc, empty=False)
    whole, frac = parts
    digits = whole + frac
    # ASCII digits only: str.isdigit() also accepts '²' and other scripts' digits, which int() rejects or
    # reads silently
    if not digits or not (digits.isascii() and digits.isdigit()) or len(frac) > exponent:
        raise _amount_error(text, loc, empty=False)
    return int(whole or "0") * 10**exponent + int((frac + "0" * exponent)[:exponent] or "0")
