"""The shop-floor presence box of the simulated day, as its own process.

``python -m edge.simulate.presence_worker --data-dir D --hub-url URL --adverts N ...``

The adverts are generated in-process from a seeded RNG (no replay file): customers carrying an iBeacon tag
or the app's Eddystone-EID walk in, dwell and leave; half of them gave location consent, the others are
dropped at once and only counted; anonymous phones pass by. They are fed to ``PresenceService`` on the
simulated clock (``--sim-hours`` squeezed into ``--duration`` real seconds), which writes visits, offers
and anonymous counts with their outbox events; a ``SyncWorker`` ships them.

Provisioning: the hub does not distribute beacon identities or presence rules (no change kind for them),
so the box is provisioned locally, as a technician would, with the tags, EID keys and the two campaigns
in :data:`PRESENCE_RULES`.

After kill -9 the worker resumes at the last saved simulated second (saved every ``SAVE_EVERY_S``); the
engine's memory (who is inside) is lost, as on a real box, so a visit in progress at the kill is not
recorded and the customer "enters" again; the frequency cap in the database keeps offers from repeating.

When the simulated day is over the worker records ``finished`` and keeps syncing until ``close.json``
appears (exit 0 with the outbox drained, 4 otherwise or at the deadline).
"""

from __future__ import annotations

import argparse
import bisect
import logging
import random
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.beacons.adverts import Advert, full_uuid
from devices.beacons.eid import compute_eid
from edge.core.contract import EID_IDENTITY_KIND, BeaconKind, ibeacon_key
from edge.core.presence import PresenceEngine
from edge.db.connection import open_database
from edge.simulate.common import SIM_HUB, SIM_UUID, read_json, wait_until, write_json
from edge.store.presence_store import PresenceService, ensure_schema, save_rule
from sync import credentials, outbox
from sync.client import SyncClient, SyncWorker

log = logging.getLogger("presence_worker")

SAVE_EVERY_S = 30  # simulated seconds between progress saves
EID_K = 10  # the app's EID rotates every 1,024 s
EID_EVERY = 5  # every 5th customer carries the app (EID) instead of a tag
APPLE = 0x004C
EDDYSTONE = full_uuid("feaa")
TAG_TX = -59
PRESENCE_RULES = [
    {"campaign_id": "WELCOME-COFFEE", "trigger": "enter", "zone": "store", "valid_minutes": 30,
     "offer": {"kind": "percent_off", "name": "Coffee 20% off today",
               "params": {"percent": 20, "category": "Beverages"}}},
    {"campaign_id": "DWELL-BAKERY", "trigger": "dwell", "dwell_min": 3, "zone": "store",
     "tiers": ["Silver", "Gold"], "valid_minutes": 20,
     "offer": {"kind": "points_multiplier", "name": "Double points on bakery",
               "params": {"multiplier": 2, "category": "Bakery"}}},
]  # fmt: skip


@dataclass(frozen=True)
class Walker:
    """One phone in range for a while: a customer's tag or app, or an anonymous device."""

    start: float
    end: float
    address: str
    customer: str | None  # None: anonymous phone
    minor: int  # the tag's iBeacon minor; -1 for EID and anonymous
    eid_key: bytes | None
    every_s: float  # mean seconds between the adverts BlueZ hands on


def _mac(rng: random.Random) -> str:
    return ":".join(f"{rng.randrange(256):02X}" for _ in range(6))


def customer_numbers(count: int = 54) -> list[int]:
    return list(range(1, count + 1))


def eid_key(n: int) -> bytes:
    return bytes((n * 7 + k) % 256 for k in range(16))


