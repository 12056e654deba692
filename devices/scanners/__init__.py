"""Scanner sources (serial, keyboard wedge, evdev) behind one small interface; see ``base``.

The names are loaded on first use: the settings import ``devices.scanners.config`` at start-up and must not
pay for the sources (and the barcode decoder behind the framer) there.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devices.scanners.base import ScanEvent, ScannerSource, ScannerStatus, make_scanner_source

__all__ = ["ScanEvent", "ScannerSource", "ScannerStatus", "make_scanner_source"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from devices.scanners import base

        return getattr(base, name)
    raise AttributeError(name)
