"""The one interface every scanner source implements, and the factory that picks one from settings.

Callbacks are called on the asyncio loop thread; sources that read in a thread hand results over with
``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from devices.callbacks import Subscribers

if TYPE_CHECKING:
    from devices.scanners.config import ScannerConfig


State = Literal["idle", "connecting", "connected", "disconnected", "stopped"]


@dataclass(frozen=True)
class ScanEvent:
    text: str  # framed scan text, ready for devices.barcode.decode_scan
    aim_id: str | None  # AIM symbology identifier the scanner sent, e.g. "]E0"
    source: str  # which device, e.g. "serial:/dev/ttyACM0"
    received_at: float  # time.monotonic() when the last byte of the scan was read


@dataclass(frozen=True)
class ScannerStatus:
    state: State
    label: str  # short text for the status bar: "scanner connected", "scanner disconnected"
    detail: str  # a sentence for the technician


ScanCallback = Callable[[ScanEvent], None]
StatusCallback = Callable[[ScannerStatus], None]


class ScannerSource(ABC):
    """A barcode scanner: serial (USB-CDC), an evdev input device, or keyboard-wedge keys fed by the till.

    Shape: ``await start()``; subscribe with ``on_scan(cb)`` / ``on_status(cb)`` (each returns its unsubscribe
    function) or read ``async for scan in source.scans()``; ``await stop()``. Each ``ScanEvent`` carries the
    framed text (terminator, prefix and AIM id removed, FNC1 as GS), the AIM symbology id when the scanner sent
    one, the device it came from and ``received_at`` (``time.monotonic()`` seconds of its last byte). Identical
    scans within the configured debounce (``ScannerConfig.debounce_ms``) are delivered once.

    Errors: a source never raises from its reading loop; an unplugged or unreadable device becomes a
    ``ScannerStatus`` change ("disconnected", with a sentence for the technician) and the source reopens it
    when it comes back. Callbacks run on the asyncio loop thread.
    """

    name = "scanner"

    def __init__(self) -> None:
        self._scan_callbacks: Subscribers[ScanEvent] = Subscribers("scan")
        self._status_callbacks: Subscribers[ScannerStatus] = Subscribers("scanner status")
        self.status = ScannerStatus("idle", "scanner idle", "The scanner has not been started.")

    @property
    def suppressed(self) -> int:
        """Identical reads dropped as one trigger pull's repeats (see ``debounce_ms``); 0 when not counted."""
        framer = getattr(self, "framer", None)
        return int(getattr(framer, "debounced", 0))

    @abstractmethod
    async def start(self) -> None:
        """Open the device and begin delivering scans (a missing device shows in the status, not as an error)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop reading and release the device; idempotent."""

    def on_scan(self, callback: ScanCallback) -> Callable[[], None]:
        """Call ``callback(scan)`` for each scan; returns the unsubscribe function."""
        return self._scan_callbacks.add(callback)

    def on_status(self, callback: StatusCallback) -> Callable[[], None]:
        """Call ``callback(status)`` on each change of ``status``; returns the unsubscribe function."""
        return self._status_callbacks.add(callback)

    async def scans(self) -> AsyncGenerator[ScanEvent, None]:
        """Scans as an async stream: ``async for scan in source.scans(): ...``."""
        queue: asyncio.Queue[ScanEvent] = asyncio.Queue()
        unsubscribe = self.on_scan(queue.put_nowait)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()

    def _emit_scan(self, event: ScanEvent) -> None:
        self._scan_callbacks.emit(event)

    def _emit_status(self, status: ScannerStatus) -> None:
        if status == self.status:
            return
        self.status = status
        self._status_callbacks.emit(status)


def make_scanner_source(
    settings: ScannerConfig, override: type[ScannerSource] | None = None
) -> ScannerSource:
    """The source for ``settings`` (the ``[scanner]`` section): serial when a port is set, else evdev when a
    device is named, else the keyboard wedge in the till.

    ``override`` is a ScannerSource subclass taking the settings (tests, or a technician forcing one).
    """
    if override is not None:
        return override(settings)  # type: ignore[call-arg]
    if settings.serial_port:
        from devices.scanners.serial_source import SerialScannerSource

        return SerialScannerSource(settings)
    if settings.evdev:
        from devices.scanners.evdev_source import EvdevScannerSource

        return EvdevScannerSource(settings)
    from devices.scanners.wedge import KeyboardWedgeSource

    return KeyboardWedgeSource(settings)
