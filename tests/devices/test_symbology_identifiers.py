"""The scanner's AIM symbology identifier (ISO/IEC 15424) decides how digits are read; add-ons, Bookland and
ISSN numbers, GS1 Digital Link in any case. Digit counting only when the scanner sent no identifier."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devices.barcode import decode_scan
from devices.scanners.framing import ScanFramer
from devices.scanners.wedge import WedgeDetector

STORE_EDGE = Path(sys.executable).parent / "store-edge"


def fields(text: str, *names: str) -> tuple:
    r = decode_scan(text)
    return tuple(getattr(r, n) for n in names)


# --- EAN/UPC with a 2- or 5-digit add-on ----------------------------------------------------------------
def test_ean13_with_five_digit_addon_in_one_e3_packet() -> None:
    r = decode_scan("]E3419013670280310018")
    assert (r.kind, r.gtin, r.gtin_valid, r.addon, r.error) == ("product", "04190136702803", True, "10018", None)
    assert r.symbology == "EAN-13 with add-on"
    assert r.to_json()["addon"] == "10018"


def test_scan_decode_command_prints_the_addon() -> None:
    proc = subprocess.run([str(STORE_EDGE), "devices", "scan-decode", "]E3419013670280310018"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["kind"], doc["gtin"], doc["gtin_valid"], doc["addon"]) == ("product", "04190136702803", True, "10018")


@pytest.mark.parametrize(
    ("scan", "gtin", "addon", "symbology"),
    [
        ("]E3590123412345712", "05901234123457", "12", "EAN-13 with add-on"),  # 13 + 2
        ("]E303600029145212345", "00036000291452", "12345", "UPC-A with add-on"),  # UPC-A in 13-digit form + 5
        ("]E303600029145225", "00036000291452", "25", "UPC-A with add-on"),  # UPC-A sent as 12 digits + 2
        ("]E303600029145212", "00036000291452", "12", "UPC-A with add-on"),  # 13 + 2 (leading 0: UPC-A)
        ("]E04190136702803]E210018", "04190136702803", "10018", "EAN-13 with add-on"),  # two packets, one scan
        ("]E05901234123457]E112", "05901234123457", "12", "EAN-13 with add-on"),
        ("]E0419013670280310018", "04190136702803", "10018", "EAN-13 with add-on"),  # labelled E0, 18 digits
        ("419013670280310018", "04190136702803", "10018", "EAN-13 with add-on"),  # no identifier: 13 + 5
        ("590123412345712", "05901234123457", "12", "EAN-13 with add-on"),  # no identifier: 13 + 2
        ("03600029145212345", "00036000291452", "12345", "UPC-A with add-on"),  # no identifier: 12 + 5
    ],
)
def test_every_way_an_addon_arrives(scan: str, gtin: str, addon: str, symbology: str) -> None:
    assert fields(scan, "kind", "gtin", "gtin_valid", "addon", "symbology", "error") == (
        "product", gtin, True, addon, symbology, None,
    )  # fmt: skip


def test_e0_with_fourteen_digits_is_a_gtin14_unless_only_main_and_addon_fit() -> None:
    assert fields("]E008710000000017", "kind", "gtin", "addon") == ("product", "08710000000017", None)
    assert fields("]E003600029145225", "gtin", "addon") == ("00036000291452", "25")  # 12 + 2: no valid GTIN-14


def test_e3_without_its_addon_still_reads_the_product() -> None:
    assert fields("]E35901234123457", "kind", "gtin", "addon") == ("product", "05901234123457", None)


def test_addon_lengths_that_cannot_be_are_refused_in_words() -> None:
    r = decode_scan("]E35901234123457123")  # 13 + 3
    assert r.kind == "unknown" and "2- or 5-digit add-on" in (r.error or "") and "16 digits" in (r.error or "")
    bad_packet = decode_scan("]E05901234123457]E21234")
    assert bad_packet.kind == "unknown" and "must be 5 digits" in (bad_packet.error or "")
    letters = decode_scan("]E3590123412345ABCDE")
    assert letters.kind == "unknown" and "not all digits" in (letters.error or "")


def test_main_part_with_a_wrong_check_digit_keeps_its_addon_and_names_the_digit() -> None:
    r = decode_scan("]E3590123412345812")
    assert (r.kind, r.gtin_valid, r.addon) == ("product", False, "12")
    assert "should be 7" in (r.error or "")


def test_without_identifier_a_wrong_main_check_digit_is_not_taken_for_an_addon() -> None:
    r = decode_scan("590123412345812")  # 15 digits, 5901234123458 fails its check digit: GS1 is tried instead
    assert r.kind == "unknown" and r.addon is None and r.error


@pytest.mark.parametrize(("scan", "addon"), [("]E112", "12"), ("]E210018", "10018")])
def test_an_addon_read_alone_is_not_a_product(scan: str, addon: str) -> None:
    r = decode_scan(scan)
    assert (r.kind, r.gtin, r.addon) == ("unknown", None, addon)
    assert "Only the" in (r.error or "") and "larger barcode" in (r.error or "")
    wrong = decode_scan("]E1123")
    assert wrong.kind == "unknown" and "2 digits" in (wrong.error or "")


# --- the modifier decides EAN-8 vs UPC-E, and whether bare digits are a product at all -----------------
def test_e4_is_ean8_only_and_e0_reads_eight_digits_as_upce() -> None:
    assert fields("]E496385074", "kind", "gtin", "symbology") == ("product", "00000096385074", "EAN-8")
    # 04252614 is a valid UPC-E whose digits fail as EAN-8: without identifier the decoder guesses UPC-E ...
    assert fields("04252614", "gtin", "gtin_valid", "symbology") == ("00042100005264", True, "UPC-E")
    assert fields("]E004252614", "gtin", "gtin_valid", "symbology") == ("00042100005264", True, "UPC-E")
    # ... but a scanner that says EAN-8 is believed: a wrong EAN-8 check digit, named
    ean8 = decode_scan("]E404252614")
    assert (ean8.kind, ean8.gtin_valid, ean8.symbology) == ("product", False, "EAN-8")
    assert "digit 8" in (ean8.error or "")
    assert "8 digits, not 13" in (decode_scan("]E45901234123457").error or "")


def test_e0_names_upca_and_ean13_by_their_digits() -> None:
    assert fields("]E00036000291452", "gtin", "symbology") == ("00036000291452", "UPC-A")
    assert fields("]E0036000291452", "gtin", "symbology") == ("00036000291452", "UPC-A")
    assert fields("]E05901234123457", "gtin", "symbology") == ("05901234123457", "EAN-13")


@pytest.mark.parametrize("aim", ["]C0", "]A0", "]F0", "]d1"])
def test_digits_in_a_symbology_that_carries_no_gtin_are_not_a_product(aim: str) -> None:
    r = decode_scan(aim + "5901234123457")
    assert r.kind == "unknown" and r.gtin is None
    assert "5901234123457" in (r.error or "") and "not a product number" in (r.error or "")


def test_gs1_identifiers_and_itf14_still_read_their_digits() -> None:
    assert fields("]I110012345678902", "kind", "gtin") == ("product", "10012345678902")
    # ]I3: the scanner checked the check digit and left it out - it is put back
    assert fields("]I31001234567890", "kind", "gtin", "gtin_valid") == ("product", "10012345678902", True)
    assert fields("]e00109506000134352", "kind", "gtin") == ("gs1", "09506000134352")
    assert fields("]C10109506000134352", "kind", "gtin") == ("gs1", "09506000134352")


# --- books, printed music and periodicals ----------------------------------------------------------------
def test_bookland_978_shows_isbn13_and_isbn10_with_its_price_addon() -> None:
    r = decode_scan("]E3978316148410051299")
    assert (r.kind, r.gtin, r.addon, r.isbn, r.isbn10, r.issn) == (
        "product", "09783161484100", "51299", "978-3-16-148410-0", "3-16-148410-X", None,
    )  # fmt: skip
    # without identifier the 18 digits would parse as GS1 AI (97) "internal data": the EAN reading wins
    assert fields("978316148410051299", "kind", "isbn", "addon") == ("product", "978-3-16-148410-0", "51299")
    assert decode_scan("9783161484100").to_json()["isbn"] == "978-3-16-148410-0"


def test_bookland_979_has_no_isbn10_and_979_0_is_printed_music() -> None:
    r = decode_scan("]E3979123456789612345")
    assert (r.isbn, r.isbn10, r.addon) == ("979-12-3456789-6", None, "12345")
    music = decode_scan("]E09790230671187")
    assert (music.kind, music.ismn, music.isbn) == ("product", "979-0-2306-7118-7", None)


def test_periodical_977_shows_its_issn_and_the_issue_addon() -> None:
    r = decode_scan("]E3977031784700103")
    assert (r.kind, r.gtin, r.issn, r.addon, r.isbn) == ("product", "09770317847001", "0317-8471", "03", None)
    assert decode_scan("977031784700103").issn == "0317-8471"  # no identifier: 13 + 2 by count
    doc = decode_scan("]E3977031784700103").to_json()
    assert (doc["issn"], doc["addon"]) == ("0317-8471", "03")


def test_an_ordinary_product_has_no_publication_numbers() -> None:
    r = decode_scan("]E05901234123457")
    assert (r.isbn, r.isbn10, r.ismn, r.issn, r.addon) == (None, None, None, None, None)


# --- the scanner framing passes the identifier through -------------------------------------------------------
def test_serial_framer_keeps_the_e3_identifier_for_the_decoder() -> None:
    (scan,) = ScanFramer("CR").feed(b"]E3419013670280310018\r", now=0.0)
    assert (scan.aim_id, scan.text) == ("]E3", "419013670280310018")
    r = decode_scan(scan.text, symbology=scan.aim_id)
    assert (r.gtin, r.addon, r.symbology) == ("04190136702803", "10018", "EAN-13 with add-on")
    (two,) = ScanFramer("CR").feed(b"]E04190136702803]E210018\r", now=1.0)
    assert two.aim_id == "]E0" and decode_scan(two.text, symbology=two.aim_id).addon == "10018"


def test_wedge_keeps_the_e3_identifier_for_the_decoder() -> None:
    d = WedgeDetector(35, 4)
    out = [o for i, k in enumerate([*"]E3977031784700103", "enter"]) for o in d.feed(k, 10.0 + i * 0.004)]
    (scan,) = [o for o in out if o.kind == "scan"]
    assert (scan.aim_id, scan.text) == ("]E3", "977031784700103")
    r = decode_scan(scan.text, symbology=scan.aim_id)
    assert (r.issn, r.addon) == ("0317-8471", "03")


# --- GS1 Digital Link: scheme and host in any case, path as sent -------------------------------------------
@pytest.mark.parametrize(
    "uri",
    [
        "HTTPS://EXAMPLE.COM/01/09506000134352/10/AB12",
        "HTTP://EXAMPLE.COM/01/09506000134352/10/AB12",
        "Https://Example.Com/01/09506000134352/10/AB12",
        "https://ID.GS1.ORG/01/9506000134352/10/AB12",  # GTIN-13 in the path: padded to 14
        "HTTPS://EXAMPLE.COM/SHOP/01/09506000134352/10/AB12",  # a path prefix before the primary key
    ],
)
def test_digital_link_in_any_case_of_scheme_and_host(uri: str) -> None:
    r = decode_scan(uri)
    assert (r.kind, r.gtin, r.gtin_valid, r.batch, r.error) == ("gs1", "09506000134352", True, "AB12", None)


def test_digital_link_values_and_query_keep_their_case() -> None:
    r = decode_scan("HTTPS://EXAMPLE.COM/01/09506000134352/10/ab12?17=261231")
    assert (r.batch, r.expiry) == ("ab12", "2026-12-31")
    assert decode_scan("]Q1HTTPS://EXAMPLE.COM/01/09506000134352/21/X%2F1").serial == "X/1"


def test_scan_decode_command_reads_an_upper_case_digital_link() -> None:
    proc = subprocess.run([str(STORE_EDGE), "devices", "scan-decode", "HTTPS://EXAMPLE.COM/01/09506000134352/10/AB12"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["gtin"], doc["batch"]) == ("09506000134352", "AB12")
