"""Keyboard-wedge scanners inside the till: key events pass through the wedge detector before any widget.

A fast burst ending in the terminator becomes one scan for the scan handler; it never reaches the focused
input and never fires a shortcut. Keys that turn out to be human typing are replayed, in order, as the very
same events, so typing (and the bindings) behave exactly as without a scanner.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

from textual import events

from devices.scanners.wedge import KeyboardWedgeSource

Forward = Callable[[events.Key], Awaitable[None]]


class WedgeKeyFilter:
    def __init__(self, source: KeyboardWedgeSource, forward: Forward) -> None:
        self.source = source
        self.forward = forward
        self._pending: deque[events.Key] = deque()

    @staticmethod
    def key_text(event: events.Key) -> str:
        return event.character if event.is_printable and event.character else event.key

    async def feed(self, event: events.Key) -> None:
        self._pending.append(event)
        await self._apply(self.source.handle_key(self.key_text(event), event.time))

    async def poll(self) -> None:
        if self.source.detector.holding:
            await self._apply(self.source.poll(time.monotonic()))

    async def _apply(self, outputs: list) -> None:
        for out in outputs:
            if out.kind == "typing":
                for _ in range(len(out.keys)):
                    if self._pending:
                        await self.forward(self._pending.popleft())
            elif out.kind in ("scan", "swallowed"):
                # the burst and its terminator were a scan (or the rest of its CRLF), not typing: drop them
                for _ in range(len(out.keys)):
                    if self._pending:
                        self._pending.popleft()
