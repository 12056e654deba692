"""Split a scanner's byte stream into scans: terminator, prefix, AIM id, GS handling and debounce.

Pure: time is passed in, so tests and the benchmark drive it directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.barcode.symbology import split_aim_id
from devices.scanners.config import TERMINATORS

GS = "\x1d"
MAX_FRAME_BYTES = 4096
# Identical reads closer than this are one trigger pull read twice (tens of milliseconds); a cashier
# scanning identical items one after the other is slower than that, and every such scan counts.
DEBOUNCE_MS = 30.0


@dataclass(frozen=True)
class FramedScan:
    text: str  # without terminator, prefix and AIM id; GS1 separators normalised to GS
    aim_id: str | None  # e.g. "]C1" when the scanner sent one
    raw: bytes  # the frame as received (without terminator)
    at: float  # time of the chunk that completed the frame


class ScanFramer:
    """Feed bytes with the time they arrived; get back whole scans.

    Any of CR, LF or CRLF ends a scan when the terminator is CR, LF or CRLF, because scanners are often
    reconfigured by accident and a stray LF after CR must not become an empty scan. With TAB, only TAB ends
    a scan and CR/LF are stripped from the ends.
    """

    def __init__(
        self,
        terminator: str = "CR",
        prefix: str = "",
        gs_separator: str = GS,
        debounce_ms: float = DEBOUNCE_MS,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        term = terminator.upper() if terminator.upper() in TERMINATORS else "CR"
        self._ends = b"\t" if term == "TAB" else b"\r\n"
        self.prefix = prefix
        self.gs_separator = gs_separator
        self.debounce_s = max(0.0, debounce_ms) / 1000.0
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._overflowing = False
        self._last_text: str | None = None
        self._last_at = float("-inf")
        self.dropped_overlong = 0
        self.debounced = 0

    def reset(self) -> None:
        """Forget a partial scan (after a disconnect the rest of it will never come)."""
        self._buf.clear()
        self._overflowing = False

    def feed(self, data: bytes, now: float) -> list[FramedScan]:
        out: list[FramedScan] = []
        start = 0
        for i, byte in enumerate(data):
            if byte in self._ends:
                self._buf += data[start:i]
                start = i + 1
                frame = bytes(self._buf)
                self._buf.clear()
                if self._overflowing:
                    self._overflowing = False
                    continue
                scan = self._frame(frame, now)
                if scan is not None:
                    out.append(scan)
        self._buf += data[start:]
        if len(self._buf) > self.max_frame_bytes:
            # Garbage without terminators (wrong baud rate...) must not grow memory without bound.
            self._buf.clear()
            self._overflowing = True
            self.dropped_overlong += 1
        return out

    def _frame(self, frame: bytes, now: float) -> FramedScan | None:
        text = frame.decode("utf-8", errors="replace").strip("\r\n\t ")
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix) :]
        aim_id, text = split_aim_id(text)
        if self.gs_separator and self.gs_separator != GS:
            text = text.replace(self.gs_separator, GS)
        text = text.lstrip(GS)  # FNC1 in first position only marks GS1 data; the AIM id says that already
        if not text:
            return None
        if text == self._last_text and now - self._last_at < self.debounce_s:
            # the same read twice within one trigger pull; the window is not extended, so a cashier
            # scanning identical items fast gets every one of them
            self.debounced += 1
            return None
        self._last_text, self._last_at = text, now
        return FramedScan(text=text, aim_id=aim_id, raw=frame, at=now)
