"""Serial (and USB-CDC) scanners through pyserial, surviving unplug and re-plug.

pyserial blocks, so a daemon thread reads and hands scans to the asyncio loop. The port path is resolved
again at each reopen, so a ``/dev/serial/by-id/...`` symlink follows the device when the kernel renumbers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from devices.scanners.base import ScanEvent, ScannerSource, ScannerStatus
from devices.scanners.framing import ScanFramer

if TYPE_CHECKING:
    from devices.scanners.config import ScannerConfig

READ_TIMEOUT_S = 0.1  # how often the reader looks at the stop flag and whether the port still exists
RETRY_MIN_S = 0.25
RETRY_MAX_S = 0.5


class SerialScannerSource(ScannerSource):
    def __init__(self, settings: ScannerConfig, port: str | None = None, baud: int | None = None) -> None:
        super().__init__()
        self.port = port or settings.serial_port
        self.baud = baud or settings.baud
        self.name = f"serial:{self.port}"
        self.framer = ScanFramer(
            settings.terminator, settings.prefix, settings.gs_separator, settings.debounce_ms
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serial: Any = None
        self.reconnects = 0

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"scanner-{self.port}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        ser = self._serial
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.cancel_read()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)
            self._thread = None
        await asyncio.sleep(0)  # let hand-overs queued by the reader run before the final status
        self._emit_status(ScannerStatus("stopped", "scanner stopped", f"Stopped reading {self.port}."))

    # --- reader thread ------------------------------------------------------------------------------
    def _status(self, status: ScannerStatus) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or self._stop.is_set():
            return
        with contextlib.suppress(RuntimeError):  # loop closed while we were stopping
            loop.call_soon_threadsafe(self._emit_status, status)

    def _run(self) -> None:
        import serial

        delay = RETRY_MIN_S
        ever_connected = False
        while not self._stop.is_set():
            device = os.path.realpath(self.port)
            try:
                ser = serial.Serial(device, self.baud, timeout=READ_TIMEOUT_S)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._status(
                    ScannerStatus(
                        "disconnected",
                        "scanner disconnected",
                        f"No scanner at {self.port} ({_reason(exc)}); trying again every {RETRY_MAX_S:g} s.",
                    )
                )
                self._stop.wait(delay)
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            delay = RETRY_MIN_S
            if ever_connected:
                self.reconnects += 1
            ever_connected = True
            self._serial = ser
            self._status(ScannerStatus("connected", "scanner connected", f"Reading scans from {device}."))
            try:
                self._read_until_gone(ser, device)
            finally:
                self._serial = None
                self.framer.reset()
                with contextlib.suppress(Exception):
                    ser.close()

    def _read_until_gone(self, ser: Any, device: str) -> None:
        import serial

        while not self._stop.is_set():
            try:
                data = ser.read(1)  # returns as soon as one byte is there, or after the timeout
                if data and ser.in_waiting:
                    data += ser.read(ser.in_waiting)
            except (serial.SerialException, OSError, TypeError) as exc:
                if not self._stop.is_set():
                    self._status(
                        ScannerStatus(
                            "disconnected",
                            "scanner disconnected",
                            f"The scanner on {self.port} went away ({_reason(exc)}); waiting for it to come back.",
                        )
                    )
                return
            if not data:
                # Some USB-serial drivers do not error on unplug; the node disappearing is the sign.
                if not os.path.exists(device):
                    self._status(
                        ScannerStatus(
                            "disconnected",
                            "scanner disconnected",
                            f"{device} disappeared; waiting for the scanner.",
                        )
                    )
                    return
                continue
            now = time.monotonic()
            for framed in self.framer.feed(data, now):
                event = ScanEvent(framed.text, framed.aim_id, self.name, now)
                loop = self._loop
                if loop is not None and not loop.is_closed():
                    try:
                        loop.call_soon_threadsafe(self._emit_scan, event)
                    except RuntimeError:
                        return


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]
