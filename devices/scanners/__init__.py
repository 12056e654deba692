"""Scanner sources (serial, keyboard wedge, evdev) behind one small interface; see ``base``."""

from devices.scanners.base import ScanEvent, ScannerSource, ScannerStatus, make_scanner_source

__all__ = ["ScanEvent", "ScannerSource", "ScannerStatus", "make_scanner_source"]
