"""Barcode interpretation for the till: products, GS1 data, variable-measure codes, coupons and loyalty codes.

Pure code (no I/O, no UI). The entry point is :func:`devices.barcode.decode.decode_scan`.
"""

from typing import TYPE_CHECKING, Any

from devices.barcode.config import BarcodeConfig, LoyaltyCardFormat, VariableMeasureRule

if TYPE_CHECKING:
    from devices.barcode.decode import ScanResult, decode_scan

__all__ = ["BarcodeConfig", "LoyaltyCardFormat", "ScanResult", "VariableMeasureRule", "decode_scan"]


def __getattr__(name: str) -> Any:
    # the decoder pulls in all of biip (a third of a second on a Pi): load it on first use, not at start-up
    if name in ("ScanResult", "decode_scan"):
        from devices.barcode import decode

        return getattr(decode, name)
    raise AttributeError(name)
