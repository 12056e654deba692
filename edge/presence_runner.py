"""The BLE source and the presence service running inside the till, off the UI loop.

Adverts arrive on the event loop at a high rate; the loop only appends them to a bounded buffer (the
oldest is dropped and counted when it is full) so the UI never waits on presence work. One dedicated
worker thread owns the presence engine and its own SQLite connection: it resolves adverts, ticks the
engine about once a second, writes offers/visits/counts and keeps a snapshot the UI may read at any time.

Callbacks (``on_status``, ``on_change``) run on the event loop that called :meth:`PresenceRunner.start`,
never on the worker thread, so a UI can touch its widgets from them. No Textual here: the till wires it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.beacons.adverts import Advert
from devices.ble.base import (
    ADAPTER_MISSING,
    FAILED,
    FINISHED,
    RECOVERING,
    RESETTING,
    SCANNING,
    STARTING,
    STOPPED,
    BleSource,
    SourceStatus,
)
from devices.ble.factory import SourceConfigError, make_ble_source
from devices.ble.replay_source import ReplaySource
from edge.core.presence import ENTER, EXIT, PresenceConfig, PresenceEngine, PresenceEvent
from edge.db import open_database
from edge.settings import Settings
from edge.store.presence_store import PresenceService, enqueue_analytics_due, load_registry

log = logging.getLogger(__name__)

TICK_EVERY_S = 1.0
CHANGE_EVERY_S = 0.5  # on_change at most twice a second: the UI re-reads on each call
SNAPSHOT_EVERY_S = 1.0  # live offers expire with time alone: refresh the snapshot even when nothing moved
RELOAD_EVERY_S = 60.0  # consents, identities and rules arrive from the hub while the till runs
DEFAULT_QUEUE = 4096
SIGHTINGS_EVERY_S = 1.0  # hub-relayed app sightings (the pull queues them) are fed to the engine this often
ANALYTICS_EVERY_S = 3600.0  # presence analytics go to the hub hourly, and once more when the runner stops


@dataclass(frozen=True)
class PresenceSnapshot:
    """What the till shows: who is in the store now (with live offers) and how the runner is doing."""

    present: list[dict[str, Any]] = field(default_factory=list)  # PresenceService.present_with_offers()
    status: str = "not started"  # the short words of the last status (as given to on_status)
    detail: str = ""  # the source's full sentence, e.g. which replay line was bad
    running: bool = False
    adverts_received: int = 0
    adverts_handled: int = 0
    adverts_dropped: int = 0  # lost because the worker fell behind (buffer full, oldest dropped)
    anonymous_now: dict[str, int] = field(default_factory=dict)  # distinct other devices this hour, per zone
    offers_issued: int = 0  # since the runner started
    errors: int = 0  # adverts/ticks that raised (logged; the runner carries on)
    updated_at: float = 0.0  # wall clock (unix seconds)


def status_words(status: SourceStatus, adapter: str) -> str:
    """The status bar's few plain words for a source state."""
    detail = status.detail
    if status.state == SCANNING:
        return detail if detail.startswith("replaying") else f"scanning {adapter}"
    if status.state == ADAPTER_MISSING:
        return "adapter missing - plug the BLE adapter back in"
    if status.state == STARTING:
        return f"starting {adapter}"
    if status.state == RECOVERING:
        return "scan restarting"
    if status.state == RESETTING:
        return f"resetting {adapter}"
    if status.state == FINISHED:
        # the first bad line's parse error stays in the detail: too long for the status bar
        return detail.split(", first:")[0] if detail else "replay finished"
    if status.state == FAILED:
        return f"BLE failed - {detail}" if detail else "BLE failed"
    if status.state == STOPPED:
        return "stopped"
    return detail or status.state


