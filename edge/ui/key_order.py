"""Keys and wedge scans act in the order they were pressed, even when one terminal read brings them all.

A function key acts at once (a priority binding) while the scan before it is still a session command in a
worker thread, and a dialog it opens is not mounted yet when the next keys arrive. So a key that depends on
what came before waits here, and every key and scan after it waits behind it:

- a key that is not typing (F-keys, arrows, Esc, shortcuts) waits while session commands given before it have
  not been shown yet (``settled`` False): F9 then opens the pay dialog with the scanned item in the total;
- every key waits while the screen on top is not mounted yet (a dialog just opened by the key before it), so
  the dialog gets the keys typed after its key, never those typed before it;
- after a key that is not a character is delivered, the rest waits one tick, so what that key started (an
  Enter submitting the scan line, Ctrl+U clearing a field from the field's own queue) has happened before the
  next key or scan is judged.

Waiting items are re-checked on a short timer; nothing is dropped. Typing keys with nothing waiting before
them pass straight through (the focused field takes them in order).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from textual import events

TYPING_KEYS = frozenset({"backspace", "delete", "enter", "ctrl+m", "ctrl+j"})
RECHECK_S = 0.01


def is_typing(item: object) -> bool:
    """True for a key that only edits or submits the focused field (a character, Backspace, Enter)."""
    if not isinstance(item, events.Key):
        return False
    return bool(item.is_printable and item.character) or item.key in TYPING_KEYS


def _edits_only(item: object) -> bool:
    """A character, Backspace or Delete: nothing the next key could depend on."""
    if not isinstance(item, events.Key):
        return False
    return bool(item.is_printable and item.character) or item.key in ("backspace", "delete")


class KeyOrder:
    """Items (key events, or scans as messages) in, delivered in arrival order by ``deliver``.

    ``settled()``: no session command given so far is still unshown. ``screen_ready()``: the screen on top is
    mounted. ``later(seconds, callback)``: a one-shot timer on the UI loop (``App.set_timer``)."""

    def __init__(
        self,
        deliver: Callable[[Any], Awaitable[None]],
        settled: Callable[[], bool],
        screen_ready: Callable[[], bool],
        later: Callable[[float, Callable[[], Awaitable[None]]], object],
    ) -> None:
        self._deliver = deliver
        self._settled = settled
        self._screen_ready = screen_ready
        self._later = later
        self._waiting: deque[Any] = deque()
        self._armed = False
        self._pause = False  # a key that is not typing was just delivered: the next item waits one tick

    @property
    def waiting(self) -> int:
        """How many keys and scans wait for their turn."""
        return len(self._waiting)

    def _must_wait(self, item: object) -> bool:
        if self._pause or not self._screen_ready():
            return True
        return not is_typing(item) and not self._settled()

    def queued(self, item: Any) -> bool:
        """True when ``item`` had to wait (it is delivered later, in its turn); False: the caller delivers it
        now, as nothing waits before it and it needs nothing unfinished."""
        if self._waiting or self._must_wait(item):
            self._waiting.append(item)
            self._arm()
            return True
        self._delivering(item)
        return False

    def _delivering(self, item: object) -> None:
        if not _edits_only(item):
            self._pause = True  # let what it started begin (a widget takes its keys from its own queue)
            self._arm()

    def _arm(self) -> None:
        if not self._armed:
            self._armed = True
            self._later(RECHECK_S, self._replay)

    async def _replay(self) -> None:
        self._armed = False
        self._pause = False
        while self._waiting and not self._must_wait(self._waiting[0]):
            item = self._waiting.popleft()
            self._delivering(item)
            await self._deliver(item)
        if self._waiting:
            self._arm()
