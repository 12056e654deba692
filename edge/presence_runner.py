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
from collections.abc import Callable, Sequence
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
from edge.core.i18n import ENGLISH, Translator
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
    errors: int = 0  # adverts and periodic jobs that raised (logged; the runner carries on)
    job_errors: dict[str, int] = field(default_factory=dict)  # of those, per periodic job ("reload": 2)
    updated_at: float = 0.0  # wall clock (unix seconds)


def status_words(status: SourceStatus, adapter: str, tr: Translator = ENGLISH) -> str:
    """The status bar's few plain words for a source state, in ``tr``'s language (a source's own detail,
    e.g. a replay file's line count, is shown as the source says it)."""
    detail = status.detail
    if status.state == SCANNING:
        if detail.startswith("replaying"):
            return tr._("replaying {file}").format(file=detail.removeprefix("replaying").strip())
        return tr._("scanning {adapter}").format(adapter=adapter)
    if status.state == ADAPTER_MISSING:
        return tr._("adapter missing - plug the BLE adapter back in")
    if status.state == STARTING:
        return tr._("starting {adapter}").format(adapter=adapter)
    if status.state == RECOVERING:
        return tr._("scan restarting")
    if status.state == RESETTING:
        return tr._("resetting {adapter}").format(adapter=adapter)
    if status.state == FINISHED:
        # the first bad line's parse error stays in the detail: too long for the status bar
        return detail.split(", first:")[0] if detail else tr._("replay finished")
    if status.state == FAILED:
        return tr._("BLE failed - {detail}").format(detail=detail) if detail else tr._("BLE failed")
    if status.state == STOPPED:
        return tr._("stopped")
    return detail or status.state


@dataclass
class _WorkState:
    """The worker thread's own state (no other thread touches it)."""

    service: PresenceService
    handled: int = 0  # adverts taken from the buffer
    errors: int = 0  # adverts and jobs that raised
    changed: bool = False  # the UI should re-read (told at most every CHANGE_EVERY_S)
    dirty: bool = False  # the snapshot must be rebuilt now


