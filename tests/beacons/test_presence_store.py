"""The demo walk replayed into a real SQLite store: offers, outbox, visits, analytics, no MACs."""

import json
from datetime import UTC, datetime, timedelta

from devices.ble.base import FINISHED
from devices.ble.replay_source import ReplaySource
from edge.db import open_database
from edge.store.presence_store import (
    DEMO_FILE,
    NOTIFICATION_EVENT,
    VISIT_EVENT,
    PresenceService,
    enqueue_analytics,
    seed_demo_presence,
)

BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def engine(self) -> float:
        return self.t

    def wall(self) -> float:
        return BASE + self.t


def make_db(tmp_path):
    db = open_database(tmp_path / "store.db")
    for cid, tier, location in (("C1002", "Gold", True), ("C1003", "Gold", False), ("C1004", "Bronze", True)):
        db["customers"].insert(
            {"id": cid, "display_name": f"Customer {cid}", "tier": tier, "consents": json.dumps({"location": location})}
        )
    seed_demo_presence(db, now=BASE)
    return db


def make_service(db, clock):
    return PresenceService(
        db, store_id="s1", opening_hours="08:00-21:00", timezone="UTC",
        wall_clock=clock.wall, engine_clock=clock.engine,
    )  # fmt: skip


async def replay_demo(service, clock, midway=None):
    source = ReplaySource(DEMO_FILE)
    seen_midway = []

    def on_advert(advert):
        clock.t = advert.time
        service.handle_advert(advert)
        service.tick(advert.time)
        if midway is not None and advert.time >= midway and not seen_midway:
            seen_midway.append(service.present_with_offers())

    source.on_advert(on_advert)
    await source.start()
    await source.wait_finished()
    await source.stop()
    assert source.status.state == FINISHED and source.skipped == []
    return seen_midway[0] if seen_midway else None


def outbox(db, type_):
    return [json.loads(r[0]) for r in db.execute("SELECT payload FROM outbox WHERE type = ? ORDER BY seq", [type_])]


async def test_demo_walk_issues_offers_and_visits(tmp_path):
    db = make_db(tmp_path)
    clock = Clock()
    service = make_service(db, clock)
    live = await replay_demo(service, clock, midway=200.0)
    # in the store at 200 s: the tag customer and the app (EID) customer, each with a live offer
    assert {p["customer_id"] for p in live} == {"C1002", "C1004"}
    assert all(p["offers"] for p in live)
    clock.t += 600
    service.tick(clock.t)
    offers = db.execute(
        "SELECT customer_id, name, source, valid_until FROM offers WHERE source = 'presence' ORDER BY customer_id, name"
    ).fetchall()
    assert [(c, n) for c, n, _, _ in offers] == [
        ("C1002", "Double points on bakery"),  # Gold, dwelled > 3 min
        ("C1002", "Drinks 20% off today"),
        ("C1004", "Drinks 20% off today"),  # Bronze: no dwell offer
    ]
    notes = outbox(db, NOTIFICATION_EVENT)
    assert sorted(n["customer_id"] for n in notes) == ["C1002", "C1002", "C1004"]
    visits = outbox(db, VISIT_EVENT)
    assert {(v["customer_id"], v["zone"]) for v in visits} == {("C1002", "store"), ("C1004", "store")}
    c1002 = next(v for v in visits if v["customer_id"] == "C1002")
    assert 330 <= c1002["dwell_s"] <= 420
    assert service.present_with_offers() == []
    # C1003 has a tag but no location consent: nothing about them anywhere
    dump = "\n".join(str(row) for t in db.table_names() for row in db.execute(f"SELECT * FROM [{t}]").fetchall())
    for table in ("offers", "presence_visits", "presence_offers_issued", "outbox"):
        assert "C1003" not in str(db.execute(f"SELECT * FROM {table}").fetchall()), table
    # MAC addresses are never persisted
    for mac in ("D4:11:22:33:44", "6F:AA:BB", "7A:0", "C0:FF:EE"):
        assert mac not in dump