class PresenceRunner:
    """``start()`` builds the source and the worker; ``stop()`` undoes both. One instance, one start."""

    def __init__(
        self,
        settings: Settings,
        db_path: Path,
        on_status: Callable[[str], None],
        on_change: Callable[[], None],
        clock: Callable[[], float] = time.time,
        *,
        engine_clock: Callable[[], float] = time.monotonic,
        queue_size: int = DEFAULT_QUEUE,
        analytics_every_s: float = ANALYTICS_EVERY_S,
    ) -> None:
        self.settings = settings
        self.db_path = Path(db_path)
        self.on_status = on_status
        self.on_change = on_change
        self.clock = clock  # wall clock: offers' validity, visit timestamps
        self.engine_clock = engine_clock  # the clock live sources stamp adverts with
        self.analytics_every_s = analytics_every_s
        self.source: BleSource | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        # the hand-over from the event loop to the worker: a deque guarded by a condition
        self._buffer: collections.deque[Advert] = collections.deque()
        self._queue_size = max(1, queue_size)
        self._cond = threading.Condition()
        self._received = 0
        self._dropped = 0
        # a replay at speed 0 keeps recorded times: the engine then runs on replay time (see _advance)
        self._follow_adverts = False
        self._replay_now: float | None = None
        self._replay_at = 0.0
        self._snapshot_lock = threading.Lock()
        self._snapshot = PresenceSnapshot()
        self._status = "not started"
        self._detail = ""

    # -- lifecycle (event loop) ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        ble = self.settings.ble
        override = ("replay:" + ble.replay) if ble.replay else None
        try:
            source = make_ble_source(ble, override=override)
        except SourceConfigError as exc:
            self._report(f"BLE not started - {exc}", str(exc))
            return
        self.source = source
        self._follow_adverts = isinstance(source, ReplaySource) and source.speed <= 0
        self._unsubscribe = [source.on_advert(self._on_advert), source.on_status(self._on_source_status)]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._work, name="presence", daemon=True)
        self._thread.start()
        try:
            await source.start()
        except Exception as exc:  # a source must not take the till down with it
            log.exception("BLE source failed to start")
            self._report(f"BLE failed - {exc}", str(exc))

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        source, self.source = self.source, None
        if source is not None:
            with contextlib.suppress(Exception):
                await source.stop()
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            with self._cond:
                self._cond.notify_all()
            await asyncio.to_thread(thread.join, 10.0)
        self._set_snapshot(running=False)

    # -- from the source (event loop; must be quick) ------------------------------------------------

    def _on_advert(self, advert: Advert) -> None:
        with self._cond:
            self._received += 1
            if len(self._buffer) >= self._queue_size:
                self._buffer.popleft()
                self._dropped += 1
            self._buffer.append(advert)
            self._cond.notify()

    def _on_source_status(self, status: SourceStatus) -> None:
        self._report(status_words(status, self.settings.ble.adapter), status.detail)

    def _report(self, words: str, detail: str) -> None:
        self._status, self._detail = words, detail
        self._set_snapshot(status=words, detail=detail)
        try:
            self.on_status(words)
        except Exception:
            log.exception("on_status callback failed")

    # -- for the UI (any thread) --------------------------------------------------------------------

    def snapshot(self) -> PresenceSnapshot:
        with self._snapshot_lock:
            snap = self._snapshot
        with self._cond:
            received, dropped = self._received, self._dropped
        return dataclasses.replace(snap, adverts_received=received, adverts_dropped=dropped)

    def idle(self) -> bool:
        """Nothing buffered and every received advert handled or dropped (tests and the demo use it)."""
        snap = self.snapshot()
        with self._cond:
            empty = not self._buffer
        return (
            empty
            and snap.adverts_handled + snap.adverts_dropped == snap.adverts_received
            and self._ready.is_set()
        )

    def _set_snapshot(self, **changes: Any) -> None:
        with self._snapshot_lock:
            self._snapshot = dataclasses.replace(self._snapshot, **changes)

    # -- the worker thread --------------------------------------------------------------------------

    def _engine_now(self) -> float:
        if not self._follow_adverts:
            return self.engine_clock()
        if self._replay_now is None:
            return 0.0
        # between recorded adverts (and after the replay ends) replay time runs at real speed
        return self._replay_now + (time.monotonic() - self._replay_at)

    def _advance(self, advert: Advert) -> Advert:
        """A recorded-time replay moves the engine's clock; live adverts already carry engine time."""
        if not self._follow_adverts:
            return advert
        now = max(self._engine_now(), advert.time)
        self._replay_now, self._replay_at = now, time.monotonic()
        return dataclasses.replace(advert, time=now)

    def _open_service(self) -> PresenceService | None:
        s, ble = self.settings, self.settings.ble
        try:
            db = open_database(self.db_path)
            config = PresenceConfig(
                enter_m=ble.enter_m,
                exit_m=ble.exit_m,
                exit_after_s=ble.exit_after_s,
                dwell_every_s=ble.dwell_every_s,
            )
            service = PresenceService(
                db,
                store_id=s.store.id,
                opening_hours=s.store.opening_hours,
                timezone=s.store.timezone,
                locale=s.store.locale,
                scanner_zone=ble.zone,
                engine=PresenceEngine(config),
                wall_clock=self.clock,
                engine_clock=self._engine_now,
            )
            service.registry = load_registry(db, ble.eid_window)
        except Exception as exc:
            log.exception("presence could not start")
            self._call_on_loop(self._report, f"presence stopped - {exc}", str(exc))
            return None
        for problem in service.rule_problems:
            log.warning(problem)
        return service

    def _work(self) -> None:
        service = self._open_service()
        if service is None:
            self._ready.set()
            return
        # changed: the UI should re-read (throttled); dirty: the snapshot must be rebuilt now
        changed, dirty = [False], [False]

        def on_event(event: PresenceEvent) -> None:
            if event.kind in (ENTER, EXIT):
                changed[0] = dirty[0] = True

        service.event_listeners.append(on_event)
        handled = errors = 0
        last_tick = self._engine_now()
        last_snapshot = last_reload = last_sightings = last_analytics = time.monotonic()
        self._send_analytics(service, force=False)  # the first period starts now (kept across restarts)
        last_change = last_snapshot - CHANGE_EVERY_S  # the first change is told at once
        self._set_snapshot(running=True)
        self._refresh_snapshot(service, handled, errors)
        self._ready.set()
        try:
            while not self._stopping.is_set():
                with self._cond:
                    if not self._buffer:
                        self._cond.wait(timeout=TICK_EVERY_S / 4)
                    batch = list(self._buffer)
                    self._buffer.clear()
                for advert in batch:
                    try:
                        advert = self._advance(advert)
                        # tick first: a silence that ended with this advert is an exit, then a new enter
                        if advert.time - last_tick >= TICK_EVERY_S:
                            last_tick = advert.time
                            # tick() returns ids of offers issued; enter/exit mark dirty via on_event
                            if service.tick(advert.time):
                                dirty[0] = True
                        if service.handle_advert(advert):
                            dirty[0] = True
                    except Exception:  # one bad advert must not stop presence for the day
                        errors += 1
                        log.exception("presence failed on an advert")
                    handled += 1
                now = self._engine_now()
                if now - last_tick >= TICK_EVERY_S:
                    last_tick = now
                    try:
                        if service.tick(now):
                            dirty[0] = True
                    except Exception:
                        errors += 1
                        log.exception("presence tick failed")
                real = time.monotonic()
                if real - last_sightings >= SIGHTINGS_EVERY_S:
                    last_sightings = real
                    try:
                        issued, problems = service.drain_sightings(self._engine_now())
                        dirty[0] |= bool(issued)
                        for problem in problems:
                            log.info(problem)
                    except Exception:
                        errors += 1
                        log.exception("hub sightings failed")
                if real - last_analytics >= min(self.analytics_every_s, 60.0):
                    last_analytics = real
                    self._send_analytics(service, force=False)
                if real - last_reload >= RELOAD_EVERY_S:
                    last_reload = real
                    with contextlib.suppress(Exception):
                        service.reload()
                        service.registry = load_registry(service.db, self.settings.ble.eid_window)
                if dirty[0] or real - last_snapshot >= SNAPSHOT_EVERY_S:
                    changed[0] |= dirty[0]
                    dirty[0] = False
                    last_snapshot = real
                    self._refresh_snapshot(service, handled, errors)
                elif batch:
                    self._set_snapshot(adverts_handled=handled, errors=errors)
                if changed[0] and real - last_change >= CHANGE_EVERY_S:
                    changed[0] = False
                    last_change = real
                    self._call_on_loop(self._notify_change)
        except Exception as exc:  # e.g. the disk is full: say so in the status bar rather than go quiet
            log.exception("presence worker stopped")
            self._call_on_loop(self._report, f"presence stopped - {exc}", str(exc))
        finally:
            self._send_analytics(service, force=True)
            self._refresh_snapshot(service, handled, errors)
            service.db.close()

    def _send_analytics(self, service: PresenceService, *, force: bool) -> None:
        """Queue the presence analytics for the hub when a period is complete (or the runner stops)."""
        try:
            now = datetime.fromtimestamp(self.clock(), UTC)
            enqueue_analytics_due(service.db, service.store_id, now, self.analytics_every_s, force=force)
        except Exception:  # analytics must never stop presence (or the till's shutdown)
            log.exception("presence analytics could not be queued")

    def _refresh_snapshot(self, service: PresenceService, handled: int, errors: int) -> None:
        try:
            present = service.present_with_offers()
        except Exception:
            log.exception("presence snapshot failed")
            present = self.snapshot().present
        self._set_snapshot(
            present=present,
            adverts_handled=handled,
            anonymous_now=service.anonymous.current(),
            offers_issued=len(service.offers_issued),
            errors=errors,
            updated_at=self.clock(),
        )

    def _notify_change(self) -> None:
        try:
            self.on_change()
        except Exception:
            log.exception("on_change callback failed")

    def _call_on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down: nobody to tell
            loop.call_soon_threadsafe(fn, *args)


__all__ = ["PresenceRunner", "PresenceSnapshot", "status_words"]