def plan_day(seed: int, sim_s: float, target_adverts: int) -> list[Walker]:
    """Every phone of the day, sorted by arrival; sized so the day yields about ``target_adverts``."""
    rng = random.Random(f"presence:{seed}")
    walkers: list[Walker] = []
    expected = 0.0
    for n in customer_numbers():
        for _ in range(rng.randint(1, 3)):
            dwell = rng.uniform(120, 1500)
            start = rng.uniform(0, max(1.0, sim_s - dwell - 200))
            every = rng.uniform(1.0, 2.5)
            is_eid = n % EID_EVERY == 0
            walkers.append(Walker(start, start + dwell, _mac(rng), f"C{1000 + n}", -1 if is_eid else n,
                                  eid_key(n) if is_eid else None, every))
            expected += dwell / every
    anon_every, anon_dwell = 3.0, 400.0
    anonymous = max(0, int((target_adverts - expected) / (anon_dwell / anon_every)))
    for _ in range(anonymous):
        dwell = rng.uniform(0.2, 1.8) * anon_dwell
        start = rng.uniform(0, max(1.0, sim_s - dwell))
        walkers.append(Walker(start, start + dwell, _mac(rng), None, -1, None, anon_every))
    walkers.sort(key=lambda w: w.start)
    return walkers


def rssi_at(w: Walker, t: float, rng: random.Random) -> int:
    """Walking up from the door (-92 dBm) to the shelves (about 1 m), and back out."""
    ramp = 25.0
    if t < w.start + ramp:
        base = -92 + 32 * (t - w.start) / ramp
    elif t > w.end - ramp:
        base = -60 - 32 * (t - (w.end - ramp)) / ramp
    else:
        base = -60.0
    return max(-100, min(-30, int(base + rng.gauss(0, 3))))


