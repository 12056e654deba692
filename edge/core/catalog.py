"""Products and GTINs. GTIN arithmetic comes from biip, the GS1 library, not from our own code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    gtin: str  # always the 14-digit form
    name: str
    price_cents: int
    vat_rate_bp: int
    category: str
    unit: str = "each"  # "kg": price_cents is per kilogram, the scale label gives the weight or the price


class InvalidGtin(ValueError):
    pass


def normalize_gtin(text: str) -> str:
    """Any GTIN-8/12/13/14 (digits only) -> its 14-digit form. Raises InvalidGtin with a readable reason."""
    digits = text.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise InvalidGtin(f"'{text}' is not a product number (8, 12, 13 or 14 digits)")
    from biip.gtin import Gtin  # all of biip loads with it: at the first scan, not at start-up

    try:
        gtin = Gtin.parse(digits)
    except Exception as exc:  # biip raises ParseError with its own sentence
        raise InvalidGtin(str(exc)) from None
    return gtin.as_gtin_14()


def with_check_digit(body: str) -> str:
    """Append the GS1 check digit to ``body`` (the GTIN without its last digit)."""
    from biip.checksums import gs1_standard_check_digit

    return body + str(gs1_standard_check_digit(body))


def weighed_line_product(product: Product, label_gtin: str, weight_g: int | None, price_cents: int | None) -> Product:
    """The basket product for one scale label: its own price, and the weight in the name for the receipt.

    Price from weight rounds half up to the cent: 0.254 kg at 18.90/kg is 4.80.
    """
    if price_cents is None:
        if weight_g is None:
            raise ValueError("a scale label carries a weight or a price")
        price_cents = (product.price_cents * weight_g + 500) // 1000
    label = f"{product.name} {weight_g / 1000:.3f} kg" if weight_g is not None else product.name
    return Product(label_gtin, label, price_cents, product.vat_rate_bp, product.category, "each")
