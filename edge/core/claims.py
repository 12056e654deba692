"""Receipt claim codes and the points a claimed guest sale earns (shared by the till and the hub).

A guest sale taken while the hub could not be asked who the member is carries a *claim code* on its receipt;
the member claims the sale's points once, later, at any till or in the app (``docs/sync-protocol.md``).

Code: 11 random symbols from ``CODE_ALPHABET`` (no 0/O, 1/I: read aloud and typed; 55 bits, so guessing
one is hopeless) plus one check symbol, the Luhn mod N algorithm over that alphabet (``stdnum.luhn`` with an
alphabet, ISO/IEC 7812's Luhn generalised to N = 32 symbols: it catches every single wrong symbol and most
swaps of two neighbours). Printed in groups of four, ``K7QM-4XPA-TZ9B``; read back in any case, with or
without dashes or spaces.

Points: the sale's lines as the hub holds them (``gross_cents`` less ``discount_cents`` per line), times
``points_per_unit``, the line's category multiplier and the member's tier multiplier, summed as exact
fractions and floored once per order (``edge.core.money`` rule 4, as ``edge.core.loyalty.settle``). Promotion
multipliers of the day are not known to the hub and are not applied.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from fractions import Fraction
from math import floor
from typing import Any

from stdnum import luhn

from edge.core.loyalty import LoyaltyRules
from edge.core.money import exact

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
BODY_SYMBOLS = 11
CODE_SYMBOLS = BODY_SYMBOLS + 1
DEFAULT_CLAIM_DAYS = 30  # how long a receipt can be claimed, unless the hub's ``claim_valid_days`` says otherwise
CLAIM_REASON = "claimed receipt"


def new_claim_code() -> str:
    """A fresh code, canonical form (12 symbols, no dashes)."""
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(BODY_SYMBOLS))
    return body + luhn.calc_check_digit(body, alphabet=CODE_ALPHABET)


def normalise_claim_code(text: str) -> str:
    """``k7qm-4xpa tz9b`` -> ``K7QM4XPATZ9B`` (upper case, dashes and spaces dropped; nothing else changed)."""
    return "".join(ch for ch in text.strip().upper() if ch not in "- ")


def looks_like_claim_code(text: str) -> bool:
    """True when ``text`` has the shape of a claim code (12 symbols of the alphabet, dashes allowed), whatever
    its check symbol: the till then tells a typing error from another kind of scan."""
    code = normalise_claim_code(text)
    return len(code) == CODE_SYMBOLS and all(ch in CODE_ALPHABET for ch in code)


def claim_code_valid(text: str) -> bool:
    """True when ``text`` is a claim code whose check symbol matches (``luhn.is_valid`` over the alphabet)."""
    code = normalise_claim_code(text)
    return looks_like_claim_code(code) and luhn.is_valid(code, alphabet=CODE_ALPHABET)


def format_claim_code(code: str) -> str:
    """``K7QM4XPATZ9B`` -> ``K7QM-4XPA-TZ9B`` (as printed on the receipt)."""
    code = normalise_claim_code(code)
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _cents(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def claim_points(lines: Sequence[Any], rules: LoyaltyRules, tier: str | None) -> int:
    """The points a member of ``tier`` earns for a guest sale's ``lines`` (the ``sale.completed`` lines as the
    hub stored them: dicts with ``gross_cents``, ``discount_cents``, ``category``): whole points, floored once
    per order (module docstring). Lines that are not objects, or lack figures, count as 0."""
    tier_mult = exact((rules.tier_multipliers or {}).get(tier or "", 1.0))
    total = Fraction(0)
    for line in lines:
        if not isinstance(line, dict):
            continue
        paid = max(0, _cents(line.get("gross_cents")) - _cents(line.get("discount_cents")))
        raw_category = line.get("category")
        category = raw_category if isinstance(raw_category, str) else ""
        cat_mult = exact((rules.category_multipliers or {}).get(category, 1.0))
        total += paid * exact(rules.points_per_unit) * tier_mult * cat_mult / 100
    return floor(total)
