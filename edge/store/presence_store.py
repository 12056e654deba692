"""Presence on the store database: consent-filtered registry, issued offers, visits and analytics.

:class:`PresenceService` joins the pure parts (beacon parsing, identity resolution, presence engine, offer
rules) to the database: each personal offer is an ``offers`` row (``customer_id`` set, ``source='presence'``)
written in one transaction with its frequency-cap row and a ``presence.notification_requested`` outbox
event; each finished visit is one ``presence_visits`` row plus one ``presence.visit`` event. MAC addresses
never reach the database: only customer ids (after consent) and anonymous counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from devices.beacons.adverts import Advert
from devices.beacons.eid import EidKey
from devices.beacons.frames import decode_advert
from devices.beacons.identity import CUSTOMER, BeaconRegistry
from edge.core import presence
from edge.core.contract import EID_IDENTITY_KIND, BeaconKind, EventType, eddystone_uid_key, ibeacon_key
from edge.core.presence import (
    ENTER,
    EXIT,
    STORE_ZONE,
    AnonymousCount,
    AnonymousCounter,
    PresenceEngine,
    PresenceEvent,
    SightingError,
    feed_sighting,
    rssi_at_1m,
    sighting_from_record,
    summarise_dwell,
)
from edge.core.presence_offers import (
    CustomerProfile,
    OfferDecision,
    OpeningHours,
    PresenceRule,
    RuleError,
    decide_offers,
    rule_from_dict,
    store_timezone,
)
from edge.db.connection import apply_migrations, immediate
from sync.ids import uuid7
from sync.outbox import enqueue

# the event types are the contract's; these names stay for the modules and tests that import them from here
NOTIFICATION_EVENT = EventType.PRESENCE_NOTIFICATION_REQUESTED
VISIT_EVENT = EventType.PRESENCE_VISIT
ANONYMOUS_EVENT = EventType.PRESENCE_ANONYMOUS_COUNT
ANALYTICS_EVENT = EventType.PRESENCE_ANALYTICS
SIGHTING_MAX_AGE_S = 15 * 60  # an app sighting relayed later than this says nothing about now


def ensure_schema(db: sqlite_utils.Database) -> None:
    """The presence tables are migration 3 (edge/db/migrations.py); opening the database applies it."""
    apply_migrations(db, Path(db.conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:"))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_registry(db: sqlite_utils.Database, eid_window: int = 2) -> BeaconRegistry:
    """Tags and EID keys of customers whose location consent we hold, plus the store's own beacons."""
    tags: dict[str, str] = {}
    keys: list[EidKey] = []
    rows = db.execute(
        """SELECT i.customer_id, i.kind, i.beacon_key, i.eid_identity_key, i.eid_rotation_exponent,
                  i.eid_clock_offset_s
           FROM presence_identities i JOIN customers c ON c.id = i.customer_id
           WHERE json_valid(c.consents) AND json_extract(c.consents, '$.location') = 1"""
    ).fetchall()
    for customer_id, kind, beacon_key, ik, k, offset in rows:
        if kind == EID_IDENTITY_KIND:
            keys.append(EidKey(customer_id, bytes.fromhex(ik), int(k), int(offset)))
        else:
            tags[beacon_key] = customer_id
    store = dict(db.execute("SELECT beacon_key, zone FROM store_beacons").fetchall())
    return BeaconRegistry(tags=tags, eid_keys=keys, store_beacons=store, eid_window=eid_window)


def load_rules(db: sqlite_utils.Database) -> tuple[list[PresenceRule], list[str]]:
    """Active rules, and a sentence per rule that could not be read (they are skipped, not fatal)."""
    rules, problems = [], []
    for cid, text in db.execute("SELECT campaign_id, rule FROM presence_rules WHERE active = 1").fetchall():
        try:
            rules.append(rule_from_dict(json.loads(text)))
        except (RuleError, json.JSONDecodeError) as exc:
            problems.append(f"presence rule {cid} skipped: {exc}")
    return rules, problems


def save_rule(db: sqlite_utils.Database, rule: dict[str, Any]) -> None:
    rule_from_dict(rule)  # refuse what we could not run later
    with immediate(db):
        db.execute(
            "INSERT OR REPLACE INTO presence_rules (campaign_id, rule, active) VALUES (?, ?, 1)",
            [rule["campaign_id"], json.dumps(rule, sort_keys=True)],
        )


