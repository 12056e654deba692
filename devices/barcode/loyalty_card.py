"""Physical loyalty card numbers: a configurable pattern plus a check digit (Luhn by default)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from biip.checksums import gs1_standard_check_digit

from devices.barcode.config import LoyaltyCardFormat


@dataclass(frozen=True)
class CardMatch:
    number: str
    error: str | None  # None when the check digit is right


def luhn_check_digit(payload: str) -> int:
    total = 0
    # Double every second digit counting from the right of the payload (the check digit goes after it).
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def match_card(text: str, fmt: LoyaltyCardFormat) -> CardMatch | None:
    """None when ``text`` does not look like a card of this format; otherwise the number and any error."""
    rx = _compiled(fmt.pattern)
    if rx is None:
        return None
    m = rx.match(text)
    if m is None:
        return None
    number = m.groupdict().get("number") or m.group(0)
    if fmt.check == "none":
        return CardMatch(number, None)
    if not number.isdecimal() or len(number) < 2:
        return CardMatch(number, "This loyalty card number is not all digits - key it in from the card.")
    payload, given = number[:-1], int(number[-1])
    expected = luhn_check_digit(payload) if fmt.check == "luhn" else gs1_standard_check_digit(payload)
    if expected != given:
        return CardMatch(
            number,
            f"Loyalty card check digit is wrong: the last digit (digit {len(number)}) is {given} "
            f"but should be {expected} - rescan the card or key in the number.",
        )
    return CardMatch(number, None)
