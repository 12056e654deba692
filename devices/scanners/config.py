"""The ``[scanner]`` settings section: which scanner the device reads and how its frames look.

Declared here, with the sources that use it; the app's settings compose it (``edge.settings``). It checks
itself on construction (``ScannerConfigError`` naming the field): limits are declared in field metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.fields import problems
from devices.scanners.evdev_keys import LAYOUTS

# what may end a scan on the wire (devices.scanners.framing splits on these)
TERMINATORS = {"CR": "\r", "LF": "\n", "CRLF": "\r\n", "TAB": "\t"}


class ScannerConfigError(ValueError):
    """A ``[scanner]`` setting is unusable; ``field`` names it."""

    def __init__(self, problem: str, field: str) -> None:
        super().__init__(f"[scanner] {field} {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class ScannerConfig:
    """Which scanner to read, and how.

    - ``serial_port``: a serial (USB-CDC) scanner's port, e.g. ``/dev/serial/by-id/...``; empty: none.
    - ``baud``: its speed in bit/s; ``terminator``: what ends a scan (CR | LF | CRLF | TAB); ``prefix``: text the
      scanner puts before each scan (removed); ``gs_separator``: the character it sends for FNC1/GS.
    - ``debounce_ms``: identical reads closer than this (milliseconds) are one trigger pull read twice (count once).
    - ``evdev``: an input-device scanner's name or ``VID:PID`` (read with an exclusive grab); empty: none.
    - ``keyboard_layout``: the layout an evdev scanner types in (us | de | fr).
    - ``device_roles``: the technician's override of auto-detection: device name, ``VID:PID`` or event node
      -> ``"scanner"`` | ``"keyboard"`` | ``"other"``.
    Without a serial port or evdev device, the till reads keyboard-wedge scanners from its own keyboard input.
    """

    serial_port: str = ""
    baud: int = field(default=9600, metadata={"range": (50, 4_000_000)})
    terminator: str = field(default="CR", metadata={"choices": tuple(TERMINATORS)})
    prefix: str = ""
    gs_separator: str = "\x1d"
    debounce_ms: float = field(default=30.0, metadata={"range": (0.0, 10_000.0)})
    evdev: str = ""
    keyboard_layout: str = field(default="us", metadata={"choices": tuple(LAYOUTS)})
    device_roles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, problem in problems(self):
            raise ScannerConfigError(problem, name)
        for device, role in self.device_roles.items():
            if role not in ("scanner", "keyboard", "other"):
                raise ScannerConfigError(f"must be 'scanner', 'keyboard' or 'other', got {role!r}",
                                         f"device_roles.{device}")