@dataclass
class PeriodicJob:
    """A job the presence worker runs once ``every_s`` seconds of ``clock`` have passed since its last run.

    ``run(state, now)`` does the work; an exception is logged with the job's name and counted (in the job's
    ``errors`` and the worker's), and the worker carries on: one failing job never stops presence."""

    name: str
    every_s: float
    run: Callable[[_WorkState, float], None]
    clock: Callable[[], float] = time.monotonic
    last: float = 0.0
    errors: int = 0

    def start(self) -> None:
        self.last = self.clock()

    def run_if_due(self, state: _WorkState) -> None:
        now = self.clock()
        if now - self.last < self.every_s:
            return
        self.last = now
        try:
            self.run(state, now)
        except Exception:
            self.errors += 1
            state.errors += 1
            log.exception("presence %s failed", self.name)


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
        self._report(status_words(status, self.settings.ble.adapter, self.settings.store.formats.tr), status.detail)

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

    def _periodic_jobs(self) -> list[PeriodicJob]:
        """The worker's periodic jobs, in the order each loop runs them (after the adverts of the loop)."""
        return [
            PeriodicJob("tick", TICK_EVERY_S, self._tick_job, clock=self._engine_now),
            PeriodicJob("hub sightings", SIGHTINGS_EVERY_S, self._sightings_job),
            PeriodicJob("analytics", min(self.analytics_every_s, 60.0), self._analytics_job),
            PeriodicJob("reload", RELOAD_EVERY_S, self._reload_job),
        ]

    def _work(self) -> None:
        """The worker thread: adverts as they come, the periodic jobs when due, the snapshot and the UI told."""
        service = self._open_service()
        if service is None:
            self._ready.set()
            return
        state = _WorkState(service)

        def on_event(event: PresenceEvent) -> None:
            if event.kind in (ENTER, EXIT):
                state.changed = state.dirty = True

        service.event_listeners.append(on_event)
        jobs = self._periodic_jobs()
        tick = jobs[0]
        for job in jobs:
            job.start()
        last_snapshot = time.monotonic()
        self._send_analytics(service, force=False)  # the first period starts now (kept across restarts)
        last_change = last_snapshot - CHANGE_EVERY_S  # the first change is told at once
        self._set_snapshot(running=True)
        self._refresh_snapshot(state)
        self._ready.set()
        try:
            while not self._stopping.is_set():
                batch = self._take_batch()
                for advert in batch:
                    self._handle_advert(state, tick, advert)
                for job in jobs:
                    job.run_if_due(state)
                real = time.monotonic()
                if state.dirty or real - last_snapshot >= SNAPSHOT_EVERY_S:
                    state.changed |= state.dirty
                    state.dirty = False
                    last_snapshot = real
                    self._refresh_snapshot(state, jobs)
                elif batch:
                    self._set_snapshot(adverts_handled=state.handled, errors=state.errors)
                if state.changed and real - last_change >= CHANGE_EVERY_S:
                    state.changed = False
                    last_change = real
                    self._call_on_loop(self._notify_change)
        except Exception as exc:  # e.g. the disk is full: say so in the status bar rather than go quiet
            log.exception("presence worker stopped")
            self._call_on_loop(self._report, f"presence stopped - {exc}", str(exc))
        finally:
            self._send_analytics(service, force=True)
            self._refresh_snapshot(state, jobs)
            service.db.close()

    def _take_batch(self) -> list[Advert]:
        """Every buffered advert (waiting up to a quarter tick for one)."""
        with self._cond:
            if not self._buffer:
                self._cond.wait(timeout=TICK_EVERY_S / 4)
            batch = list(self._buffer)
            self._buffer.clear()
        return batch

    def _handle_advert(self, state: _WorkState, tick: PeriodicJob, advert: Advert) -> None:
        """One advert; a silence it ends ticks the engine first (an exit, then a new enter). An advert that
        raises is logged and counted: one bad advert must not stop presence for the day."""
        try:
            advert = self._advance(advert)
            if advert.time - tick.last >= TICK_EVERY_S:
                tick.last = advert.time
                # tick() returns ids of offers issued; enter/exit mark dirty via on_event
                if state.service.tick(advert.time):
                    state.dirty = True
            if state.service.handle_advert(advert):
                state.dirty = True
        except Exception:
            state.errors += 1
            log.exception("presence failed on an advert")
        state.handled += 1

    # the periodic jobs: each gets the worker state and its clock's now; the job wrapper logs and counts errors
    def _tick_job(self, state: _WorkState, now: float) -> None:
        if state.service.tick(now):
            state.dirty = True

    def _sightings_job(self, state: _WorkState, now: float) -> None:
        issued, problems = state.service.drain_sightings(self._engine_now())
        state.dirty |= bool(issued)
        for problem in problems:
            log.info(problem)

    def _analytics_job(self, state: _WorkState, now: float) -> None:
        self._queue_analytics(state.service, force=False)

    def _reload_job(self, state: _WorkState, now: float) -> None:
        """Consents, identities and rules the hub sent since: the rules and the beacon registry re-read."""
        state.service.reload()
        state.service.registry = load_registry(state.service.db, self.settings.ble.eid_window)

    def _queue_analytics(self, service: PresenceService, *, force: bool) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        enqueue_analytics_due(service.db, service.store_id, now, self.analytics_every_s, force=force)

    def _send_analytics(self, service: PresenceService, *, force: bool) -> None:
        """Queue the presence analytics for the hub when a period is complete (or the runner stops)."""
        try:
            self._queue_analytics(service, force=force)
        except Exception:  # analytics must never stop presence (or the till's shutdown)
            log.exception("presence analytics could not be queued")

    def _refresh_snapshot(self, state: _WorkState, jobs: Sequence[PeriodicJob] = ()) -> None:
        service = state.service
        try:
            present = service.present_with_offers()
        except Exception:
            log.exception("presence snapshot failed")
            present = self.snapshot().present
        self._set_snapshot(
            present=present,
            adverts_handled=state.handled,
            anonymous_now=service.anonymous.current(),
            offers_issued=len(service.offers_issued),
            errors=state.errors,
            job_errors={job.name: job.errors for job in jobs if job.errors},
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
