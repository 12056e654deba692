"""Keyboard-wedge scanners inside the till: tell a scanner's key burst from a person typing.

``WedgeDetector`` is pure (keys and monotonic times go in). The first keys of any possible burst are held
back; they are released as typing as soon as the rhythm turns out human, or become one scan when a fast
burst ends with the terminator. So scanner keys never reach a focused input or trigger shortcuts.
The till calls ``feed`` from its key handler and ``poll`` from a timer (every ``max_key_interval_ms``) so a
single held-back key is released quickly.

Terminators: a scanner set to CRLF (or one that sends Enter twice) ends a scan with two end keys. The first
completes the scan; one more end key within the burst window right after it is ``swallowed``, so it can never
reach the UI as an Enter (which in the Pay dialog would pay the exact amount in cash).

Keyboard layouts: the host decodes a wedge scanner's key presses with the host's own layout, so a scanner
emulating a US keyboard on a German till types "z" for "y" and "ß" for "-". ``scanner.keyboard_layout`` is the
layout the scanner emulates (us, de, fr; the same setting the evdev source decodes with). The host's layout
is read from the environment: ``XKB_DEFAULT_LAYOUT``, else ``XKBLAYOUT`` in /etc/default/keyboard (Debian's
system keyboard setting); when neither names a known layout the host is assumed to use the scanner's layout,
i.e. nothing is translated. When the two differ, every scan is translated back with
``devices.scanners.evdev_keys.translate_layout`` before the prefix and AIM id are read; typing is never
translated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from devices.scanners.base import ScanEvent, ScannerSource, ScannerStatus
from devices.scanners.evdev_keys import LAYOUTS, translate_layout
from devices.scanners.framing import DEBOUNCE_MS

if TYPE_CHECKING:
    from devices.scanners.config import ScannerConfig

GS = "\x1d"
ENTER_KEYS = frozenset({"\r", "\n", "enter", "return", "ctrl+m", "ctrl+j"})
TAB_KEYS = frozenset({"\t", "tab", "ctrl+i"})
# What terminals/Textual deliver for the GS control character (Ctrl+]) that scanners send as FNC1.
GS_KEYS = frozenset({GS, "ctrl+right_square_bracket", "ctrl+]", "ctrl+5"})
SYSTEM_KEYBOARD_FILE = Path("/etc/default/keyboard")


def host_keyboard_layout(
    environ: Mapping[str, str] | None = None, keyboard_file: Path = SYSTEM_KEYBOARD_FILE
) -> str | None:
    """The layout the host decodes keys with (us, de, fr), or None when it cannot tell."""
    environ = os.environ if environ is None else environ
    candidates = [environ.get("XKB_DEFAULT_LAYOUT", "")]
    try:
        found = re.search(r'^\s*XKBLAYOUT\s*=\s*"?([^"\n]*)"?', keyboard_file.read_text(), re.MULTILINE)
    except (OSError, UnicodeDecodeError):
        found = None
    if found:
        candidates.append(found.group(1))
    for value in candidates:
        first = value.split(",")[0].strip().lower()  # "de,us": the first layout is the active one
        if first in LAYOUTS:
            return first
    return None


@dataclass(frozen=True)
class WedgeOutput:
    """``typing``: pass ``keys`` on to the UI in order. ``scan``: ``text`` is a scan made of ``keys`` (they
    and the terminator are dropped). ``swallowed``: ``keys`` are the rest of a scan's terminator, dropped.
    ``held``: wait."""

    kind: Literal["typing", "scan", "swallowed", "held"]
    keys: tuple[str, ...] = ()
    text: str = ""
    aim_id: str | None = None
    at: float = 0.0


HELD = WedgeOutput("held")


@dataclass
class _Burst:
    keys: list[str] = field(default_factory=list)
    chars: list[str] = field(default_factory=list)
    first_at: float = 0.0
    last_at: float = 0.0


class WedgeDetector:
    def __init__(
        self,
        max_key_interval_ms: float = 35.0,
        min_length: int = 4,
        terminator: str = "CR",
        max_length: int = 4096,
        prefix: str = "",
        scanner_layout: str = "us",
        host_layout: str | None = None,
    ) -> None:
        """``host_layout`` None: the host uses the scanner's layout (no translation)."""
        self.max_gap = max_key_interval_ms / 1000.0
        self.min_length = max(1, min_length)
        self.end_keys = TAB_KEYS if terminator.upper() == "TAB" else ENTER_KEYS
        self.max_length = max_length
        self.prefix = prefix
        self.scanner_layout = scanner_layout.lower()
        self.host_layout = (host_layout or scanner_layout).lower()
        self._burst = _Burst()
        self._scan_ended_at: float | None = None  # a scan just ended: one more end key is its terminator

    @property
    def holding(self) -> bool:
        return bool(self._burst.keys)

    def feed(self, key: str, now: float) -> list[WedgeOutput]:
        """One key (a printable character, or a key name like "enter"); returns what to do, in order."""
        out: list[WedgeOutput] = []
        scan_ended_at, self._scan_ended_at = self._scan_ended_at, None
        if scan_ended_at is not None and key in self.end_keys and now - scan_ended_at <= self.max_gap:
            # LF after CR (CRLF) or a second Enter: the rest of the scan's terminator, not a keypress.
            return [WedgeOutput("swallowed", keys=(key,), at=now)]
        burst = self._burst
        fast = bool(burst.keys) and now - burst.last_at <= self.max_gap
        if burst.keys and not fast:
            out.append(self._release())
            burst = self._burst
        if key in self.end_keys:
            if burst.keys and len(burst.chars) >= self.min_length:
                out.append(self._complete(key, now))
            else:
                keys = (*self._take(), key)
                out.append(WedgeOutput("typing", keys=keys, at=now))
            return out
        char = GS if key in GS_KEYS else key
        if len(char) != 1 or (not char.isprintable() and char != GS):
            # A named key (arrows, F-keys, shortcuts) is never part of a scan: let everything through.
            out.append(WedgeOutput("typing", keys=(*self._take(), key), at=now))
            return out
        if not burst.keys:
            burst.first_at = now
        burst.keys.append(key)
        burst.chars.append(char)
        burst.last_at = now
        if len(burst.chars) > self.max_length:
            out.append(self._release())
        return out or [HELD]

    def poll(self, now: float) -> list[WedgeOutput]:
        """Release held keys once the pause after them is longer than a scanner would make."""
        if self._burst.keys and now - self._burst.last_at > self.max_gap:
            return [self._release()]
        return []

    def _take(self) -> tuple[str, ...]:
        keys = tuple(self._burst.keys)
        self._burst = _Burst()
        return keys

    def _release(self) -> WedgeOutput:
        at = self._burst.last_at
        return WedgeOutput("typing", keys=self._take(), at=at)

    def _complete(self, end_key: str, now: float) -> WedgeOutput:
        text = "".join(self._burst.chars)
        keys = (*self._take(), end_key)
        self._scan_ended_at = now
        if self.host_layout != self.scanner_layout:
            text = translate_layout(text, self.host_layout, self.scanner_layout)
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix) :]
        from devices.barcode.symbology import split_aim_id  # biip: loaded at the first scan, not at start-up

        aim_id, text = split_aim_id(text)
        return WedgeOutput("scan", keys=keys, text=text.lstrip(GS), aim_id=aim_id, at=now)