def customer_profile(db: sqlite_utils.Database, customer_id: str) -> CustomerProfile | None:
    row = db.execute("SELECT tier, preferences FROM customers WHERE id = ?", [customer_id]).fetchone()
    if row is None:
        return None
    try:
        prefs = json.loads(row[1])
    except json.JSONDecodeError:
        prefs = {}
    prefs = prefs if isinstance(prefs, dict) else {}
    segments = frozenset(str(s) for s in prefs.get("segments", []))
    language = prefs.get("language")
    return CustomerProfile(customer_id, row[0], segments, language if isinstance(language, str) else "")


def issued_count(db: sqlite_utils.Database, customer_id: str, campaign_id: str, since: datetime) -> int:
    return int(
        db.execute(
            "SELECT count(*) FROM presence_offers_issued WHERE customer_id = ? AND campaign_id = ? AND issued_at >= ?",
            [customer_id, campaign_id, iso(since)],
        ).fetchone()[0]
    )


def record_offer(db: sqlite_utils.Database, decision: OfferDecision, store_id: str) -> str:
    """The offer row, its cap row and the notification request: all or nothing."""
    offer_id = uuid7()
    with immediate(db):
        db.execute(
            """INSERT INTO offers (id, kind, name, params, customer_id, valid_from, valid_until, source, active)
               VALUES (?, ?, ?, ?, ?, ?, ?, 'presence', 1)""",
            [
                offer_id,
                decision.offer_kind,
                decision.offer_name,
                json.dumps(decision.offer_params, sort_keys=True),
                decision.customer_id,
                iso(decision.valid_from),
                iso(decision.valid_until),
            ],
        )
        db.execute(
            """INSERT INTO presence_offers_issued
               (offer_id, customer_id, campaign_id, zone, trigger, issued_at, valid_until)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                offer_id,
                decision.customer_id,
                decision.campaign_id,
                decision.zone,
                decision.trigger,
                iso(decision.valid_from),
                iso(decision.valid_until),
            ],
        )
        enqueue(
            db,
            NOTIFICATION_EVENT,
            {
                "offer_id": offer_id,
                "customer_id": decision.customer_id,
                "campaign_id": decision.campaign_id,
                "store_id": store_id,
                "zone": decision.zone,
                "trigger": decision.trigger,
                "title": decision.offer_name,
                "message": decision.message,
                "valid_until": iso(decision.valid_until),
            },
        )
    return offer_id


@dataclass(frozen=True)
class Visit:
    customer_id: str
    zone: str
    entered_at: datetime
    exited_at: datetime
    dwell_s: float
    source: str


def record_visit(db: sqlite_utils.Database, visit: Visit, store_id: str) -> str:
    visit_id = uuid7()
    with immediate(db):
        db.execute(
            "INSERT INTO presence_visits (id, customer_id, zone, entered_at, exited_at, dwell_s, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                visit_id,
                visit.customer_id,
                visit.zone,
                iso(visit.entered_at),
                iso(visit.exited_at),
                round(visit.dwell_s, 1),
                visit.source,
            ],
        )
        enqueue(
            db,
            VISIT_EVENT,
            {
                "visit_id": visit_id,
                "customer_id": visit.customer_id,
                "store_id": store_id,
                "zone": visit.zone,
                "entered_at": iso(visit.entered_at),
                "exited_at": iso(visit.exited_at),
                "dwell_s": round(visit.dwell_s, 1),
                "source": visit.source,
            },
        )
    return visit_id


def record_anonymous(db: sqlite_utils.Database, counts: Iterable[AnonymousCount], wall_offset: float, store_id: str) -> None:
    with immediate(db):
        for c in counts:
            bucket = iso(datetime.fromtimestamp(c.bucket_start + wall_offset, UTC))
            db.execute(
                "INSERT OR REPLACE INTO presence_anonymous_counts (bucket_start, zone, devices) VALUES (?, ?, ?)",
                [bucket, c.zone, c.devices],
            )
            enqueue(db, ANONYMOUS_EVENT, {"store_id": store_id, "bucket_start": bucket, "zone": c.zone, "devices": c.devices})


def live_offers(db: sqlite_utils.Database, customer_id: str, now: datetime) -> list[dict[str, Any]]:
    rows = db.execute(
        """SELECT id, kind, name, params, valid_until FROM offers
           WHERE customer_id = ? AND source = 'presence' AND active = 1 AND valid_until > ?
           ORDER BY valid_until""",
        [customer_id, iso(now)],
    ).fetchall()
    return [
        {"offer_id": r[0], "kind": r[1], "name": r[2], "params": json.loads(r[3]), "valid_until": r[4]} for r in rows
    ]


def analytics(db: sqlite_utils.Database, since: datetime, until: datetime) -> dict[str, Any]:
    """Zone visits, dwell distribution per zone, offer conversions and anonymous counts for a period."""
    a, b = iso(since), iso(until)
    visits: dict[str, int] = {}
    dwell: dict[str, list[float]] = {}
    for zone, d in db.execute(
        "SELECT zone, dwell_s FROM presence_visits WHERE entered_at >= ? AND entered_at < ?", [a, b]
    ).fetchall():
        visits[zone] = visits.get(zone, 0) + 1
        dwell.setdefault(zone, []).append(d)
    # converted: a sale used the offer while it was valid (the till records the offer id per discount)
    issued, converted = db.execute(
        """SELECT count(*), count(DISTINCT CASE WHEN EXISTS (
                SELECT 1 FROM sale_discounts d JOIN sales s ON s.id = d.sale_id
                WHERE d.offer_id = p.offer_id AND s.created_at >= p.issued_at AND s.created_at <= p.valid_until
           ) THEN p.offer_id END)
           FROM presence_offers_issued p WHERE p.issued_at >= ? AND p.issued_at < ?""",
        [a, b],
    ).fetchone()
    anonymous = dict(
        db.execute(
            "SELECT zone, sum(devices) FROM presence_anonymous_counts WHERE bucket_start >= ? AND bucket_start < ? "
            "GROUP BY zone",
            [a, b],
        ).fetchall()
    )
    return {
        "since": a,
        "until": b,
        "zone_visits": visits,
        "dwell_distribution": {zone: summarise_dwell(values) for zone, values in dwell.items()},
        "offers_issued": int(issued),
        "offers_converted": int(converted),
        "conversion_rate": round(converted / issued, 4) if issued else None,
        "anonymous_devices": {k: int(v) for k, v in anonymous.items()},
    }


@dataclass(frozen=True)
class FloorAnalytics:
    """What the floor screen's Analytics tab shows, consistent with its "In store now" tab.

    Visits of customers still in the store count as visits (with their dwell so far and the hour they came
    in): the database holds a visit only once it ended, so without them the charts would say "no visits"
    while the live list shows people. ``in_progress`` says how many of the counted visits are still going.
    """

    zone_visits: dict[str, int]
    dwell: dict[str, int]  # dwell bucket label -> visits, all zones together
    hourly: list[int]  # visits started per hour, oldest first, the current hour last
    offers_issued: int
    offers_converted: int
    conversion_rate: float | None
    anonymous: dict[str, int]  # distinct devices per zone, closed hours in the window
    in_progress: int = 0


def _parse_iso(ts: str) -> datetime:
    parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def floor_analytics(
    db: sqlite_utils.Database, now: datetime, hours: int = 24, present: Iterable[dict[str, Any]] = ()
) -> FloorAnalytics:
    """The last ``hours`` hours up to ``now``; ``present``: the presence runner's customers in the store now
    (dicts with ``since`` ISO time and ``zones``), counted as visits in progress."""
    since = now - timedelta(hours=hours)
    summary = analytics(db, since, now + timedelta(seconds=1))
    visits = dict(summary["zone_visits"])
    hour = now.replace(minute=0, second=0, microsecond=0)
    first = hour - timedelta(hours=hours - 1)
    hourly = [0] * hours
    for (entered,) in db.execute("SELECT entered_at FROM presence_visits WHERE entered_at >= ?", [iso(first)]):
        i = int((_parse_iso(entered) - first).total_seconds() // 3600)
        if 0 <= i < hours:
            hourly[i] += 1
    dwell_so_far: list[float] = []
    open_visits = 0
    for p in present:
        entered = _parse_iso(str(p["since"]))
        for zone in p.get("zones") or (STORE_ZONE,):
            visits[zone] = visits.get(zone, 0) + 1
            open_visits += 1
            dwell_so_far.append(max(0.0, (now - entered).total_seconds()))
            i = int((entered - first).total_seconds() // 3600)
            if 0 <= i < hours:
                hourly[i] += 1
    dwell: dict[str, int] = {}
    for buckets in [*summary["dwell_distribution"].values(), summarise_dwell(dwell_so_far)]:
        for label, count in buckets.items():
            dwell[label] = dwell.get(label, 0) + count
    if not any(dwell.values()):
        dwell = {}
    return FloorAnalytics(
        zone_visits=visits, dwell=dwell, hourly=hourly, offers_issued=summary["offers_issued"],
        offers_converted=summary["offers_converted"], conversion_rate=summary["conversion_rate"],
        anonymous=dict(summary["anonymous_devices"]), in_progress=open_visits,
    )  # fmt: skip


def enqueue_analytics(db: sqlite_utils.Database, since: datetime, until: datetime, store_id: str) -> dict[str, Any]:
    summary = analytics(db, since, until)
    with immediate(db):
        enqueue(db, ANALYTICS_EVENT, {"store_id": store_id, **summary})
    return summary


ANALYTICS_STATE_KEY = "presence_analytics_until"


def enqueue_analytics_due(
    db: sqlite_utils.Database, store_id: str, now: datetime, every_s: float, *, force: bool = False
) -> dict[str, Any] | None:
    """Send the analytics of the period since the last one once it is ``every_s`` long (or now, with ``force``:
    the runner stops). Periods follow each other without gap or overlap, across restarts (kept in sync_state);
    the first period starts now, so a new device sends nothing for the time before it ran."""
    row = db.execute("SELECT value FROM sync_state WHERE key = ?", [ANALYTICS_STATE_KEY]).fetchone()
    until = now.astimezone(UTC)
    if row is None:
        _put_analytics_until(db, until)
        return None
    since = datetime.fromisoformat(str(row[0]).replace("Z", "+00:00"))
    if until <= since or (not force and (until - since).total_seconds() < every_s):
        return None
    with immediate(db):
        summary = enqueue_analytics(db, since, until, store_id)
        _put_analytics_until(db, until)
    return summary


def _put_analytics_until(db: sqlite_utils.Database, until: datetime) -> None:
    with immediate(db):
        db.execute(
            "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [ANALYTICS_STATE_KEY, iso(until)],
        )


class PresenceService:
    """Adverts and hub sightings in, offers / visits / counts out. Engine time is the advert's time.

    ``wall_clock`` gives unix time for offers' validity and visit timestamps; the engine works on its
    monotonic clock, and the two are related once per call (wall - engine), so a stepped system clock does
    not break visits already in progress.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        *,
        store_id: str = "demo-store",
        opening_hours: str = "00:00-23:59",
        timezone: str = "UTC",
        locale: str = "en",
        scanner_zone: str = STORE_ZONE,
        engine: PresenceEngine | None = None,
        wall_clock: Callable[[], float] = time.time,
        engine_clock: Callable[[], float] | None = None,
    ) -> None:
        ensure_schema(db)
        self.db = db
        self.store_id = store_id
        self.hours = OpeningHours.parse(opening_hours)
        self.tz = store_timezone(timezone)
        self.locale = locale  # the store's; a member's profile language wins on what is sent to them
        self.scanner_zone = scanner_zone
        self.engine = engine or PresenceEngine()
        self.wall_clock = wall_clock
        self.engine_clock = engine_clock or (lambda: presence.monotonic())
        self.anonymous = AnonymousCounter()
        self.registry = load_registry(db)
        self.rules, self.rule_problems = load_rules(db)
        self.offers_issued: list[str] = []
        self.dropped = 0
        # for the till UI and tests: called with every presence event, after it was stored
        self.event_listeners: list[Callable[[PresenceEvent], None]] = []

    def reload(self) -> None:
        """After the hub changed consents, identities or rules."""
        self.registry = load_registry(self.db)
        self.rules, self.rule_problems = load_rules(self.db)

    def _wall_offset(self, engine_now: float) -> float:
        return self.wall_clock() - engine_now

    def handle_advert(self, advert: Advert) -> list[str]:
        """Returns ids of offers issued because of this advert (usually none)."""
        frame = decode_advert(advert.manufacturer_data, advert.service_data)
        if frame.format is None or frame.error is not None:
            self._count_anonymous(advert)
            return []
        offset = self._wall_offset(advert.time)
        who = self.registry.resolve(frame, advert.time + offset)
        if who is None or who.kind != CUSTOMER:
            # not a consenting customer: drop at once, count only
            self._count_anonymous(advert)
            return []
        power = rssi_at_1m(frame.format, frame.tx_power)
        events = self.engine.observe(who.key, self.scanner_zone, advert.rssi, power, now=advert.time)
        return self._handle_events(events, offset)

    def _count_anonymous(self, advert: Advert) -> None:
        self.dropped += 1
        closed = self.anonymous.add(advert.address, self.scanner_zone, advert.time)
        if closed:
            record_anonymous(self.db, closed, self._wall_offset(advert.time), self.store_id)

    def handle_sighting(self, record: Any, engine_now: float | None = None) -> list[str]:
        """A hub pull-stream sighting record; unusable records are reported as :class:`SightingError`."""
        now = self.engine_clock() if engine_now is None else engine_now
        sighting = sighting_from_record(record, self.wall_clock(), now, self.registry.store_beacons.get)
        return self._handle_events(feed_sighting(self.engine, sighting), self._wall_offset(now))

    def drain_sightings(self, engine_now: float | None = None, limit: int = 200) -> tuple[list[str], list[str]]:
        """Feed the hub-relayed sightings queued by the pull (sync/apply.py) to the engine, then delete them.
        Returns (offer ids issued, a sentence per sighting skipped). A sighting of a customer whose location
        consent this device does not hold, or older than ``SIGHTING_MAX_AGE_S``, is dropped unused."""
        now = self.engine_clock() if engine_now is None else engine_now
        wall = self.wall_clock()
        rows = self.db.execute(
            """SELECT s.id, s.customer_id, s.zone, s.beacon_key, s.kind, s.seen_at,
                      coalesce(json_valid(c.consents) AND json_extract(c.consents, '$.location') = 1, 0)
               FROM presence_sightings s LEFT JOIN customers c ON c.id = s.customer_id
               ORDER BY s.seen_at, s.id LIMIT ?""",
            [limit],
        ).fetchall()
        issued: list[str] = []
        problems: list[str] = []
        for sid, customer, zone, beacon, kind, seen_at, consent in rows:
            record = {"customer_id": customer, "zone": zone, "beacon": beacon, "kind": kind, "time": seen_at}
            try:
                seen = datetime.fromisoformat(str(seen_at).replace("Z", "+00:00")).timestamp()
                if not consent:
                    problems.append(f"sighting {sid} skipped: no location consent for {customer} on this device")
                elif wall - seen > SIGHTING_MAX_AGE_S:
                    problems.append(f"sighting {sid} skipped: it is {int(wall - seen)} s old")
                else:
                    issued.extend(self.handle_sighting(record, now))
            except (SightingError, ValueError) as exc:
                problems.append(f"sighting {sid} skipped: {exc}")
            with immediate(self.db):
                self.db.execute("DELETE FROM presence_sightings WHERE id = ?", [sid])
        return issued, problems

    def tick(self, engine_now: float | None = None) -> list[str]:
        now = self.engine_clock() if engine_now is None else engine_now
        offset = self._wall_offset(now)
        issued = self._handle_events(self.engine.tick(now), offset)
        closed = self.anonymous.roll(now)
        if closed:
            record_anonymous(self.db, closed, offset, self.store_id)
        return issued

    def _handle_events(self, events: Iterable[PresenceEvent], offset: float) -> list[str]:
        issued: list[str] = []
        for event in events:
            for listener in self.event_listeners:
                listener(event)
            if event.kind == EXIT and event.entered_at is not None:
                record_visit(
                    self.db,
                    Visit(
                        event.subject,
                        event.zone,
                        datetime.fromtimestamp(event.entered_at + offset, UTC),
                        datetime.fromtimestamp(event.time + offset, UTC),
                        event.dwell_s,
                        event.source,
                    ),
                    self.store_id,
                )
                continue
            if not self.rules or event.kind not in (ENTER, presence.DWELL):
                continue
            profile = customer_profile(self.db, event.subject)
            if profile is None:
                continue
            now_utc = datetime.fromtimestamp(event.time + offset, UTC)
            decisions = decide_offers(
                event,
                profile,
                self.rules,
                now_utc,
                self.hours,
                self.tz,
                lambda c, k, since: issued_count(self.db, c, k, since),
                self.locale,
            )
            for decision in decisions:
                issued.append(record_offer(self.db, decision, self.store_id))
        self.offers_issued.extend(issued)
        return issued

    def present_with_offers(self) -> list[dict[str, Any]]:
        """For the till: customers in the store now, longest first, with their live presence offers."""
        now = datetime.fromtimestamp(self.wall_clock(), UTC)
        offset = self._wall_offset(self.engine_clock())
        out = []
        for p in self.engine.present():
            row = self.db.execute("SELECT display_name, tier FROM customers WHERE id = ?", [p.customer_id]).fetchone()
            out.append(
                {
                    "customer_id": p.customer_id,
                    "display_name": row[0] if row else p.customer_id,
                    "tier": row[1] if row else None,
                    "since": iso(datetime.fromtimestamp(p.since + offset, UTC)),
                    "zones": list(p.zones),
                    "offers": live_offers(self.db, p.customer_id, now),
                }
            )
        return out