class EidClock:
    """EIDs are computed for the wall time the advert is handled at (the resolver checks against it)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[bytes, int], bytes] = {}

    def eid(self, key: bytes, unix_s: float) -> bytes:
        period = (int(unix_s) >> EID_K) << EID_K
        hit = self.cache.get((key, period))
        if hit is None:
            hit = self.cache[(key, period)] = compute_eid(key, period, EID_K)
        return hit


def make_advert(w: Walker, t: float, rng: random.Random, eids: EidClock) -> Advert:
    rssi = rssi_at(w, t, rng)
    if w.customer is None:
        payload = bytes(rng.randrange(256) for _ in range(8))  # someone's earbuds: not a beacon
        return Advert(t, w.address, rssi, {0x0006: payload})
    if w.eid_key is not None:
        eid = eids.eid(w.eid_key, time.time())
        return Advert(t, w.address, rssi, {}, {EDDYSTONE: bytes([0x30, (TAG_TX + 41) & 0xFF]) + eid})
    body = bytes([0x02, 0x15]) + bytes.fromhex(SIM_UUID.replace("-", "")) + (100).to_bytes(2, "big") + \
        w.minor.to_bytes(2, "big") + (TAG_TX & 0xFF).to_bytes(1, "big")
    return Advert(t, w.address, rssi, {APPLE: body})


def provision(db_path: Path) -> None:
    """The box's local set-up: customers' tags and app keys, and the campaigns (idempotent)."""
    db = open_database(db_path)
    try:
        ensure_schema(db)
        with db.atomic():
            for n in customer_numbers():
                cid = f"C{1000 + n}"
                row: tuple[object, ...]
                if n % EID_EVERY == 0:
                    row = (EID_IDENTITY_KIND, None, eid_key(n).hex(), EID_K, 0)
                else:
                    row = (BeaconKind.IBEACON, ibeacon_key(SIM_UUID, 100, n), None, None, 0)
                db.execute(
                    "INSERT OR REPLACE INTO presence_identities (id, customer_id, kind, beacon_key, eid_identity_key, "
                    "eid_rotation_exponent, eid_clock_offset_s) SELECT ?, ?, ?, ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM customers WHERE id = ?)",
                    [f"SIM-{cid}", cid, *row, cid],
                )
        for rule in PRESENCE_RULES:
            save_rule(db, rule)
    finally:
        db.close()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="presence_worker")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--hub-url", required=True)
    p.add_argument("--store-id", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--adverts", type=int, required=True)
    p.add_argument("--sim-hours", type=float, default=12.0)
    p.add_argument("--day-start", type=float, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--deadline", type=float, required=True)
    return p.parse_args(argv)


@dataclass
class _Floor:
    """The walkers of the day and who is on the floor at the current simulated second."""

    walkers: list[Walker]
    active: list[Walker]
    nxt: int  # the next walker to arrive
    fed: int  # adverts fed so far today (this run and the ones before a kill)
    next_due: dict[str, float] = field(default_factory=dict)  # address -> simulated time of its next advert
    eids: EidClock = field(default_factory=EidClock)

    @classmethod
    def resume(cls, walkers: list[Walker], t0: int, fed: int) -> _Floor:
        """The floor as it was at simulated second ``t0`` (a restarted worker resumes there)."""
        starts = [w.start for w in walkers]
        nxt = bisect.bisect_right(starts, t0)
        return cls(walkers, [w for w in walkers[:nxt] if w.end > t0], nxt, fed)

    def play_second(self, service: PresenceService, second: int, seed: int) -> None:
        """Arrivals, then every advert due in ``[second, second + 1)`` fed to presence, then the tick."""
        while self.nxt < len(self.walkers) and self.walkers[self.nxt].start <= second:
            self.active.append(self.walkers[self.nxt])
            self.nxt += 1
        rng = random.Random(f"{seed}:{second}")
        still = []
        for w in self.active:
            if w.end <= second:
                self.next_due.pop(w.address, None)
                continue
            still.append(w)
            due = self.next_due.get(w.address, w.start)
            while due < second + 1:
                if due >= second:
                    service.handle_advert(make_advert(w, due, rng, self.eids))
                    self.fed += 1
                due += rng.expovariate(1.0 / w.every_s)
            self.next_due[w.address] = due
        self.active = still
        service.tick(float(second + 1))


def _play_day(args: argparse.Namespace, service: PresenceService, state: dict[str, Any], state_path: Path) -> bool:
    """The simulated day from where the last run stopped, paced to the wall clock; False past the deadline."""
    sim_s = args.sim_hours * 3600
    t0 = int(state["sim_t"])
    floor = _Floor.resume(plan_day(args.seed, sim_s, args.adverts), t0, int(state.get("fed", 0)))
    end = int(sim_s) + 200  # 200 s of silence after closing: everyone's exit is recorded
    for second in range(t0, end):
        wait_until(args.day_start + args.duration * second / end, args.deadline)
        if time.time() > args.deadline:
            return False
        floor.play_second(service, second, args.seed)
        if (second + 1) % SAVE_EVERY_S == 0:
            write_json(state_path, {**state, "sim_t": second + 1, "fed": floor.fed})
    write_json(state_path, {**state, "sim_t": end, "fed": floor.fed, "finished": True,
                            "offers_issued_this_run": len(service.offers_issued)})
    return True


def _close(data_dir: Path, db: Any, sync: SyncWorker, deadline: float) -> int:
    """The day is over: the sync thread keeps pushing and pulling until the orchestrator closes the run
    (``close.json``); 0 when the outbox is empty then, 4 otherwise or past the deadline."""
    while time.time() < deadline:
        if (data_dir / "close.json").exists():
            sync.stop(timeout=10)
            try:
                return 0 if outbox.pending_count(db) == 0 else 4
            except sqlite3.Error:
                return 4
        time.sleep(0.1)
    return 4


def main(argv: list[str] | None = None) -> int:
    """The presence box of a simulated store: waits for the customers, provisions, plays the day, syncs.
    Exit 0 when everything it recorded reached the hub, 4 past the deadline or with events left."""
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s floor %(levelname)s %(message)s")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    data_dir: Path = args.data_dir
    db_path = data_dir / "store.db"
    state_path = data_dir / "worker-state.json"
    state = read_json(state_path, {"sim_t": 0, "fed": 0, "restarts": -1})
    state["restarts"] = int(state.get("restarts", -1)) + 1
    write_json(state_path, state)
    sync = SyncWorker(SyncClient(lambda: open_database(db_path), credentials.load(data_dir), SIM_HUB,
                                 hub_url=args.hub_url)).start()
    try:
        db = open_database(db_path)
        while db.execute("SELECT count(*) FROM customers WHERE card_number IS NOT NULL").fetchone()[0] < 54:
            if time.time() > args.deadline:
                return 4
            time.sleep(0.2)
        provision(db_path)
        service = PresenceService(db, store_id=args.store_id, opening_hours="00:00-23:59",
                                  engine=PresenceEngine(), wall_clock=time.time)
        if not _play_day(args, service, state, state_path):
            return 4
        return _close(data_dir, db, sync, args.deadline)
    finally:
        sync.stop(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