class KeyboardWedgeSource(ScannerSource):
    """A ScannerSource fed by the till's key handler: ``handle_key`` says whether the UI may use the key."""

    name = "keyboard-wedge"

    def __init__(
        self,
        settings: ScannerConfig | None = None,
        max_key_interval_ms: float = 35.0,
        min_length: int = 4,
        host_layout: str | None = None,
    ) -> None:
        """``host_layout`` None: read it from the environment (see the module docstring)."""
        super().__init__()
        terminator = settings.terminator if settings is not None else "CR"
        prefix = settings.prefix if settings is not None else ""
        layout = settings.keyboard_layout if settings is not None else "us"
        self.detector = WedgeDetector(
            max_key_interval_ms,
            min_length,
            terminator,
            prefix=prefix,
            scanner_layout=layout,
            host_layout=host_layout or host_keyboard_layout(),
        )
        self._gs = settings.gs_separator if settings is not None else GS
        self._debounce_s = (settings.debounce_ms if settings is not None else DEBOUNCE_MS) / 1000.0
        self._last: tuple[str, float] = ("", float("-inf"))
        self._suppressed = 0

    @property
    def suppressed(self) -> int:
        """Identical reads dropped as one trigger pull's repeats (within ``debounce_ms``, not extended)."""
        return self._suppressed

    async def start(self) -> None:
        self._emit_status(
            ScannerStatus("connected", "scanner ready", "Listening for a keyboard-wedge scanner.")
        )

    async def stop(self) -> None:
        self._emit_status(ScannerStatus("stopped", "scanner stopped", "Keyboard-wedge scanning is off."))

    def handle_key(self, key: str, now: float) -> list[WedgeOutput]:
        """Returns the outputs; the till replays ``typing`` keys to the UI and drops the rest."""
        outputs = self.detector.feed(key, now)
        self._deliver(outputs)
        return outputs

    def poll(self, now: float) -> list[WedgeOutput]:
        outputs = self.detector.poll(now)
        self._deliver(outputs)
        return outputs

    def _deliver(self, outputs: list[WedgeOutput]) -> None:
        for out in outputs:
            if out.kind == "scan" and out.text:
                text = out.text.replace(self._gs, GS) if self._gs and self._gs != GS else out.text
                last_text, last_at = self._last
                if text == last_text and out.at - last_at < self._debounce_s:
                    self._suppressed += 1  # the same code read twice in one trigger pull
                    continue
                self._last = (text, out.at)  # only a delivered scan starts a window: it never extends
                self._emit_scan(ScanEvent(text, out.aim_id, self.name, out.at))
