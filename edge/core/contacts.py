"""Phone numbers and e-mail addresses are looked up by a hash, never stored in the clear on a device.

A phone number is read with the ``phonenumbers`` library (Google's libphonenumber metadata) in the store's
region, so ``612 34 56 78`` in a Spanish store, ``+34 612 34 56 78`` and ``0034 612345678`` are the same
number; it is hashed in E.164 form (``+34612345678``). The hash therefore does not depend on how the
cashier or the member typed it, nor on which country's store looks it up, as long as the number itself
is right.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import phonenumbers

# a region whose numbers no store would type without a country code: parsing with it accepts only
# international forms (+34 ..., or a country code without the plus as a last try)
NO_REGION = "ZZ"


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    import phonenumbers  # deferred: its metadata costs ~0.1 s to load, and the till starts without a lookup

    try:
        return phonenumbers.parse(text, region.upper() or NO_REGION)
    except phonenumbers.NumberParseException:
        return None


def phone_e164(text: str, region: str = "", *, strict: bool = False) -> str | None:
    """``text`` as an E.164 number (``+34612345678``) read in ``region`` (ISO 3166 alpha-2), or None.

    Local forms are read in ``region``; ``+CC ...`` and ``00CC ...`` in any region; digits that only make a
    number with a leading ``+`` (``34612345678``) are tried that way last. ``strict`` (sign-up) demands a
    number valid by the country's numbering plan; lookups accept any number of a possible length, so that
    a number the plan does not know yet still finds its member.
    """
    import phonenumbers

    digits = re.sub(r"\D", "", text)
    if not 6 <= len(digits) <= 17:
        return None
    check = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    # tried in order, the second only when the first fails (parsing is the cost of a bulk import)
    candidates = [(text, region)] + ([] if text.strip().startswith("+") else [("+" + digits, NO_REGION)])
    for candidate, where in candidates:
        number = _parse(candidate, where)
        if number is not None and check(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalize_email(text: str) -> str:
    """An e-mail address as it is hashed: trimmed and lower-cased."""
    return text.strip().lower()


def contact_hash(kind: str, value: str, region: str = "") -> str:
    """The SHA-256 lookup key of a phone number (``kind="phone"``, read in ``region``) or e-mail address.

    Raises ValueError for a phone number that cannot be read in ``region`` (say which, so it can be fixed).
    """
    if kind == "phone":
        normalized = phone_e164(value, region)
        if normalized is None:
            raise ValueError(f"{value!r} is not a phone number in {region or 'international form'}")
    else:
        normalized = normalize_email(value)
    return hashlib.sha256(f"store-edge:{kind}:{normalized}".encode()).hexdigest()


def looks_like_email(text: str) -> bool:
    """Whether ``text`` has the shape of an e-mail address (one @, a dot in the domain, no spaces)."""
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text.strip()))


def looks_like_phone(text: str, region: str = "") -> bool:
    """Whether ``text`` reads as a phone number in ``region`` (see :func:`phone_e164`)."""
    return bool(re.fullmatch(r"\+?[\d\s\-().]{6,24}", text.strip())) and phone_e164(text, region) is not None
