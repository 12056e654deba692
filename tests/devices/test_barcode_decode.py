"""Decoder behaviour on real published barcode data (GS1 General Specifications examples, GS1 MO rules)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devices.barcode import BarcodeConfig, LoyaltyCardFormat, VariableMeasureRule, decode_scan
from devices.barcode.decode import JSON_FIELDS
from edge.cli.scanner import main_scan_decode

ROOT = Path(__file__).resolve().parents[2]
GS = "\x1d"


def test_gs1_general_specifications_example_in_hri_form() -> None:
    r = decode_scan("(01)09501101020917(17)190508(10)ABC123(21)1234")
    assert r.kind == "gs1"
    assert r.gtin == "09501101020917" and r.gtin_valid is True
    assert r.ai == {"01": "09501101020917", "17": "190508", "10": "ABC123", "21": "1234"}
    assert (r.expiry, r.batch, r.serial) == ("2019-05-08", "ABC123", "1234")
    assert r.error is None


def test_same_data_as_gs1_128_scan_with_aim_id_and_gs_separator() -> None:
    r = decode_scan("]C1010950110102091717190508" + "10ABC123" + GS + "211234\r\n")
    assert r.symbology == "GS1-128"
    assert r.ai == {"01": "09501101020917", "17": "190508", "10": "ABC123", "21": "1234"}
    assert r.batch == "ABC123" and r.serial == "1234"


def test_gs1_datamatrix_with_leading_fnc1_and_configured_separator() -> None:
    # Some scanners send FNC1 as a printable stand-in; the store configures it.
    cfg = BarcodeConfig(gs_separators=(GS, "~"))
    r = decode_scan("]d2" + GS + "0109501101020917" + "10ABC123~" + "17190500", config=cfg)
    assert r.symbology == "GS1 DataMatrix"
    assert r.batch == "ABC123"
    assert r.expiry == "2019-05-31"  # day 00 means the last day of the month


def test_ean13_from_gs1_spec() -> None:
    r = decode_scan("5901234123457")
    assert (r.kind, r.symbology, r.gtin, r.gtin_valid, r.error) == (
        "product",
        "EAN-13",
        "05901234123457",
        True,
        None,
    )


def test_wrong_check_digit_names_the_digit_and_the_right_value() -> None:
    r = decode_scan("5901234123458")
    assert r.gtin_valid is False
    assert r.gtin == "05901234123458"
    assert r.error is not None
    assert "digit 13" in r.error and "is 8" in r.error and "should be 7" in r.error


def test_gtin_in_ai_01_with_wrong_check_digit() -> None:
    r = decode_scan("]C10109501101020918")
    assert r.gtin_valid is False
    assert r.error is not None and "digit 14" in r.error and "should be 7" in r.error


def test_ean8_upca_upce_and_gtin14() -> None:
    assert decode_scan("96385074").gtin == "00000096385074"  # GS1 spec EAN-8 example
    upca = decode_scan("036000291452")  # UPC-A example
    assert (upca.symbology, upca.gtin) == ("UPC-A", "00036000291452")
    upce = decode_scan("04252614")  # UPC-E, expands to UPC-A 042100005264
    assert (upce.symbology, upce.gtin, upce.gtin_valid) == ("UPC-E", "00042100005264", True)
    itf = decode_scan("]I110012345678902")
    assert (itf.symbology, itf.gtin, itf.gtin_valid) == ("ITF-14", "10012345678902", True)


def test_gs1_weights_and_prices_from_ais() -> None:
    r = decode_scan("]C101095011010209173103000750" + GS + "39220299")
    assert r.kind == "gs1"
    assert r.weight_g == 750
    assert r.price_cents == 299


def test_variable_measure_by_biip_region_rules_and_catalog_lookup_by_item_reference() -> None:
    catalog = {"021482": "Cheddar", "11122": "Ham"}
    se = decode_scan("2302148210869", config=BarcodeConfig(rcn_region="se"), catalog_lookup=catalog.get)
    assert (se.kind, se.weight_g, se.item_reference, se.product) == (
        "variable_measure",
        1086,
        "021482",
        "Cheddar",
    )
    gb = decode_scan("2011122912346", config=BarcodeConfig(rcn_region="gb"), catalog_lookup=catalog.get)
    assert (gb.kind, gb.price_cents, gb.product) == ("variable_measure", 1234, "Ham")


def test_variable_measure_with_a_store_defined_rule_for_prefix_02() -> None:
    cfg = BarcodeConfig(
        rcn_region="nl",
        variable_measure_rules={"02": VariableMeasureRule("price", "PPPPPPPVVVVV", decimals=2)},
    )
    r = decode_scan("0212345012345", config=cfg)
    assert (r.kind, r.price_cents, r.item_reference) == ("variable_measure", 1234, "12345")


def test_without_region_rules_an_in_store_code_is_a_plain_product() -> None:
    r = decode_scan("2302148210869")
    assert r.kind == "product" and r.weight_g is None


# a store whose cards are "LC" + 7 + 15 digits and whose coupons are CPN-...; the defaults are the demo's
OTHER_STORE = BarcodeConfig(loyalty_card=LoyaltyCardFormat(r"^(?:LC)?(?P<number>7\d{15})$"),
                            store_coupon_pattern=r"^CPN-(?P<code>[0-9A-Z]{4,32})$")


def test_default_card_and_coupon_formats_are_the_demo_and_readme_ones() -> None:
    card = decode_scan("6009000000000016")
    assert (card.kind, card.customer_id, card.error) == ("loyalty_card", "6009000000000016", None)
    assert decode_scan("SAVE3-ALPHA").coupon_code == "SAVE3-ALPHA"
    from devices.barcode.config import BarcodeSettings

    from_settings, decoder = BarcodeSettings().to_config(), BarcodeConfig()  # one set of card/coupon defaults
    assert (from_settings.loyalty_card, from_settings.store_coupon_pattern) == (
        decoder.loyalty_card, decoder.store_coupon_pattern)


def test_coupons() -> None:
    assert decode_scan("CPN-SPRING2025", config=OTHER_STORE).coupon_code == "SPRING2025"
    gs1_prefix = decode_scan("9912345678909")
    assert gs1_prefix.kind == "coupon"
    ai = decode_scan("]C18110106141416543213500110000310123196000")
    assert ai.kind == "coupon" and ai.ai["8110"].startswith("1061414165432")


def test_loyalty_card_luhn() -> None:
    ok = decode_scan("7000000000000005", config=OTHER_STORE)
    assert (ok.kind, ok.customer_id, ok.error) == ("loyalty_card", "7000000000000005", None)
    bad = decode_scan("7000000000000002", config=OTHER_STORE)
    assert bad.kind == "loyalty_card" and bad.error is not None and "should be 5" in bad.error


def test_unknown_text_and_empty_scan_say_what_to_do() -> None:
    for text in ("hello world", "", "\r\n", "]Q1just some text"):
        r = decode_scan(text)
        assert r.kind == "unknown"
        assert r.error and r.error.endswith(".")


def test_to_json_has_exactly_the_documented_fields() -> None:
    assert list(decode_scan("5901234123457").to_json()) == list(JSON_FIELDS)
    assert JSON_FIELDS == (
        "input", "symbology", "kind", "gtin", "gtin_valid", "ai", "expiry", "batch", "serial",
        "weight_g", "price_cents", "addon", "isbn", "isbn10", "ismn", "issn", "customer_id", "error",
    )  # fmt: skip


def test_catalog_lookup_failure_becomes_an_error_not_an_exception() -> None:
    def broken(_: str) -> object:
        raise RuntimeError("db locked")

    r = decode_scan("5901234123457", catalog_lookup=broken)
    assert r.kind == "product" and r.error is not None and "lookup failed" in r.error


def test_cli_exit_codes_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_scan_decode(["(01)09501101020917(17)190508(10)ABC123(21)1234"]) == 0
    out = json.loads(capsys.readouterr().out.strip())
    assert out["expiry"] == "2019-05-08" and out["kind"] == "gs1"
    assert main_scan_decode(["not a barcode"]) == 2
    assert json.loads(capsys.readouterr().out)["kind"] == "unknown"
    assert main_scan_decode(["5901234123458"]) == 2  # understood as a product, but the check digit is wrong


def test_cli_as_subprocess_prints_one_json_object() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "devices", "scan-decode", "]C10109501101020917<GS>10ABC123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["batch"] == "ABC123"


# --- GS1 element strings whether or not the scanner passes FNC1/GS and the AIM id through -----------------
# GS1 General Specifications examples (GTIN 09506000134352 is GS1's published example GTIN).
GS1_WITHOUT_SEPARATORS = [
    ("0109506000134352172402001010ABC", {"01": "09506000134352", "17": "240200", "10": "10ABC"}),
    ("01095060001343523103001525" + "10ABC123", {"01": "09506000134352", "3103": "001525", "10": "ABC123"}),
    ("0109506000134352" + "21A1B2C3", {"01": "09506000134352", "21": "A1B2C3"}),
]


@pytest.mark.parametrize(("plain", "ais"), GS1_WITHOUT_SEPARATORS)
@pytest.mark.parametrize("wrap", ["{}", "]C1{}", GS + "{}", "]C1" + GS + "{}", "]d2{}", "]Q3{}"])
def test_gs1_element_strings_with_or_without_fnc1_and_aim(plain: str, ais: dict[str, str], wrap: str) -> None:
    result = decode_scan(wrap.format(plain))
    assert (result.kind, result.ai, result.gtin, result.gtin_valid, result.error) == (
        "gs1",
        ais,
        "09506000134352",
        True,
        None,
    )


def test_gs1_without_separators_reads_expiry_batch_and_weight() -> None:
    result = decode_scan("0109506000134352172402001010ABC")
    assert (result.expiry, result.batch) == ("2024-02-29", "10ABC")
    assert decode_scan("01095060001343523103001525" + "10ABC123").weight_g == 1525
    assert main_scan_decode(["0109506000134352172402001010ABC"]) == 0


def test_text_that_only_starts_like_an_ai_stays_unknown() -> None:
    for text in ("0109506000134352 hello", "10ABC", "21-not/valid!chars~~~", "17 JANUARY 2024 SALE"):
        result = decode_scan(text)
        assert result.kind == "unknown" and result.error, text
