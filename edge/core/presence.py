"""Presence engine: smoothed RSSI -> distance -> zone enter / dwell / exit, with hysteresis. Pure.

Time is injected: every entry point takes ``now`` (seconds on one monotonic clock); when it is omitted the
engine reads :data:`monotonic`, the single clock alias tests replace. BlueZ de-duplicates adverts, so
callbacks are sparse and irregular: presence rests on last-seen times (exit after a silence), never on a
callback per advert, and the smoothing filter weighs each reading by the time since the previous one.

Constants (documented so a technician can reason about them):

- Smoothing: a one-dimensional Kalman filter on RSSI, as room-assistant / ESPresense do. Measurement noise
  variance 4 dB^2 (room-assistant's Q=4). room-assistant's process noise R=0.008 is per advert at tens of
  adverts per second; with BlueZ's sparse callbacks we accrue process noise per *second* instead
  (0.5 dB^2/s), so a phone walking up is tracked within ~10-15 s, the window ESPresense averages over.
- Distance: ``10 ** ((rssi_at_1m - rssi) / (10 * n))`` with path-loss exponent n = 2.7 (indoor, shop shelves).
- Hysteresis: enter a zone at <= 2 m, leave beyond 4 m (ESPresense's defaults), or after 90 s without any
  advert (Home Assistant's habluetooth resets a device after 90 s of silence).
- Dwell events every 60 s while inside; hub-reported (iOS) sightings carry no RSSI, so they end on an
  explicit exit or after 30 min of silence.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

monotonic: Callable[[], float] = time.monotonic  # the one clock the engine reads; tests move their own

STORE_ZONE = "store"
ENTER, DWELL, EXIT = "enter", "dwell", "exit"
BLE, HUB = "ble", "hub"
_NO_EVENTS: tuple[PresenceEvent, ...] = ()


@dataclass(frozen=True)
class PresenceConfig:
    measurement_var: float = 4.0  # dB^2, room-assistant's Q
    process_var_per_s: float = 0.5  # dB^2 per second of elapsed time (see module doc)
    path_loss_n: float = 2.7
    default_rssi_at_1m: int = -59  # typical iBeacon measured power when a frame carries none
    enter_m: float = 2.0
    exit_m: float = 4.0
    exit_after_s: float = 90.0
    dwell_every_s: float = 60.0
    hub_exit_after_s: float = 1800.0
    forget_after_s: float = 300.0  # outside tracks silent this long are dropped (bounded memory)
    max_tracks: int = 20_000  # hard cap; the longest-silent tracks go first

    def __post_init__(self) -> None:
        if self.exit_m < self.enter_m:
            raise ValueError("exit_m must be >= enter_m (hysteresis)")


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    kind: str  # ENTER | DWELL | EXIT
    subject: str  # customer id
    zone: str
    time: float
    dwell_s: float = 0.0
    distance_m: float | None = None
    source: str = BLE  # BLE | HUB
    entered_at: float | None = None


class RssiKalman:
    """1-D Kalman filter for RSSI with time-scaled process noise."""

    __slots__ = ("estimate", "variance", "last_time", "_q", "_r_per_s")

    def __init__(self, measurement_var: float, process_var_per_s: float) -> None:
        self.estimate: float | None = None
        self.variance = measurement_var
        self.last_time = 0.0
        self._q = measurement_var
        self._r_per_s = process_var_per_s

    def update(self, rssi: float, now: float) -> float:
        if self.estimate is None:
            self.estimate, self.variance, self.last_time = float(rssi), self._q, now
            return self.estimate
        dt = now - self.last_time
        self.last_time = now
        prior = self.variance + self._r_per_s * (dt if dt > 0.0 else 0.0)
        gain = prior / (prior + self._q)
        self.estimate += gain * (rssi - self.estimate)
        self.variance = (1.0 - gain) * prior
        return self.estimate


def rssi_to_distance(rssi: float, rssi_at_1m: float, n: float = 2.7) -> float:
    return float(10.0 ** ((rssi_at_1m - rssi) / (10.0 * n)))


def rssi_at_1m(frame_format: str | None, tx_power: int | None, default: int = -59) -> int:
    """Calibrated power at 1 m: iBeacon/AltBeacon encode it; Eddystone encodes power at 0 m (41 dB more)."""
    if tx_power is None:
        return default
    if frame_format is not None and frame_format.startswith("eddystone"):
        return tx_power - 41
    return tx_power


class _Stay:
    __slots__ = ("entered_at", "next_dwell_at", "source")

    def __init__(self, now: float, dwell_every: float, source: str) -> None:
        self.entered_at = now
        self.next_dwell_at = now + dwell_every
        self.source = source


class _Track:
    __slots__ = ("filter", "last_seen", "stay", "distance", "source")

    def __init__(self, config: PresenceConfig, source: str) -> None:
        self.filter = RssiKalman(config.measurement_var, config.process_var_per_s)
        self.last_seen = 0.0
        self.stay: _Stay | None = None
        self.distance: float | None = None
        self.source = source


@dataclass(frozen=True, slots=True)
class PresentCustomer:
    customer_id: str
    since: float
    zones: tuple[str, ...]


class PresenceEngine:
    """Zone state per (customer, zone) and, derived from it, store-level state per customer."""

    def __init__(self, config: PresenceConfig | None = None, clock: Callable[[], float] | None = None) -> None:
        self.config = config or PresenceConfig()
        self._clock = clock
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._store: dict[str, _Stay] = {}  # customer -> stay in the store (any zone)
        self._inside_zones: dict[str, set[str]] = {}

    def _now(self, now: float | None) -> float:
        if now is not None:
            return now
        return (self._clock or monotonic)()

    # -- inputs ------------------------------------------------------------------------------------

    def observe(
        self, subject: str, zone: str, rssi: int | None, rssi_1m: int | None = None, now: float | None = None
    ) -> Sequence[PresenceEvent]:
        """One advert from a resolved customer, heard by the scanner covering ``zone``."""
        t = self._now(now)
        key = (subject, zone)
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = _Track(self.config, BLE)
        elif t - track.last_seen > self.config.exit_after_s and track.stay is None:
            track.filter = RssiKalman(self.config.measurement_var, self.config.process_var_per_s)
        track.last_seen = t
        track.source = BLE
        if rssi is None:  # heard, but the adapter had no RSSI: it keeps the stay alive, moves nothing
            return _NO_EVENTS
        cfg = self.config
        smoothed = track.filter.update(rssi, t)
        power = cfg.default_rssi_at_1m if rssi_1m is None else rssi_1m
        distance = 10.0 ** ((power - smoothed) / (10.0 * cfg.path_loss_n))
        track.distance = distance
        if track.stay is None:
            if distance <= cfg.enter_m:
                return self._enter(subject, zone, track, t, BLE)
            return _NO_EVENTS
        if distance > cfg.exit_m:
            return self._exit(subject, zone, track, t)
        return _NO_EVENTS

    def sighting(self, customer_id: str, zone: str, kind: str, now: float | None = None) -> Sequence[PresenceEvent]:
        """A hub-relayed sighting (iOS background: store iBeacon woke the app). Same state, no RSSI."""
        t = self._now(now)
        key = (customer_id, zone)
        track = self._tracks.get(key)
        if kind == ENTER:
            if track is None:
                track = self._tracks[key] = _Track(self.config, HUB)
            track.last_seen = max(track.last_seen, t)
            if track.stay is None:
                track.source = HUB
                return self._enter(customer_id, zone, track, t, HUB)
            return _NO_EVENTS
        if kind == EXIT:
            if track is None or track.stay is None:
                return _NO_EVENTS
            return self._exit(customer_id, zone, track, t)
        return _NO_EVENTS

    def tick(self, now: float | None = None) -> list[PresenceEvent]:
        """Silence exits, dwell events and forgetting; call about once a second."""
        t = self._now(now)
        cfg = self.config
        events: list[PresenceEvent] = []
        forget: list[tuple[str, str]] = []
        for key, track in self._tracks.items():
            silence = t - track.last_seen
            if track.stay is not None:
                limit = cfg.hub_exit_after_s if track.source == HUB else cfg.exit_after_s
                if silence > limit:
                    # the visit ended when the customer was last heard, not when we noticed
                    events.extend(self._exit(key[0], key[1], track, track.last_seen))
                    continue
                stay = track.stay
                if t >= stay.next_dwell_at and key[1] != STORE_ZONE:
                    events.append(self._event(DWELL, key[0], key[1], t, stay, track.distance))
                    stay.next_dwell_at += cfg.dwell_every_s * (1 + (t - stay.next_dwell_at) // cfg.dwell_every_s)
            elif silence > cfg.forget_after_s:
                forget.append(key)
        for subject, stay in self._store.items():
            if t >= stay.next_dwell_at:
                events.append(self._event(DWELL, subject, STORE_ZONE, t, stay, None))
                stay.next_dwell_at += cfg.dwell_every_s * (1 + (t - stay.next_dwell_at) // cfg.dwell_every_s)
        for key in forget:
            del self._tracks[key]
        if len(self._tracks) > cfg.max_tracks:
            self._evict(len(self._tracks) - cfg.max_tracks)
        return events

    # -- state -------------------------------------------------------------------------------------

    def present(self) -> list[PresentCustomer]:
        """Customers in the store now, longest-present first."""
        out = [
            PresentCustomer(subject, stay.entered_at, tuple(sorted(self._inside_zones.get(subject, ()))))
            for subject, stay in self._store.items()
        ]
        return sorted(out, key=lambda p: p.since)

    def track_count(self) -> int:
        return len(self._tracks)

    def distance(self, subject: str, zone: str) -> float | None:
        track = self._tracks.get((subject, zone))
        return None if track is None else track.distance

    # -- transitions -------------------------------------------------------------------------------

    def _event(
        self, kind: str, subject: str, zone: str, t: float, stay: _Stay, distance: float | None
    ) -> PresenceEvent:
        return PresenceEvent(
            kind, subject, zone, t, max(0.0, t - stay.entered_at), distance, stay.source, stay.entered_at
        )

    def _enter(self, subject: str, zone: str, track: _Track, t: float, source: str) -> list[PresenceEvent]:
        cfg = self.config
        stay = track.stay = _Stay(t, cfg.dwell_every_s, source)
        events: list[PresenceEvent] = []
        if subject not in self._store:
            # the first zone entered is also the store entrance; a "store" zone *is* the store stay
            store_stay = stay if zone == STORE_ZONE else _Stay(t, cfg.dwell_every_s, source)
            self._store[subject] = store_stay
            events.append(self._event(ENTER, subject, STORE_ZONE, t, store_stay, track.distance))
        self._inside_zones.setdefault(subject, set()).add(zone)
        if zone != STORE_ZONE:
            events.append(self._event(ENTER, subject, zone, t, stay, track.distance))
        return events

    def _exit(self, subject: str, zone: str, track: _Track, t: float) -> list[PresenceEvent]:
        stay = track.stay
        assert stay is not None
        track.stay = None
        events: list[PresenceEvent] = []
        if zone != STORE_ZONE:
            events.append(self._event(EXIT, subject, zone, t, stay, track.distance))
        zones = self._inside_zones.get(subject)
        if zones is not None:
            zones.discard(zone)
            if not zones:
                del self._inside_zones[subject]
                store_stay = self._store.pop(subject, None)
                if store_stay is not None:
                    events.append(self._event(EXIT, subject, STORE_ZONE, t, store_stay, track.distance))
        return events

    def _evict(self, count: int) -> None:
        outside = sorted((tr.last_seen, key) for key, tr in self._tracks.items() if tr.stay is None)
        for _, key in outside[:count]:
            del self._tracks[key]


# -- the hub path (iOS background) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sighting:
    """A sighting relayed by the hub: {customer_id, zone or beacon, time, kind: enter/exit}."""

    customer_id: str
    zone: str
    time: float  # on the engine's clock (see :func:`sighting_from_record`)
    kind: str


class SightingError(ValueError):
    """A hub sighting record is unusable; the message says which field."""


def sighting_from_record(
    record: Any,
    wall_now: float,
    engine_now: float,
    zone_for_beacon: Callable[[str], str | None] = lambda _key: None,
) -> Sighting:
    """Convert a pull-stream record (unix or ISO time) to the engine's clock."""
    from datetime import datetime

    if not isinstance(record, dict):
        raise SightingError("the sighting is not an object")
    customer = record.get("customer_id")
    if not isinstance(customer, str) or not customer:
        raise SightingError("the sighting has no customer_id")
    kind = record.get("kind")
    if kind not in (ENTER, EXIT):
        raise SightingError(f"the sighting kind must be 'enter' or 'exit', got {kind!r}")
    zone = record.get("zone")
    if not zone and record.get("beacon"):
        zone = zone_for_beacon(str(record["beacon"]))
        if zone is None:
            raise SightingError(f"the sighting names beacon {record['beacon']!r}, which is not a store beacon here")
    if not isinstance(zone, str) or not zone:
        raise SightingError("the sighting names neither a zone nor a known beacon")
    raw_time = record.get("time")
    try:
        if isinstance(raw_time, int | float) and not isinstance(raw_time, bool):
            wall = float(raw_time)
        elif isinstance(raw_time, str):
            wall = datetime.fromisoformat(raw_time.replace("Z", "+00:00")).timestamp()
        else:
            raise ValueError
    except ValueError:
        raise SightingError(f"the sighting time {raw_time!r} is not a unix time or ISO 8601 timestamp") from None
    return Sighting(customer, zone, engine_now - (wall_now - wall), kind)


