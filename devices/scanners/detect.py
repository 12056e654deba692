"""Which input devices are barcode scanners: heuristics, overridden by a technician's explicit marks.

Auto-detection misses scanners that call themselves "USB Keyboard", so ``roles`` (name, "vvvv:pppp" or
by-id path -> "scanner" | "keyboard") always wins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["scanner", "keyboard", "other"]

SCANNER_WORDS = re.compile(
    r"scanner|barcode|bar code|honeywell|metrologic|hand ?held|symbol|zebra|datalogic|newland|opticon|"
    r"code ?reader|qr ?reader|imager|voyager|xenon|granit|gryphon|quickscan",
    re.IGNORECASE,
)
# USB vendor ids of scanner makers (Honeywell/Metrologic/HHP, Symbol/Zebra, Datalogic, Newland, Opticon,
# Code Corp, Zebex, Cino/Fuzzyscan, Unitech).
SCANNER_VENDORS = frozenset({"0c2e", "0536", "05e0", "05f9", "1eab", "065a", "0d88", "1a86", "0483", "1a40"})
STRONG_SCANNER_VENDORS = frozenset({"0c2e", "0536", "05e0", "05f9", "1eab", "065a", "0d88"})


@dataclass(frozen=True)
class InputDevice:
    name: str
    vendor: str  # 4 lowercase hex digits, "" when unknown
    product: str
    handlers: tuple[str, ...]  # e.g. ("sysrq", "kbd", "event3")
    phys: str = ""

    @property
    def vid_pid(self) -> str:
        return f"{self.vendor}:{self.product}"

    @property
    def event_node(self) -> str | None:
        ev = next((h for h in self.handlers if h.startswith("event")), None)
        return f"/dev/input/{ev}" if ev else None


def marked_role(device: InputDevice, roles: Mapping[str, str] | None) -> Role | None:
    """The role a technician gave this device by hand (scanner.device_roles), or None."""
    for key in (device.name, device.vid_pid, device.event_node or "", device.phys):
        role = (roles or {}).get(key) if key else None
        if role in ("scanner", "keyboard", "other"):
            return role  # type: ignore[return-value]
    return None


def classify(device: InputDevice, roles: Mapping[str, str] | None = None) -> Role:
    marked = marked_role(device, roles)
    if marked is not None:
        return marked
    if "kbd" not in device.handlers:
        return "other"
    if device.vendor in STRONG_SCANNER_VENDORS or SCANNER_WORDS.search(device.name):
        return "scanner"
    return "keyboard"


def matches(device: InputDevice, wanted: str) -> bool:
    """``wanted`` is a device name (case-insensitive, substring) or "vvvv:pppp"."""
    wanted = wanted.strip()
    if re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", wanted):
        return device.vid_pid == wanted.lower()
    return bool(wanted) and wanted.lower() in device.name.lower()


def parse_proc_input_devices(text: str) -> list[InputDevice]:
    """Parse /proc/bus/input/devices (no evdev package or permissions needed)."""
    devices: list[InputDevice] = []
    for block in text.split("\n\n"):
        name = vendor = product = phys = ""
        handlers: tuple[str, ...] = ()
        for line in block.splitlines():
            if line.startswith("I:"):
                fields = dict(p.split("=", 1) for p in line[2:].split() if "=" in p)
                vendor, product = fields.get("Vendor", "").lower(), fields.get("Product", "").lower()
            elif line.startswith("N: Name="):
                name = line[len("N: Name=") :].strip().strip('"')
            elif line.startswith("P: Phys="):
                phys = line[len("P: Phys=") :].strip()
            elif line.startswith("H: Handlers="):
                handlers = tuple(line[len("H: Handlers=") :].split())
        if name or handlers:
            devices.append(InputDevice(name, vendor, product, handlers, phys))
    return devices


def list_input_devices(path: str = "/proc/bus/input/devices") -> list[InputDevice]:
    try:
        return parse_proc_input_devices(Path(path).read_text(errors="replace"))
    except OSError:
        return []


def serial_by_id_names(by_id_dir: str = "/dev/serial/by-id") -> dict[str, list[str]]:
    """Real device path -> its stable by-id symlinks."""
    names: dict[str, list[str]] = {}
    try:
        entries = sorted(os.listdir(by_id_dir))
    except OSError:
        return names
    for entry in entries:
        link = os.path.join(by_id_dir, entry)
        names.setdefault(os.path.realpath(link), []).append(link)
    return names


def list_ble_adapters(sys_dir: str = "/sys/class/bluetooth") -> list[str]:
    try:
        return sorted(e for e in os.listdir(sys_dir) if ":" not in e)
    except OSError:
        return []
