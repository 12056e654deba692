"""Barcode interpretation for the till: products, GS1 data, variable-measure codes, coupons and loyalty codes.

Pure code (no I/O, no UI). The entry point is :func:`devices.barcode.decode.decode_scan`.
"""

from devices.barcode.config import BarcodeConfig, LoyaltyCardFormat, VariableMeasureRule
from devices.barcode.decode import ScanResult, decode_scan

__all__ = ["BarcodeConfig", "LoyaltyCardFormat", "ScanResult", "VariableMeasureRule", "decode_scan"]
