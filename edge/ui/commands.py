"""Session commands in the order the cashier gave them.

Each command runs in its own thread worker (the database is blocking), but a worker waits for its ticket:
command *n* starts only after command *n-1* finished, whatever order the threads get scheduled in. The ticket
is also the version of the snapshot the command produces, so the UI never replaces a newer snapshot with an
older one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


class CommandQueue:
    """Tickets handed out on the UI thread (``ticket``), honoured in worker threads (``run``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._issued = 0
        self._done = 0
        self._closed = False

    def ticket(self) -> int:
        with self._cond:
            self._issued += 1
            return self._issued

    def run(self, ticket: int, action: Callable[[], R]) -> R:
        """Wait until every earlier ticket finished, then run ``action``; the next ticket may run after it,
        whether it returned or raised. Raises RuntimeError when the queue was closed (the till is stopping)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._done >= ticket - 1)
            if self._closed:
                raise RuntimeError("the till is stopping")
        try:
            return action()
        finally:
            with self._cond:
                self._done = max(self._done, ticket)
                self._cond.notify_all()

    def close(self) -> None:
        """Release every waiting worker (they raise); used when the till stops."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def idle(self) -> bool:
        with self._cond:
            return self._done >= self._issued
