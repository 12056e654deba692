"""One interface for every BLE advert source (live bleak scanner, JSON Lines replay)."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from devices.beacons.adverts import Advert
from devices.callbacks import Subscribers

# states shown in the till's status bar
STOPPED, STARTING, SCANNING, RECOVERING, RESETTING, ADAPTER_MISSING, FINISHED, FAILED = (
    "stopped",
    "starting",
    "scanning",
    "recovering",
    "resetting",
    "adapter-missing",
    "finished",
    "failed",
)


@dataclass(frozen=True)
class SourceStatus:
    """A source's state (one of the constants above) with counters since it was made: scan restarts after
    silence, adapter resets, adverts delivered."""

    state: str = STOPPED
    detail: str = ""  # one sentence a technician can act on
    restarts: int = 0
    resets: int = 0
    adverts: int = 0


AdvertCallback = Callable[[Advert], None]
StatusCallback = Callable[[SourceStatus], None]


class BleSource(ABC):
    """A stream of BLE adverts (a live adapter through bleak, or a JSON Lines replay).

    Shape: ``await start()``; subscribe with ``on_advert(cb)`` / ``on_status(cb)`` (each returns its
    unsubscribe function) or read ``async for advert in source.adverts()``; ``await stop()``. Each advert is a
    ``devices.beacons.adverts.Advert``: ``time`` in seconds (monotonic for live sources, recorded time for a
    replay), ``rssi`` in dBm (None without a reading), raw manufacturer and service data.

    Errors: a source never raises from its scanning loop; adapter trouble (missing adapter, bluetoothd gone,
    a scan that stopped) becomes a ``SourceStatus`` change with a sentence in ``detail``, and the source
    recovers on its own (restart, then adapter reset, with back-off). Callbacks run on the event loop thread
    and must be quick; an exception in one is logged and does not stop the others.
    """

    def __init__(self) -> None:
        self._advert_callbacks: Subscribers[Advert] = Subscribers("advert")
        self._status_callbacks: Subscribers[SourceStatus] = Subscribers("BLE status")
        self.status = SourceStatus()

    @abstractmethod
    async def start(self) -> None:
        """Begin delivering adverts (returns once scanning was asked for; trouble shows in the status)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop scanning and release the adapter; idempotent."""

    def on_advert(self, callback: AdvertCallback) -> Callable[[], None]:
        """Call ``callback(advert)`` for each advert; returns the unsubscribe function."""
        return self._advert_callbacks.add(callback)

    def on_status(self, callback: StatusCallback) -> Callable[[], None]:
        """Call ``callback(status)`` on each change of ``status``; returns the unsubscribe function."""
        return self._status_callbacks.add(callback)

    async def adverts(self, maxsize: int = 10_000) -> AsyncIterator[Advert]:
        """Adverts as an async stream; a slow reader loses the oldest adverts, never blocks the radio."""
        queue: asyncio.Queue[Advert] = asyncio.Queue(maxsize)

        def put(advert: Advert) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(advert)

        unsubscribe = self.on_advert(put)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()

    def _emit(self, advert: Advert) -> None:
        self.status = replace(self.status, adverts=self.status.adverts + 1)
        self._advert_callbacks.emit(advert)

    def _set_status(self, state: str, detail: str = "", **counters: int) -> None:
        new = replace(self.status, state=state, detail=detail, **counters)
        if new == self.status:
            return
        self.status = new
        self._status_callbacks.emit(new)


def wall_time() -> float:
    return time.time()
