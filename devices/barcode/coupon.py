"""Store coupons (own format) and GS1 coupon codes (prefix 99/981-984 GTINs, AIs 8110/8112)."""

from __future__ import annotations

import re
from functools import lru_cache

GS1_COUPON_AIS = ("8110", "8112")


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def match_store_coupon(text: str, pattern: str) -> str | None:
    """The coupon code when ``text`` is one of the store's coupons, else None."""
    rx = _compiled(pattern)
    if rx is None:
        return None
    m = rx.match(text)
    if m is None:
        return None
    return m.groupdict().get("code") or m.group(0)


def is_coupon_prefix(prefix_usage: str | None) -> bool:
    # biip labels GS1 prefixes 99 and 981-984 "GS1 coupon identification ..."
    return bool(prefix_usage) and "coupon" in (prefix_usage or "").lower()
