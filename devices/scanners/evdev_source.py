"""HID scanners read straight from /dev/input with an exclusive grab (Linux, optional ``evdev`` package).

The grab keeps scanner keys away from the desktop and the till's focused input entirely. When the
scanner is unplugged we poll for a device with the same name or vendor:product id, so a re-plugged
scanner is re-grabbed even when its /dev/input/eventN number changed.

``scanner.evdev`` names the device (name substring, "vvvv:pppp" or /dev/input/eventN); ``auto`` takes the
first device classified as a scanner. ``scanner.device_roles`` (the technician's marks) wins over both: a
device marked "keyboard" or "other" is never grabbed, and among several matches a device marked "scanner"
is taken first. Keys are decoded with ``scanner.keyboard_layout``, the layout the scanner emulates.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from devices.scanners.base import ScanEvent, ScannerSource, ScannerStatus
from devices.scanners.detect import InputDevice, classify, marked_role, matches
from devices.scanners.evdev_keys import EvdevKeyDecoder
from devices.scanners.framing import ScanFramer

if TYPE_CHECKING:
    from devices.scanners.config import ScannerConfig

RETRY_S = 0.5


class EvdevScannerSource(ScannerSource):
    def __init__(
        self, settings: ScannerConfig, device: str | None = None, layout: str | None = None
    ) -> None:
        super().__init__()
        self.wanted = device or settings.evdev
        self.name = f"evdev:{self.wanted}"
        self.layout = layout or settings.keyboard_layout
        self.roles = dict(settings.device_roles)
        # HID scanners end scans with Enter whatever the serial terminator setting says.
        self.framer = ScanFramer("CR", settings.prefix, settings.gs_separator, settings.debounce_ms)
        self._task: asyncio.Task[None] | None = None
        self._device: Any = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._release()
        self._emit_status(ScannerStatus("stopped", "scanner stopped", f"Stopped reading {self.wanted}."))

    def _release(self) -> None:
        dev, self._device = self._device, None
        if dev is not None:
            with contextlib.suppress(Exception):
                dev.ungrab()
            with contextlib.suppress(Exception):
                dev.close()

    def _find(self, evdev: Any) -> Any:
        opened = []
        for path in evdev.list_devices():
            try:
                dev = evdev.InputDevice(path)
            except OSError:
                continue
            info = InputDevice(
                dev.name,
                f"{dev.info.vendor:04x}",
                f"{dev.info.product:04x}",
                ("kbd", path.rsplit("/", 1)[-1]),
                dev.phys or "",
            )
            opened.append((info, dev))
        chosen = pick_device([info for info, _ in opened], self.wanted, self.roles)
        found = None
        for info, dev in opened:
            if found is None and info == chosen:
                found = dev
            else:
                dev.close()
        return found

    async def _run(self) -> None:
        try:
            import evdev  # type: ignore[import-not-found]
        except ImportError:
            self._emit_status(
                ScannerStatus(
                    "disconnected",
                    "scanner disconnected",
                    "The evdev package is not installed; install it or use the keyboard-wedge mode.",
                )
            )
            return
        while True:
            dev = self._find(evdev)
            if dev is None:
                self._emit_status(
                    ScannerStatus(
                        "disconnected", "scanner disconnected", f"No input device matches {self.wanted!r}."
                    )
                )
                await asyncio.sleep(RETRY_S)
                continue
            try:
                dev.grab()
            except OSError as exc:
                dev.close()
                self._emit_status(
                    ScannerStatus(
                        "disconnected",
                        "scanner disconnected",
                        f"{dev.path} is in use by another program and cannot be grabbed ({exc.strerror}).",
                    )
                )
                await asyncio.sleep(RETRY_S)
                continue
            self._device = dev
            self._emit_status(
                ScannerStatus("connected", "scanner connected", f"Grabbed {dev.name} at {dev.path}.")
            )
            decoder = EvdevKeyDecoder(self.layout)
            try:
                async for event in dev.async_read_loop():
                    ch = decoder.feed(event.type, event.code, event.value)
                    if ch is None:
                        continue
                    now = time.monotonic()
                    for framed in self.framer.feed(ch.encode("utf-8"), now):
                        self._emit_scan(ScanEvent(framed.text, framed.aim_id, self.name, now))
            except OSError:
                pass  # unplugged: ENODEV
            self._release()
            self.framer.reset()
            self._emit_status(
                ScannerStatus(
                    "disconnected", "scanner disconnected", f"{self.wanted} was unplugged; waiting for it."
                )
            )
            await asyncio.sleep(RETRY_S)


def pick_device(
    devices: list[InputDevice], wanted: str, roles: dict[str, str] | None = None
) -> InputDevice | None:
    """The device to grab for ``scanner.evdev = wanted``, honouring the technician's marks."""
    wanted = wanted.strip()
    allowed = [d for d in devices if marked_role(d, roles) in (None, "scanner")]
    if wanted.lower() == "auto":
        hits = [d for d in allowed if classify(d, roles) == "scanner"]
    else:
        hits = [d for d in allowed if matches(d, wanted) or (wanted and d.event_node == wanted)]
    hits.sort(key=lambda d: marked_role(d, roles) != "scanner")  # marked scanners first, else stable
    return hits[0] if hits else None