__all__ = [
    "PresenceService",
    "SightingError",
    "FloorAnalytics",
    "analytics",
    "enqueue_analytics",
    "enqueue_analytics_due",
    "ensure_schema",
    "load_registry",
    "record_offer",
    "record_visit",
    "save_rule",
]


# -- demo ------------------------------------------------------------------------------------------

DEMO_TAG_UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
DEMO_EID_KEY = "0102030405060708090a111213141516"
DEMO_EID_K = 15  # 9-hour periods: the demo replay resolves for about a day after seeding
DEMO_EID_BEACON_TIME = 40_000  # beacon time the EID adverts in demo_walk.jsonl were computed for
DEMO_FILE = Path(__file__).resolve().parent.parent.parent / "devices" / "beacons" / "data" / "demo_walk.jsonl"


def seed_demo_presence(db: sqlite_utils.Database, now: float | None = None) -> None:
    """Identities, a store beacon and two rules matching devices/beacons/data/demo_walk.jsonl.

    C1002 carries an iBeacon tag, C1004 the app (Eddystone-EID), C1003 a tag but no location consent.
    """
    ensure_schema(db)
    now = time.time() if now is None else now
    with immediate(db):
        for ident_id, customer, kind, key, ik, k, offset in (
            ("PI-C1002", "C1002", BeaconKind.IBEACON, ibeacon_key(DEMO_TAG_UUID, 100, 2), None, None, 0),
            ("PI-C1003", "C1003", BeaconKind.IBEACON, ibeacon_key(DEMO_TAG_UUID, 100, 3), None, None, 0),
            ("PI-C1004", "C1004", EID_IDENTITY_KIND, None, DEMO_EID_KEY, DEMO_EID_K, int(now) - DEMO_EID_BEACON_TIME),
        ):
            db.execute(
                "INSERT OR REPLACE INTO presence_identities (id, customer_id, kind, beacon_key, eid_identity_key, "
                "eid_rotation_exponent, eid_clock_offset_s) SELECT ?, ?, ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM customers WHERE id = ?)",  # the demo customers may not be seeded
                [ident_id, customer, kind, key, ik, k, offset, customer],
            )
        db.execute(
            "INSERT OR REPLACE INTO store_beacons (beacon_key, zone, label) VALUES (?, ?, ?)",
            [eddystone_uid_key("5354524544474530000a", "000000000001"), "entrance", "door beacon"],
        )
    save_rule(db, {"campaign_id": "WELCOME-COFFEE", "trigger": "enter", "zone": STORE_ZONE, "valid_minutes": 30,
                   "offer": {"kind": "percent_off", "name": "Drinks 20% off today",
                             "params": {"percent": 20, "category": "Beverages"}}})  # fmt: skip
    save_rule(db, {"campaign_id": "DWELL-BAKERY", "trigger": "dwell", "dwell_min": 3, "zone": STORE_ZONE,
                   "tiers": ["Silver", "Gold"], "valid_minutes": 20,
                   "offer": {"kind": "points_multiplier", "name": "Double points on bakery",
                             "params": {"multiplier": 2, "category": "Bakery"}}})  # fmt: skip
