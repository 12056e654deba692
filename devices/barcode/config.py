"""What a store configures about the barcodes it scans (country rules, card and coupon formats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

GS = "\x1d"

# Regions for which biip knows the GS1 member organisation's variable-measure rules.
BIIP_RCN_REGIONS = frozenset({"dk", "ee", "fi", "de", "gb", "lv", "lt", "no", "se"})


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

    pattern: str = r"^(?:LC)?(?P<number>7\d{15})$"
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
    store_coupon_pattern: str = r"^CPN-(?P<code>[0-9A-Z]{4,32})$"
    loyalty_token_prefix: str = "LT1."

    @property
    def biip_region(self) -> str | None:
        region = (self.rcn_region or "").lower()
        return region if region in BIIP_RCN_REGIONS else None


class BarcodeSettingsError(ValueError):
    pass


def parse_variable_measure_rule(text: str) -> VariableMeasureRule:
    """'weight:PPPPPPPVVVVV:3' -> VariableMeasureRule; raises BarcodeSettingsError with what is wrong."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in ("weight", "price") or not parts[2].isdigit():
        raise BarcodeSettingsError(
            f"{text!r} should look like 'weight:PPPPPPPVVVVV:3' or 'price:PPPPPPPVVVVV:2'"
        )
    measure: Literal["weight", "price"] = "weight" if parts[0] == "weight" else "price"
    return VariableMeasureRule(measure, parts[1], int(parts[2]))


def config_from_settings(settings: object) -> BarcodeConfig:
    """Build the decoder's config from the ``[barcode]`` settings section (edge.settings.BarcodeSettings)."""
    checks: dict[str, Literal["luhn", "gs1", "none"]] = {"luhn": "luhn", "gs1": "gs1", "none": "none"}
    name = str(getattr(settings, "loyalty_card_check", "luhn"))
    if name not in checks:
        raise BarcodeSettingsError(f"loyalty_card_check must be luhn, gs1 or none, not {name!r}")
    check = checks[name]
    return BarcodeConfig(
        rcn_region=getattr(settings, "rcn_region", "") or None,
        variable_measure_rules={
            prefix: parse_variable_measure_rule(rule)
            for prefix, rule in getattr(settings, "variable_measure_rules", {}).items()
        },
        loyalty_card=LoyaltyCardFormat(
            pattern=getattr(settings, "loyalty_card_pattern", LoyaltyCardFormat.pattern),
            check=check,
        ),
        store_coupon_pattern=getattr(settings, "store_coupon_pattern", BarcodeConfig.store_coupon_pattern),
    )
