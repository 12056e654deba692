"""EAN/UPC add-ons and the publication numbers inside Bookland / ISSN GTINs.

An EAN-13 or UPC-A symbol may carry a 2- or 5-digit add-on symbol to its right (GS1 General Specifications
5.2.2.6): on a periodical (GTIN prefix 977) the 2-digit add-on is the issue number, on a book (978/979) the
5-digit add-on is usually a suggested price. ISO/IEC 15424 says how a scanner sends it: ``]E3`` is one packet
of the 13 main digits followed by the add-on's 2 or 5; ``]E0`` + main and ``]E1``/``]E2`` + add-on are two
packets, which some scanners send back to back in one scan.

The numbers themselves (ISBN-13 hyphenated by its registration group, ISBN-10 for 978 only, ISMN for
979-0, ISSN with its mod-11 check character) come from python-stdnum, which carries the ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

ADDON_LENGTHS = (2, 5)
MAIN_LENGTHS = (13, 12)  # EAN-13 (and UPC-A sent in its 13-digit form), then UPC-A sent as 12 digits


@dataclass(frozen=True)
class Publication:
    """What a Bookland / ISSN GTIN-13 says: at most one of isbn / ismn / issn is set."""

    isbn: str | None = None  # ISBN-13, hyphenated
    isbn10: str | None = None  # only for 978 (979 ISBNs have no 10-digit form)
    ismn: str | None = None  # printed music, 979-0
    issn: str | None = None  # NNNN-NNNC


def split_addon(digits: str) -> tuple[str, str] | None:
    """``main`` and ``add-on`` of an EAN/UPC code sent with its add-on in one packet, None if no split fits.

    13 + 2 or 13 + 5 digits (EAN-13 / UPC-A in full EAN form), else 12 + 2 or 12 + 5 (UPC-A as 12 digits).
    """
    for main in MAIN_LENGTHS:
        if len(digits) - main in ADDON_LENGTHS:
            return digits[:main], digits[main:]
    return None


def split_packets(data: str) -> tuple[str, str | None, str | None]:
    """``main]E1NN`` or ``main]E2NNNNN`` (two ISO/IEC 15424 packets in one scan) -> (main, add-on id, add-on)."""
    main, sep, rest = data.partition("]E")
    if not sep or not rest or rest[0] not in "12":
        return data, None, None
    return main, "]E" + rest[0], rest[1:]


def publication(gtin13: str) -> Publication:
    """The ISBN, ISMN or ISSN inside a GTIN-13 with prefix 978/979/977; an empty Publication otherwise."""
    if len(gtin13) != 13 or not gtin13.isdigit():
        return Publication()
    prefix = gtin13[:3]
    if prefix == "977":
        from stdnum import issn

        body = gtin13[3:10]  # digits 11-12 are a price/variant code, digit 13 the GTIN check digit
        return Publication(issn=issn.format(body + issn.calc_check_digit(body)))
    if gtin13.startswith("9790"):
        from stdnum import ismn

        return Publication(ismn=ismn.format(gtin13) if ismn.is_valid(gtin13) else None)
    if prefix in ("978", "979"):
        from stdnum import isbn

        if not isbn.is_valid(gtin13):
            return Publication()
        ten = isbn.format(isbn.to_isbn10(gtin13)) if prefix == "978" else None
        return Publication(isbn=isbn.format(gtin13), isbn10=ten)
    return Publication()