def feed_sighting(engine: PresenceEngine, sighting: Sighting) -> Sequence[PresenceEvent]:
    """The hub path into the same presence engine as the BLE path."""
    return engine.sighting(sighting.customer_id, sighting.zone, sighting.kind, now=sighting.time)


# -- anonymous counts --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnonymousCount:
    bucket_start: float
    zone: str
    devices: int


@dataclass
class AnonymousCounter:
    """Distinct non-consenting devices per time bucket, as a count only.

    Addresses are hashed with a salt that is random per bucket and never stored, so nothing links a device
    across buckets or survives a restart; the set is dropped when the bucket closes.
    """

    bucket_s: float = 3600.0
    max_devices: int = 100_000  # beyond this the count saturates instead of growing memory
    _start: float | None = None
    _salt: bytes = field(default_factory=lambda: os.urandom(16))
    _seen: dict[str, set[bytes]] = field(default_factory=dict)

    def add(self, address: str, zone: str, now: float) -> list[AnonymousCount]:
        closed = self.roll(now)
        seen = self._seen.setdefault(zone, set())
        if len(seen) < self.max_devices:
            seen.add(hashlib.blake2b(address.encode(), key=self._salt, digest_size=8).digest())
        return closed

    def roll(self, now: float) -> list[AnonymousCount]:
        if self._start is None:
            self._start = now - (now % self.bucket_s)
            return []
        if now < self._start + self.bucket_s:
            return []
        closed = [AnonymousCount(self._start, zone, len(seen)) for zone, seen in self._seen.items() if seen]
        self._start = now - (now % self.bucket_s)
        self._seen = {}
        self._salt = os.urandom(16)
        return closed

    def current(self) -> dict[str, int]:
        return {zone: len(seen) for zone, seen in self._seen.items()}


def summarise_dwell(dwell_seconds: Iterable[float], edges_s: Sequence[float] = (60, 300, 900, 1800)) -> dict[str, int]:
    """Dwell distribution as bucket counts (analytics never ship individual visits' timings in bulk)."""
    labels = [f"<{int(edges_s[0])}s"] + [f"{int(a)}-{int(b)}s" for a, b in zip(edges_s, edges_s[1:], strict=False)]
    labels.append(f">={int(edges_s[-1])}s")
    counts = dict.fromkeys(labels, 0)
    for d in dwell_seconds:
        i = 0
        while i < len(edges_s) and d >= edges_s[i]:
            i += 1
        counts[labels[i]] += 1
    return counts
