"""Driving the real till through Textual's Pilot: build it on a seeded database, wait for its workers, read
what the cashier sees (the message line, the basket, the whole screen as text)."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable

from edge.settings import Settings
from edge.ui.app import TillApp, make_app
from tests.support.demo import FIXED_NOW

# a generous burst window so a loaded machine still delivers Pilot's key presses as one scanner burst
SCANNER_WINDOW_MS = 400.0


def with_till(settings: Settings, **till: object) -> Settings:
    """``settings`` with the ``[till]`` fields given replaced."""
    return settings.replace(till=dataclasses.replace(settings.till, **till))


def till_app(settings: Settings, **till: object) -> TillApp:
    """The till as ``make_app`` builds it, on the fixed test clock, with ``[till]`` fields replaced."""
    return make_app(with_till(settings, **till), clock=lambda: FIXED_NOW)


async def settle(app: TillApp, pilot, rounds: int = 3, groups: tuple[str, ...] = ("session", "parked")) -> None:
    """Wait for the session's (and parked-list) workers and let the screen catch up, ``rounds`` times."""
    for _ in range(rounds):
        await app.workers.wait_for_complete([w for w in app.workers if w.group in groups])
        await pilot.pause()


async def until(pilot, ready: Callable[[], bool], limit_s: float = 10.0) -> None:
    """Pause the pilot until ``ready()`` holds or ``limit_s`` passes (the assertion after it says what failed)."""
    deadline = time.monotonic() + limit_s
    while not ready() and time.monotonic() < deadline:
        await pilot.pause(0.05)


async def settled_layout(app: TillApp, pilot) -> None:
    """Wait until the sale screen's layout is final for a picture: no worker left, the basket has placed its
    view (it does so when idle, once the rows' heights are known), then one more quiet moment. On a loaded
    machine a fixed pause could take the picture before that."""
    app.refresh_status()  # the status bar as it is now (it also refreshes every 2 s: not mid-picture)
    await app.workers.wait_for_complete()
    await pilot.pause()
    basket = app.screen_stack[0].query_one("#basket")
    for _ in range(2):
        await until(pilot, lambda: not getattr(basket, "_scroll_pending", False)
                    and not getattr(basket, "_require_update_dimensions", False))
        await pilot.pause(0.3)


async def type_in(app: TillApp, pilot, text: str) -> None:
    """Put ``text`` in the focused input, then Enter (a real key event)."""
    focused = app.focused
    assert focused is not None and hasattr(focused, "value"), f"no input has focus ({focused!r})"
    focused.value = text
    await pilot.press("enter")
    await settle(app, pilot)


def screen_text(app: TillApp) -> str:
    """The screen on top as the terminal shows it, one line per row."""
    return "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())


def flat(text: str) -> str:
    """Screen text with borders removed and every run of blanks (line ends included) as one space."""
    for ch in "│█▊▎▔▁":
        text = text.replace(ch, " ")
    return " ".join(text.split())


def message(app: TillApp) -> str:
    """The message line under the basket."""
    return str(app.query_one("#message").render())


def lines(app: TillApp) -> list[tuple[str, int]]:
    """The basket as (product name, quantity) pairs, from the snapshot the till shows."""
    assert app.snapshot is not None
    return [(p.line.product.name, p.line.qty) for p in app.snapshot.settlement.pricing.lines]


def count(settings: Settings, query: str) -> int:
    """The single number ``query`` (a ``SELECT count(*) ...``) reads from the till's database."""
    db = sqlite3.connect(settings.database_path)
    try:
        return db.execute(query).fetchone()[0]
    finally:
        db.close()


def sales(settings: Settings) -> int:
    """How many sales the till's database holds."""
    return count(settings, "SELECT count(*) FROM sales")


def still_fine(app: TillApp) -> None:
    """The till runs, has not been told to exit, and no unexpected error reached it."""
    assert app.is_running and app.return_code is None
    assert app.ui_errors == 0, "an unexpected error reached the till"


def terminal_read(app: TillApp, *keys: str) -> None:
    """``keys`` as one read from the terminal hands them over: all sent at once, none handled before the next
    is queued (``pilot.press`` waits for the till to go idle after every key, which a fast typist does not).
    Key names as for ``pilot.press`` ("backspace", "enter", "ctrl+u"); one character is that character."""
    from textual import events

    assert app._driver is not None
    for key in keys:
        char = {"enter": "\r", "backspace": "\x7f", "tab": "\t", "ctrl+u": "\x15"}.get(key)
        if char is None:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
