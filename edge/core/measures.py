"""GS1 measures priced at the till: the basket line for one scanned trade item from its GS1 data.

A GS1-128 / DataBar / DataMatrix / Digital Link item may carry, next to its GTIN, what varies per item
(GS1 General Specifications 3.6 "trade measures", 3.6.x/3.7 "amount payable"):

- a net weight: AI 310n kilograms, 320n pounds, 356n troy ounces;
- a length 311n metres, 321n inches, 322n feet, 323n yards; an area 314n m², 350n in², 351n ft², 352n yd²;
  a net volume 315n litres, 316n m³, 360n US quarts, 361n US gallons, 364n in³, 365n ft³, 366n yd³;
- a count: AI 30 (variable count of items), or AI 37 with AI 02 (items of GTIN (02) in a case);
- the amount payable: AI 392n in the store's currency, 393n with its ISO 4217 numeric currency first.

``n``, the AI's last digit, is where the decimal point goes; biip reads the values. The product's unit of
measure (``Product.unit``) says which of these prices the line: ``each`` takes a count (qty), ``kg`` a
weight, ``m`` a length, ``m2`` an area, ``l`` / ``m3`` a volume, times the catalogue price per unit, rounded
half up to the cent. An amount payable in the store's currency is the line's price whatever the unit. What
the unit does not understand is said in words to the cashier (refused when the price depends on it, a note
when it does not). Logistic measures (330n-369n gross/logistic) describe a shipping unit, never a sale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from edge.core.catalog import Product, weighed_line_product
from edge.core.i18n import N_, Text
from edge.core.money import minor_exponent

MASS, LENGTH, AREA, VOLUME = "mass", "length", "area", "volume"

# AI prefix (3 digits, the 4th is the decimal point position) -> (dimension, factor to kg / m / m² / l, unit)
TRADE_MEASURES: dict[str, tuple[str, Decimal, str]] = {
    "310": (MASS, Decimal(1), "kg"),
    "320": (MASS, Decimal("0.45359237"), "lb"),
    "356": (MASS, Decimal("0.0311034768"), "troy oz"),
    "311": (LENGTH, Decimal(1), "m"),
    "321": (LENGTH, Decimal("0.0254"), "in"),
    "322": (LENGTH, Decimal("0.3048"), "ft"),
    "323": (LENGTH, Decimal("0.9144"), "yd"),
    "314": (AREA, Decimal(1), "m²"),
    "350": (AREA, Decimal("0.00064516"), "in²"),
    "351": (AREA, Decimal("0.09290304"), "ft²"),
    "352": (AREA, Decimal("0.83612736"), "yd²"),
    "315": (VOLUME, Decimal(1), "l"),
    "316": (VOLUME, Decimal(1000), "m³"),
    "360": (VOLUME, Decimal("0.946352946"), "US qt"),
    "361": (VOLUME, Decimal("3.785411784"), "US gal"),
    "364": (VOLUME, Decimal("0.016387064"), "in³"),
    "365": (VOLUME, Decimal("28.316846592"), "ft³"),
    "366": (VOLUME, Decimal("764.554857984"), "yd³"),
}
# Width/depth (312n, 313n, 324n-329n) and "weight or volume, ounces" (357n) never price a line.
OTHER_TRADE_MEASURES = frozenset({"312", "313", "324", "325", "326", "327", "328", "329", "357"})
LOGISTIC_MEASURES = frozenset(
    {"330", "331", "332", "333", "334", "335", "336", "337", "340", "341", "342", "343", "344", "345", "346",
     "347", "348", "349", "353", "354", "355", "362", "363", "367", "368", "369"}
)  # fmt: skip
# Product.unit -> (dimension, how many of the dimension's base unit one catalogue unit is)
MEASURED_UNITS: dict[str, tuple[str, Decimal]] = {
    "kg": (MASS, Decimal(1)),
    "m": (LENGTH, Decimal(1)),
    "m2": (AREA, Decimal(1)),
    "l": (VOLUME, Decimal(1)),
    "m3": (VOLUME, Decimal(1000)),
}
_UNIT_WORDS = {"each": N_("by the piece"), "kg": N_("per kilogram"), "m": N_("per metre"),
               "m2": N_("per square metre"), "l": N_("per litre"), "m3": N_("per cubic metre")}  # fmt: skip
_SHOWN_UNIT = {"kg": "kg", "m": "m", "m2": "m²", "l": "l", "m3": "m³"}


@dataclass(frozen=True)
class PricedLine:
    """What to put in the basket: ``product`` (its price is this item's) ``qty`` times; or nothing and
    ``error``, a sentence for the cashier. ``note``: what on the label the line did not use, in words. Both are
    ``edge.core.i18n.Text`` (English; the till says them with ``tr.text``)."""

    product: Product | None
    qty: int = 1
    error: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class _Read:
    measures: dict[str, tuple[Decimal, str]]  # dimension -> (amount in kg / m / m² / l, as printed)
    count: int | None
    payable: Decimal | None
    payable_currency: str | None  # ISO 4217 alpha code; None: the store's own (392n)
    unused: list[str]  # words for AIs that describe the item but cannot price it


def price_scanned_item(product: Product, ai: Mapping[str, str], *, gtin: str | None = None,
                       currency: str = "EUR") -> PricedLine:
    """The basket line for ``product`` scanned with the GS1 element strings ``ai`` (AI -> value, as the
    decoder reads them; empty for a plain EAN/UPC). ``gtin``: the scanned GTIN-14, the line's number;
    ``currency``: the store's ISO 4217 code. Never raises for bad values: they come back as ``error``."""
    read = _read(ai, from_02="02" in ai and "01" not in ai)
    if isinstance(read, str):
        return PricedLine(None, error=read)
    number = gtin or product.gtin
    if read.payable is not None:
        if read.payable_currency is not None and read.payable_currency != currency.upper():
            return PricedLine(None, error=Text(N_("This label is priced in {label}; this till sells in {till} - "
                                                  "key in the price."), label=read.payable_currency,
                                               till=currency.upper()))
        return _payable_line(product, number, read, currency)
    if product.unit == "each":
        return _each_line(product, number, read)
    if product.unit in MEASURED_UNITS:
        return _measured_line(product, number, read)
    return PricedLine(None, error=Text(N_("{name} is sold in '{unit}', a unit the till cannot price from a label "
                                          "- key in the price."), name=product.name, unit=product.unit))


def price_scale_label(product: Product, label_gtin: str, *, weight_g: int | None = None,
                      price_cents: int | None = None, count: int | None = None) -> PricedLine:
    """The line for an in-store variable-measure label (an RCN: GS1 prefixes 02, 20-29, read by biip's
    regional rules or the store's layout). A price or a weight goes through
    :func:`edge.core.catalog.weighed_line_product` as before; a count label (e.g. Germany's) is ``count``
    of the product at its own price."""
    if price_cents is not None or weight_g is not None:
        return PricedLine(weighed_line_product(product, label_gtin, weight_g, price_cents))
    if count is not None and count >= 1:
        return PricedLine(product, qty=count)
    return PricedLine(None, error=Text(N_("The label for {name} carries no weight, price or count - key in the "
                                          "price."), name=product.name))


def _cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _amount(text: str, ai: str) -> Decimal:
    if not text.isdigit():
        raise ValueError(Text(N_("the value of AI ({ai}) is not a number"), ai=ai))
    return Decimal(text).scaleb(-int(ai[3]))


def _read(ai: Mapping[str, str], *, from_02: bool) -> _Read | str:
    """The measures, count and amount payable in ``ai``; a sentence for the cashier when a value is bad."""
    measures: dict[str, tuple[Decimal, str]] = {}
    count: int | None = None
    payable: Decimal | None = None
    payable_currency: str | None = None
    unused: list[str] = []
    try:
        for code, value in ai.items():
            head = code[:3]
            if len(code) == 4 and head in TRADE_MEASURES:
                dimension, factor, unit = TRADE_MEASURES[head]
                amount = _amount(value, code)
                measures.setdefault(dimension, (amount * factor, f"{amount:f} {unit}"))
            elif len(code) == 4 and head in OTHER_TRADE_MEASURES:
                unused.append(f"a {('width or depth' if head != '357' else 'content in ounces')} ({code})")
            elif len(code) == 4 and head in LOGISTIC_MEASURES:
                unused.append(f"a shipping-unit measure ({code})")
            elif code == "30" or (code == "37" and from_02):
                if not value.isdigit():
                    raise ValueError(Text(N_("the count in AI ({ai}) is not a number"), ai=code))
                count = int(value) if count is None else count
            elif len(code) == 4 and head == "392":
                payable = _amount(value, code) if payable is None else payable
            elif len(code) == 4 and head == "393" and payable is None:
                payable, payable_currency = _amount(value[3:], code), _currency(value[:3])
    except ValueError as exc:
        return Text(N_("This label cannot be read: {problem} - key the item in by hand."),
                    problem=exc.args[0] if exc.args else str(exc))
    return _Read(measures, count, payable, payable_currency, unused)


def _currency(numeric: str) -> str:
    """ISO 4217 numeric -> alpha code (py-moneyed's table); unknown codes come back as 'currency NNN'."""
    import moneyed

    try:
        return str(moneyed.get_currency(iso=numeric).code)
    except (moneyed.CurrencyDoesNotExist, ValueError):
        return f"currency {numeric}"


def _described(product: Product, number: str, price_cents: int, shown: str | None) -> Product:
    name = f"{product.name} {shown}" if shown else product.name
    return Product(number, name, price_cents, product.vat_rate_bp, product.category, "each")


def _payable_line(product: Product, number: str, read: _Read, currency: str = "EUR") -> PricedLine:
    assert read.payable is not None
    shown = _shown_measure(product, read)
    if shown is None and read.count is not None:
        shown = f"({read.count} items)"
    unit = 10 ** minor_exponent(currency)  # minor units per currency unit by ISO 4217 (CLP 1, EUR 100)
    return PricedLine(_described(product, number, _cents(read.payable * unit), shown))


def _shown_measure(product: Product, read: _Read) -> str | None:
    unit = MEASURED_UNITS.get(product.unit)
    if unit is not None and unit[0] in read.measures:
        amount = read.measures[unit[0]][0] / unit[1]
        return f"{amount:.3f} {_SHOWN_UNIT[product.unit]}"
    return next((text for _, text in read.measures.values()), None)


def _each_line(product: Product, number: str, read: _Read) -> PricedLine:
    if read.count is not None:
        if read.count < 1:
            return PricedLine(None, error=Text(N_("This label says it holds {count} of {name} - count the items "
                                                  "and key in the quantity."), count=read.count, name=product.name))
        return PricedLine(product, qty=read.count, note=_note(read.unused))
    said = [text for _, text in read.measures.values()]
    if said and number.startswith("9"):
        # a variable measure trade item (GTIN indicator 9): its price depends on the measure
        return PricedLine(None, error=Text(N_("{name} is sold {unit} but this label gives {said} - key in the "
                                              "price."), name=product.name, unit=Text(_UNIT_WORDS["each"]),
                                           said=" and ".join(said)))
    return PricedLine(product, note=_note([f"the label's {t}" for t in said] + read.unused))


def _measured_line(product: Product, number: str, read: _Read) -> PricedLine:
    dimension, per_unit = MEASURED_UNITS[product.unit]
    words = _UNIT_WORDS[product.unit]
    if dimension not in read.measures:
        said = [text for _, text in read.measures.values()] + ([f"{read.count} items"] if read.count else [])
        what = (Text(N_("this label gives {said}"), said=" and ".join(said)) if said
                else Text(N_("this label carries no measure")))
        return PricedLine(None, error=Text(N_("{name} is sold {unit} but {what} - weigh or measure it, or key in "
                                              "the price."), name=product.name, unit=Text(words), what=what))
    amount = read.measures[dimension][0] / per_unit
    if amount <= 0:
        return PricedLine(None, error=Text(N_("This label gives no {dimension} for {name} (0) - weigh or measure it "
                                              "again."), dimension=dimension, name=product.name))
    price = _cents(product.price_cents * amount)
    shown = f"{amount:.3f} {_SHOWN_UNIT[product.unit]}"
    unused = [text for dim, (_, text) in read.measures.items() if dim != dimension] + read.unused
    if read.count is not None:
        unused.append(f"a count of {read.count}")
    return PricedLine(_described(product, number, price, shown), note=_note(unused))


def _note(unused: list[str]) -> str | None:
    return Text(N_("not used for the price: {unused}"), unused=", ".join(unused)) if unused else None
