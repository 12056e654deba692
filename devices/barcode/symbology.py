"""Human names for AIM symbology identifiers (ISO/IEC 15424), using biip to read the identifier."""

from __future__ import annotations

# biip is imported where an identifier is read, not here: importing it costs ~0.4 s on a Pi-class box, and the
# till imports this module (through the keyboard wedge) before its first screen; the till loads biip after it.

_NAMES = {
    "]E0": "EAN-13",
    "]E1": "EAN-13 add-on (2)",
    "]E2": "EAN-13 add-on (5)",
    "]E3": "EAN-13 with add-on",
    "]E4": "EAN-8",
    "]C0": "Code 128",
    "]C1": "GS1-128",
    "]d1": "DataMatrix",
    "]d2": "GS1 DataMatrix",
    "]Q1": "QR Code",
    "]Q3": "GS1 QR Code",
    "]e0": "GS1 DataBar",
    "]I0": "Interleaved 2 of 5",
    "]I1": "ITF-14",
    "]I3": "ITF-14",
    "]A0": "Code 39",
    "]G0": "Code 93",
    "]F0": "Codabar",
    "]L2": "PDF417",
    "]z0": "Aztec Code",
    "]J1": "GS1 DotCode",
}

GS1_MESSAGE_IDS = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})


def split_aim_id(text: str) -> tuple[str | None, str]:
    """Return (AIM identifier such as ``]C1``, rest). No identifier: (None, text). Never raises."""
    if len(text) < 3 or text[0] != "]":
        return None, text
    from biip import ParseError
    from biip.symbology import SymbologyIdentifier

    try:
        ident = SymbologyIdentifier.extract(text)
    except (ParseError, ValueError, IndexError):
        return None, text
    if len(text) < len(ident.value):
        return None, text
    return ident.value, text[len(ident.value) :]


def symbology_name(aim_id: str) -> str:
    if aim_id in _NAMES:
        return _NAMES[aim_id]
    from biip import ParseError
    from biip.symbology import SymbologyIdentifier

    try:
        iso = SymbologyIdentifier.extract(aim_id).iso_symbology
    except (ParseError, ValueError, IndexError):
        return aim_id
    return iso.name.replace("_", " ").title()
