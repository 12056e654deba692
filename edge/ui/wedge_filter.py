"""Keyboard-wedge scanners inside the till: key events pass through the wedge detector before any widget.

A fast burst ending in the terminator becomes one scan for the scan handler; it never reaches the focused
input and never fires a shortcut. Keys that turn out to be human typing are replayed, in order, as the very
same events, so typing (and the bindings) behave exactly as without a scanner.

Where a burst ends is decided by the keys' own times, never by how busy the till is: the poll timer releases
held keys only when no key is still waiting in the app's queue (``keys_waiting``), so a scan whose keys queue
up behind a busy loop is not cut in two. Feeding and polling take turns (one lock), so the held keys are
always popped in the order the detector saw them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from textual import events

from devices.scanners.wedge import KeyboardWedgeSource

Forward = Callable[[events.Key], Awaitable[None]]


class WedgeKeyFilter:
    """Key events in (``feed``, in arrival order), typed keys out to ``forward``, scans to ``source``'s
    listeners. ``keys_waiting``: True while key events have arrived that ``feed`` has not seen yet."""

    def __init__(
        self, source: KeyboardWedgeSource, forward: Forward, keys_waiting: Callable[[], bool] | None = None
    ) -> None:
        self.source = source
        self.forward = forward
        self.keys_waiting = keys_waiting or (lambda: False)
        self._pending: deque[events.Key] = deque()
        self._turn = asyncio.Lock()

    @staticmethod
    def key_text(event: events.Key) -> str:
        return event.character if event.is_printable and event.character else event.key

    async def feed(self, event: events.Key) -> None:
        async with self._turn:
            self._pending.append(event)
            await self._apply(self.source.handle_key(self.key_text(event), event.time))

    async def poll(self) -> None:
        """Release held keys after a pause, unless more keys are queued (they continue or end the burst)."""
        if not self.source.detector.holding or self.keys_waiting():
            return
        async with self._turn:
            if self.source.detector.holding and not self.keys_waiting():
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
