"""Replay adverts from JSON Lines (time, address, rssi, manufacturer_data, service_data, local_name).

Used by the demo and tests; ``store-edge devices ble-record`` writes the same format from a real adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from devices.beacons.adverts import AdvertFormatError, advert_from_record
from devices.ble.base import FAILED, FINISHED, SCANNING, STOPPED, BleSource


class ReplaySource(BleSource):
    """``speed`` 0 replays as fast as possible keeping recorded times; otherwise paced (1.0 = real time)
    and re-stamped on ``clock`` so live presence logic sees a live-looking stream."""

    def __init__(
        self, path: Path | str, speed: float = 0.0, clock: Callable[[], float] = time.monotonic, loop: bool = False
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.speed = speed
        self.clock = clock
        self.loop = loop
        self.skipped: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._done.clear()
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.status.state not in (FINISHED, FAILED):
            self._set_status(STOPPED, "replay stopped")

    async def wait_finished(self) -> None:
        await self._done.wait()

    async def _run(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            self._set_status(FAILED, f"cannot read the replay file {self.path}: {exc}")
            self._done.set()
            return
        self._set_status(SCANNING, f"replaying {self.path.name}")
        try:
            while True:
                await self._play(lines)
                if not self.loop:
                    break
        finally:
            self._done.set()
        detail = f"replay of {self.path.name} finished"
        if self.skipped:
            detail += f"; {len(self.skipped)} bad line(s) skipped, first: {self.skipped[0]}"
        self._set_status(FINISHED, detail)

    async def _play(self, lines: list[str]) -> None:
        first: float | None = None
        start = self.clock()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                advert = advert_from_record(json.loads(line))
            except (json.JSONDecodeError, AdvertFormatError) as exc:
                self.skipped.append(f"line {number}: {exc}")
                continue
            if self.speed > 0:
                first = advert.time if first is None else first
                due = start + (advert.time - first) / self.speed
                delay = due - self.clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                advert = type(advert)(
                    self.clock(), advert.address, advert.rssi, advert.manufacturer_data, advert.service_data,
                    advert.local_name, advert.tx_power,
                )  # fmt: skip
            elif number % 256 == 0:
                await asyncio.sleep(0)  # let the loop breathe on big files
            self._emit(advert)