async def test_frequency_cap_and_opening_hours(tmp_path):
    db = make_db(tmp_path)
    clock = Clock()
    service = make_service(db, clock)
    await replay_demo(service, clock)
    first = db.execute("SELECT count(*) FROM offers WHERE source = 'presence'").fetchone()[0]
    # the same walk again an hour later: capped (1 per campaign per 24 h)
    service2 = make_service(db, clock)
    clock_base = clock.t + 3600

    class Later(Clock):
        pass

    later = Later()
    service2.engine_clock, service2.wall_clock = later.engine, (lambda: BASE + clock_base + later.t)
    source = ReplaySource(DEMO_FILE)
    source.on_advert(lambda a: (setattr(later, "t", a.time), service2.handle_advert(a), service2.tick(a.time)))
    await source.start()
    await source.wait_finished()
    assert db.execute("SELECT count(*) FROM offers WHERE source = 'presence'").fetchone()[0] == first
    # at 22:00 the store is closed: no offers even for a fresh database
    db2 = make_db(tmp_path / "closed")
    night = Clock()
    closed = PresenceService(db2, opening_hours="08:00-21:00", wall_clock=lambda: BASE + 12 * 3600 + night.t,
                             engine_clock=night.engine)  # fmt: skip
    await replay_demo(closed, night)
    assert db2.execute("SELECT count(*) FROM offers WHERE source = 'presence'").fetchone()[0] == 0
    assert db2.execute("SELECT count(*) FROM presence_visits").fetchone()[0] >= 2  # visits still counted


async def test_hub_sighting_path_issues_the_same_offer(tmp_path):
    db = make_db(tmp_path)
    clock = Clock()
    service = make_service(db, clock)
    clock.t = 50.0
    issued = service.handle_sighting(
        {"customer_id": "C1004", "beacon": "eddystone-uid:5354524544474530000a:000000000001",
         "time": BASE + 45, "kind": "enter"}
    )  # fmt: skip
    assert len(issued) == 1
    assert service.present_with_offers()[0]["zones"] == ["entrance"]
    clock.t = 400.0
    service.handle_sighting({"customer_id": "C1004", "zone": "entrance", "time": BASE + 390, "kind": "exit"})
    [visit] = [v for v in outbox(db, VISIT_EVENT) if v["zone"] == "store"]
    assert visit["source"] == "hub" and visit["dwell_s"] == 345.0


async def test_analytics_counts_conversions_within_validity(tmp_path):
    db = make_db(tmp_path)
    clock = Clock()
    service = make_service(db, clock)
    await replay_demo(service, clock)
    clock.t += 600
    service.tick(clock.t)
    rows = db.execute("SELECT offer_id, issued_at, valid_until FROM presence_offers_issued ORDER BY issued_at").fetchall()
    inside = datetime.fromisoformat(rows[0][1].replace("Z", "+00:00")) + timedelta(minutes=5)
    after = datetime.fromisoformat(rows[1][2].replace("Z", "+00:00")) + timedelta(minutes=5)
    for sale_id, when, offer_id in (("S1", inside, rows[0][0]), ("S2", after, rows[1][0])):
        db["sales"].insert({"id": sale_id, "created_at": when.isoformat().replace("+00:00", "Z"), "subtotal_cents": 100,
                            "discount_cents": 10, "total_cents": 90, "vat_cents": 10, "payment_method": "cash",
                            "receipt": ""})  # fmt: skip
        db["sale_discounts"].insert({"sale_id": sale_id, "n": 0, "offer_id": offer_id, "amount_cents": 10, "reason": "presence"})
    # close the anonymous-count hour
    clock.t += 3600
    service.tick(clock.t)
    summary = enqueue_analytics(db, datetime.fromtimestamp(BASE - 3600, UTC), datetime.fromtimestamp(BASE + 7200, UTC), "s1")
    assert summary["offers_issued"] == 3 and summary["offers_converted"] == 1
    assert summary["zone_visits"] == {"store": 2}
    assert sum(summary["dwell_distribution"]["store"].values()) == 2
    # passers-by, the door beacon and the non-consenting tag are only counted
    assert summary["anonymous_devices"]["store"] >= 6
    assert outbox(db, "presence.analytics")[0]["offers_converted"] == 1
