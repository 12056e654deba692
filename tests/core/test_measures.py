"""GS1 measures priced at the till: weight, count, amount payable, length/area/volume by the product's unit of
measure; what the unit does not understand is said in words. The pure rule, then the till session on a real
seeded SQLite demo store."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.barcode import decode_scan
from edge.core.catalog import Product
from edge.core.measures import price_scanned_item
from edge.db import open_database
from edge.session import TillSession
from edge.settings import Settings
from tests.support.demo import FIXED_NOW

GTIN = "09506000134352"  # GS1's example GTIN
VAR = "99506000134359"  # the same with indicator digit 9: a variable measure trade item
GS = "\x1d"


def product(unit: str, price_cents: int = 2990, gtin: str = GTIN) -> Product:
    return Product(gtin, f"Item per {unit}", price_cents, 900, "Deli", unit)


def ai_of(scan: str) -> dict[str, str]:
    result = decode_scan(scan)
    assert result.error is None, result.error
    return result.ai


# --- weight -------------------------------------------------------------------------------------------------
def test_net_weight_3102_prices_two_kilograms_at_the_price_per_kg() -> None:
    line = price_scanned_item(product("kg"), ai_of("]C101095060001343523102000200"), gtin=GTIN)
    assert line.error is None and line.qty == 1 and line.product is not None
    assert (line.product.price_cents, line.product.name, line.product.gtin) == (5980, "Item per kg 2.000 kg", GTIN)


@pytest.mark.parametrize(
    ("scan", "cents", "shown"),
    [
        ("]C10109506000134352" + "3103001525", 4560, "1.525 kg"),  # 1.525 kg * 29.90 = 45.5975
        ("]e00109506000134352" + "3101000025", 7475, "2.500 kg"),  # DataBar; AI 3101 has one decimal: 2.5 kg
        ("]d2" + GS + "0109506000134352" + "3202000441", 5981, "2.000 kg"),  # 4.41 lb = 2.00034 kg
        ("https://example.com/01/09506000134352?3102=000200", 5980, "2.000 kg"),  # Digital Link
    ],
)
def test_every_weight_ai_prices_a_kg_product(scan: str, cents: int, shown: str) -> None:
    line = price_scanned_item(product("kg"), ai_of(scan), gtin=GTIN)
    assert line.product is not None and (line.product.price_cents, line.product.name) == (cents, f"Item per kg {shown}")


def test_troy_ounces_are_a_weight_too() -> None:
    line = price_scanned_item(product("kg", 100_000), {"01": GTIN, "3560": "000010"}, gtin=GTIN)  # 10 ozt
    assert line.product is not None and line.product.price_cents == 31103  # 0.311034768 kg * 1000.00


def test_a_kg_product_without_a_weight_is_refused_in_words() -> None:
    plain = price_scanned_item(product("kg"), {}, gtin=GTIN)
    assert plain.product is None and "per kilogram" in (plain.error or "") and "no measure" in (plain.error or "")
    counted = price_scanned_item(product("kg"), {"01": GTIN, "30": "3"}, gtin=GTIN)
    assert counted.product is None and "3 items" in (counted.error or "") and "weigh" in (counted.error or "")
    zero = price_scanned_item(product("kg"), {"01": GTIN, "3102": "000000"}, gtin=GTIN)
    assert zero.product is None and "(0)" in (zero.error or "")


# --- count --------------------------------------------------------------------------------------------------
def test_count_ai_30_is_the_quantity_of_a_piece_product() -> None:
    line = price_scanned_item(product("each", 250), ai_of("]C1" + "0109506000134352" + "3012"), gtin=GTIN)
    assert (line.product, line.qty, line.error) == (product("each", 250), 12, None)


def test_count_37_counts_the_items_of_gtin_02_in_a_case() -> None:
    line = price_scanned_item(product("each", 250), {"02": GTIN, "37": "24"}, gtin=GTIN)
    assert line.qty == 24 and line.product == product("each", 250)
    # with AI 01 the 37 counts cases of a logistic unit, not items for sale: one unit, nothing multiplied
    assert price_scanned_item(product("each", 250), {"01": GTIN, "37": "24"}, gtin=GTIN).qty == 1


def test_a_count_of_zero_is_refused() -> None:
    line = price_scanned_item(product("each"), {"01": GTIN, "30": "0"}, gtin=GTIN)
    assert line.product is None and "count the items" in (line.error or "")


def test_a_piece_product_with_a_weight_label() -> None:
    fixed = price_scanned_item(product("each", 899), {"01": GTIN, "3102": "000050"}, gtin=GTIN)
    assert fixed.product == product("each", 899) and fixed.qty == 1
    assert "0.50 kg" in (fixed.note or "")  # a fixed-measure item: the weight is information, said in words
    variable = price_scanned_item(product("each", 899, VAR), {"01": VAR, "3102": "000050"}, gtin=VAR)
    assert variable.product is None and "by the piece" in (variable.error or "") and "0.50 kg" in (variable.error or "")


# --- amount payable ---------------------------------------------------------------------------------------------
def test_amount_payable_392n_is_the_line_price() -> None:
    line = price_scanned_item(product("kg"), ai_of("]C101095060001343523102000200" + GS + "39221234"), gtin=GTIN)
    assert line.product is not None and (line.product.price_cents, line.product.name) == (1234, "Item per kg 2.000 kg")
    each = price_scanned_item(product("each", 100), {"01": GTIN, "3922": "0599"}, gtin=GTIN)
    assert each.product is not None and each.product.price_cents == 599 and each.qty == 1


def test_amount_payable_393n_in_the_store_currency_or_refused() -> None:
    euros = price_scanned_item(product("each"), ai_of("]C10109506000134352" + "3932978001299"), gtin=GTIN)
    assert euros.product is not None and euros.product.price_cents == 1299
    dollars = price_scanned_item(product("each"), {"01": GTIN, "3932": "840001299"}, gtin=GTIN, currency="EUR")
    assert dollars.product is None and "USD" in (dollars.error or "") and "EUR" in (dollars.error or "")
    assert price_scanned_item(product("each"), {"01": GTIN, "3932": "840001299"}, gtin=GTIN,
                              currency="USD").product is not None  # fmt: skip


# --- length, area, volume by the product's unit of measure -----------------------------------------------------
@pytest.mark.parametrize(
    ("unit", "ai", "cents", "shown"),
    [
        ("m", {"3112": "000250"}, 750, "2.500 m"),  # 2.5 m at 3.00/m
        ("m", {"3220": "000010"}, 914, "3.048 m"),  # 10 ft
        ("m2", {"3141": "000125"}, 3750, "12.500 m²"),
        ("l", {"3151": "000050"}, 1500, "5.000 l"),
        ("l", {"3610": "000001"}, 1136, "3.785 l"),  # 1 US gallon
        ("m3", {"3163": "001500"}, 450, "1.500 m³"),
    ],
)
def test_length_area_and_volume_price_products_sold_by_that_unit(unit: str, ai: dict, cents: int, shown: str) -> None:
    line = price_scanned_item(product(unit, 300), {"01": GTIN, **ai}, gtin=GTIN)
    assert line.product is not None and (line.product.price_cents, line.product.name) == (
        cents, f"Item per {unit} {shown}",
    )  # fmt: skip


def test_measures_the_unit_does_not_understand_are_said_in_words() -> None:
    length_on_kg = price_scanned_item(product("kg"), {"01": GTIN, "3112": "000250"}, gtin=GTIN)
    assert length_on_kg.product is None and "2.50 m" in (length_on_kg.error or "")
    both = price_scanned_item(product("kg"), {"01": GTIN, "3102": "000200", "3122": "000040"}, gtin=GTIN)
    assert both.product is not None and both.product.price_cents == 5980
    assert "width or depth (3122)" in (both.note or "")
    logistic = price_scanned_item(product("each"), {"01": GTIN, "3302": "001000"}, gtin=GTIN)
    assert logistic.product is not None and "shipping-unit measure (3302)" in (logistic.note or "")
    odd = price_scanned_item(product("box"), {"01": GTIN}, gtin=GTIN)
    assert odd.product is None and "'box'" in (odd.error or "")


def test_a_bad_value_is_refused_not_raised() -> None:
    line = price_scanned_item(product("kg"), {"01": GTIN, "3102": "00A200"}, gtin=GTIN)
    assert line.product is None and "(3102)" in (line.error or "")


# --- at the till ----------------------------------------------------------------------------------------------
@pytest.fixture
def session(demo_settings: Settings) -> TillSession:
    return TillSession(demo_settings, open_database(demo_settings.database_path), clock=lambda: FIXED_NOW)


def test_till_rings_up_a_gs1_128_weight_label_at_the_price_per_kg(session: TillSession) -> None:
    salmon = session.repo.product(GTIN)
    assert salmon is not None and salmon.unit == "kg" and salmon.price_cents == 2990
    outcome = session.scan("]C101095060001343523102000200")
    assert outcome.ok, outcome.message
    (line,) = session.basket.lines
    assert (line.product.name, line.product.price_cents, line.qty) == ("Smoked Salmon (per kg) 2.000 kg", 5980, 1)
    assert session.settlement().pricing.lines[0].line.gross_cents == 5980


def test_till_refuses_a_kg_product_scanned_without_its_weight(session: TillSession) -> None:
    outcome = session.scan(GTIN[1:])  # the plain EAN-13 of a product sold per kg
    assert not outcome.ok and "per kilogram" in outcome.message and session.basket.lines == []


def test_till_takes_the_count_and_a_piece_product_stays_as_it_was(session: TillSession, tmp_path: Path) -> None:
    from edge.demo.seed import demo_gtin

    milk = session.repo.product(demo_gtin(1))
    assert milk is not None
    assert session.scan(demo_gtin(1)).ok
    assert session.scan(f"]C101{milk.gtin}306").ok  # a case label: 6 of them
    assert [(line.product, line.qty) for line in session.basket.lines] == [(milk, 7)]


def test_till_takes_a_count_from_an_in_store_count_label(demo_settings: Settings) -> None:
    """German RCN prefixes 25/26 carry a count (biip's regional rules); it was refused as 'no weight or price'."""
    import dataclasses

    from edge.demo.seed import demo_gtin

    settings = demo_settings.replace(barcode=dataclasses.replace(demo_settings.barcode, rcn_region="de"))
    db = open_database(settings.database_path)
    db.execute("UPDATE products SET item_reference = '0123' WHERE gtin = ?", [demo_gtin(2)])
    db.conn.commit()
    till = TillSession(settings, db, clock=lambda: FIXED_NOW)
    rolls = till.repo.product(demo_gtin(2))
    assert rolls is not None
    outcome = till.scan("2501232000069")  # item 0123, count 6 (price/weight check digit 2)
    assert outcome.ok, outcome.message
    assert [(line.product, line.qty) for line in till.basket.lines] == [(rolls, 6)]


def test_till_weighed_scale_label_is_priced_as_before(session: TillSession) -> None:
    from edge.core.catalog import with_check_digit

    outcome = session.scan(with_check_digit("280010100254"))  # Old Gouda, item 00101, 0.254 kg at 18.90/kg
    assert outcome.ok, outcome.message
    (line,) = session.basket.lines
    assert (line.product.name, line.product.price_cents) == ("Old Gouda (per kg) 0.254 kg", 480)


def test_scale_label_rule_in_words_when_a_label_carries_nothing() -> None:
    from edge.core.measures import price_scale_label

    line = price_scale_label(product("each"), "0200000000000")
    assert line.product is None and "no weight, price or count" in (line.error or "")
    assert price_scale_label(product("kg"), "2800101002546", weight_g=254).product is not None
