"""What a store configures about the barcodes it scans (country rules, card and coupon formats).

Two shapes of the same configuration:
- ``BarcodeSettings``: the ``[barcode]`` section of the device's config file, as a technician writes it (plain
  strings and numbers; the app's settings compose it, ``edge.settings``). It checks itself on construction
  (``BarcodeSettingsError`` naming the field) and declares its limits in field metadata (``range``/``choices``).
- ``BarcodeConfig``: what the decoder uses (parsed rules, the card format), built by ``BarcodeSettings.to_config``.

One set of defaults for both: the demo's and the README's cards (``6009`` + 12 digits, Luhn) and coupons
(``SAVE3-ALPHA``: letters/digits, a dash, letters/digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from devices.fields import problems

GS = "\x1d"

# Regions for which biip knows the GS1 member organisation's variable-measure rules.
BIIP_RCN_REGIONS = frozenset({"dk", "ee", "fi", "de", "gb", "lv", "lt", "no", "se"})
DEFAULT_CARD_PATTERN = r"^(?P<number>6009\d{12})$"
DEFAULT_COUPON_PATTERN = r"^(?P<code>[A-Z0-9]{2,12}-[A-Z0-9]{2,24})$"
CARD_CHECKS = ("luhn", "gs1", "none")
_VARIABLE_MEASURE = re.compile(r"(weight|price):[PCV]{12}:\d")


@dataclass(frozen=True)
class VariableMeasureRule:
    """Layout of an in-store variable-measure code for one prefix, for countries biip has no rules for.

    ``layout`` describes the 12 digits before the GTIN check digit, as in the GS1 member organisations'
    documents: ``P`` prefix and item reference, ``C`` the price/weight check digit (optional), ``V`` the value.
    """

    measure: Literal["weight", "price"]
    layout: str = "PPPPPPPVVVVV"
    decimals: int = 3  # weight in kg with 3 decimals = grams; price with 2 decimals = cents


@dataclass(frozen=True)
class LoyaltyCardFormat:
    """A physical loyalty card's number: a regex with a ``number`` group and its check-digit scheme."""

    pattern: str = DEFAULT_CARD_PATTERN
    check: Literal["luhn", "gs1", "none"] = "luhn"


@dataclass(frozen=True)
class BarcodeConfig:
    # ISO country code whose GS1 rules apply to prefixes 02 and 20-29 (biip knows dk ee fi de gb lv lt no se).
    rcn_region: str | None = None
    # Per-prefix layouts ("02", "20".."29") used when biip has no rule for the prefix in this region.
    variable_measure_rules: dict[str, VariableMeasureRule] = field(default_factory=dict)
    verify_variable_measure_check_digit: bool = True
    # Characters a scanner may send for FNC1 between GS1 fields; all are treated as GS.
    gs_separators: tuple[str, ...] = (GS,)
    loyalty_card: LoyaltyCardFormat = field(default_factory=LoyaltyCardFormat)
    store_coupon_pattern: str = DEFAULT_COUPON_PATTERN
    loyalty_token_prefix: str = "LT1."

    @property
    def biip_region(self) -> str | None:
        region = (self.rcn_region or "").lower()
        return region if region in BIIP_RCN_REGIONS else None


class BarcodeSettingsError(ValueError):
    """A ``[barcode]`` setting is unusable; ``field`` names it (``None`` for a rule given on its own)."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def parse_variable_measure_rule(text: str) -> VariableMeasureRule:
    """'weight:PPPPPPPVVVVV:3' -> VariableMeasureRule; raises BarcodeSettingsError with what is wrong."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in ("weight", "price") or not parts[2].isdigit():
        raise BarcodeSettingsError(
            f"{text!r} should look like 'weight:PPPPPPPVVVVV:3' or 'price:PPPPPPPVVVVV:2'"
        )
    measure: Literal["weight", "price"] = "weight" if parts[0] == "weight" else "price"
    return VariableMeasureRule(measure, parts[1], int(parts[2]))


@dataclass(frozen=True)
class BarcodeSettings:
    """The ``[barcode]`` settings section; raises ``BarcodeSettingsError`` (with ``field``) when unusable.

    - ``rcn_region``: ISO country whose GS1 rules apply to in-store prefixes 02 and 20-29 (biip knows
      dk ee fi de gb lv lt no se; empty: none).
    - ``variable_measure_rules``: prefix -> ``"weight|price:LAYOUT:DECIMALS"`` for countries biip has no rules
      for, e.g. ``"weight:PPPPPPPVVVVV:3"`` (see ``VariableMeasureRule``).
    - ``loyalty_card_pattern``: regex with a ``number`` group; ``loyalty_card_check``: luhn | gs1 | none.
    - ``store_coupon_pattern``: regex with a ``code`` group.
    - ``token_skew_s`` / ``token_max_ttl_s``: clock skew tolerated, and the longest validity accepted, for
      signed app codes (seconds).
    """

    rcn_region: str = field(default="", metadata={"choices": ("", *sorted(BIIP_RCN_REGIONS))})
    variable_measure_rules: dict[str, str] = field(
        default_factory=lambda: {"28": "weight:PPPPPPPVVVVV:3", "29": "price:PPPPPPPVVVVV:2"}
    )
    loyalty_card_pattern: str = DEFAULT_CARD_PATTERN
    loyalty_card_check: str = field(default="luhn", metadata={"choices": CARD_CHECKS})
    store_coupon_pattern: str = DEFAULT_COUPON_PATTERN
    token_skew_s: float = field(default=30.0, metadata={"range": (0.0, 3_600.0)})
    token_max_ttl_s: float = field(default=600.0, metadata={"range": (1.0, 86_400.0)})

    def __post_init__(self) -> None:
        for name, problem in problems(self):
            raise BarcodeSettingsError(problem, name)
        for name in ("loyalty_card_pattern", "store_coupon_pattern"):
            try:
                re.compile(getattr(self, name))
            except re.error as exc:
                raise BarcodeSettingsError(f"is not a valid regular expression ({exc})", name) from None
        for code, rule in self.variable_measure_rules.items():
            if not (code.isdigit() and len(code) == 2 and _VARIABLE_MEASURE.fullmatch(rule)):
                raise BarcodeSettingsError(f"{rule!r} should look like 'weight:PPPPPPPVVVVV:3' for a 2-digit prefix",
                                           f"variable_measure_rules.{code}")

    def to_config(self) -> BarcodeConfig:
        """The decoder's config for these settings."""
        check: Literal["luhn", "gs1", "none"] = (
            "gs1" if self.loyalty_card_check == "gs1" else "none" if self.loyalty_card_check == "none" else "luhn"
        )
        return BarcodeConfig(
            rcn_region=self.rcn_region or None,
            variable_measure_rules={
                prefix: parse_variable_measure_rule(rule) for prefix, rule in self.variable_measure_rules.items()
            },
            loyalty_card=LoyaltyCardFormat(pattern=self.loyalty_card_pattern, check=check),
            store_coupon_pattern=self.store_coupon_pattern,
        )


def config_from_settings(settings: BarcodeSettings) -> BarcodeConfig:
    """Build the decoder's config from the ``[barcode]`` settings section (``settings.to_config()``)."""
    return settings.to_config()
