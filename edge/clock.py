"""The till's clock: the device's time corrected by the hub's, once the hub's is known.

A till whose clock is 2 hours fast or a day slow would choose offers by the wrong time and refuse genuine
loyalty-app codes as expired or not yet valid. The sync client learns the hub's time from every answer's HTTP
``Date`` header (RFC 9110 section 6.6.1) and records the offset, hub minus device, in the database's
``sync_state`` (``sync.apply.HUB_CLOCK_OFFSET_KEY``); this module reads it back. Offers, expiries and token
validity ask ``HubClock`` for the time (``edge.session.TillSession`` uses it as its default clock).

Until the hub has answered once, the device's own clock is used as it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlite_utils

from edge.core.i18n import ENGLISH, Translator
from sync.apply import HUB_CLOCK_OFFSET_KEY

WARN_OFFSET_S = 120.0  # the status bar warns the cashier beyond 2 minutes (issue #12)
REFRESH_S = 5.0  # how long a read offset is trusted before the database is asked again


def device_now() -> datetime:
    """The device's own clock (UTC), uncorrected."""
    return datetime.now(UTC)


def clock_warning(offset_s: float | None, tr: Translator = ENGLISH) -> str | None:
    """The status-bar sentence for the cashier (in ``tr``'s language) when the device clock is off by more
    than ``WARN_OFFSET_S`` (``offset_s`` = hub minus device, seconds), else None."""
    if offset_s is None or abs(offset_s) <= WARN_OFFSET_S:
        return None
    span = _span(abs(offset_s), tr)
    if offset_s < 0:
        return tr._("Till clock {span} fast: hub time in use, call the technician").format(span=span)
    return tr._("Till clock {span} slow: hub time in use, call the technician").format(span=span)


def _span(seconds: float, tr: Translator) -> str:
    if seconds < 5400:
        return tr._("{n} min").format(n=f"{seconds / 60:.0f}")
    if seconds < 172800:
        return tr._("{n} h").format(n=f"{seconds / 3600:.1f}".removesuffix(".0"))
    return tr._("{n} days").format(n=f"{seconds / 86400:.1f}".removesuffix(".0"))


def read_offset(db: sqlite_utils.Database) -> float | None:
    """The recorded hub-minus-device offset in seconds, None when the hub never answered (or it is unreadable)."""
    row = db.execute("SELECT value FROM sync_state WHERE key = ?", [HUB_CLOCK_OFFSET_KEY]).fetchone()
    if row is None:
        return None
    try:
        value = float(row[0])
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) < 10 * 365 * 86400 else None  # NaN or absurd: not trusted


class HubClock:
    """A ``Clock`` (call it for the time, UTC): the device's time plus the hub offset recorded in ``db``.

    The offset is read at most every ``refresh_s`` (the sync worker records it on its own thread and
    connection). ``device`` is the device clock (the system clock; replaceable where a test must move it)."""

    def __init__(self, db: sqlite_utils.Database, *, device: Callable[[], datetime] = device_now,
                 refresh_s: float = REFRESH_S) -> None:
        self.db = db
        self.device = device
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._offset: float | None = None
        self._read_at: float | None = None

    def offset_s(self) -> float | None:
        """Hub minus device (s), None until the hub's time is known."""
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self.refresh_s:
                self._offset = read_offset(self.db)
                self._read_at = now
            return self._offset

    def __call__(self) -> datetime:
        offset = self.offset_s()
        now = self.device()
        return now if offset is None else now + timedelta(seconds=offset)

    def warning(self, tr: Translator = ENGLISH) -> str | None:
        """The clock warning (see :func:`clock_warning`) in ``tr``'s language, or None."""
        return clock_warning(self.offset_s(), tr)


def warning_for(clock: object, tr: Translator = ENGLISH) -> str | None:
    """The clock warning of a till's clock (None for a clock that is not a ``HubClock``, e.g. a test's)."""
    return clock.warning(tr) if isinstance(clock, HubClock) else None
