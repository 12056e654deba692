"""Subscriber lists for device sources: registration returns the unsubscribe function, and one broken
subscriber never stops a scanner or the radio for the others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Subscribers(list[Callable[[T], None]]):
    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def add(self, callback: Callable[[T], None]) -> Callable[[], None]:
        self.append(callback)

        def unsubscribe() -> None:
            if callback in self:
                self.remove(callback)

        return unsubscribe

    def emit(self, value: T) -> None:
        for callback in list(self):
            try:
                callback(value)
            except Exception:
                log.exception("%s callback failed", self.what)
