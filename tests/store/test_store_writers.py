"""What the store layer writes and reads for the till's screens: app-code sightings (with their outbox
event) and the floor screen's analytics view, which counts visits still in progress."""

from __future__ import annotations

import json
from datetime import timedelta

from edge.core.contract import EventType
from edge.db import open_database
from edge.settings import Settings
from edge.store.presence_store import Visit, floor_analytics, record_visit
from edge.store.sightings import record_token_sighting
from tests.support.demo import FIXED_NOW


def test_a_code_seen_at_another_till_within_its_window_is_a_possible_copy(demo_settings: Settings) -> None:
    db = open_database(demo_settings.database_path)
    expires = (FIXED_NOW + timedelta(minutes=1)).timestamp()
    kw = {"token_id": "tok-1", "customer_id": "C1002", "now": FIXED_NOW, "expires_at": expires}
    assert record_token_sighting(db, till_id="till-1", **kw) is False
    assert record_token_sighting(db, till_id="till-1", **kw) is False  # the same till again: no copy
    assert record_token_sighting(db, till_id="till-2", **kw) is True
    later = {**kw, "now": FIXED_NOW + timedelta(minutes=5)}
    assert record_token_sighting(db, till_id="till-3", **later) is False  # the window has passed
    events = [json.loads(p) for (p,) in db.execute("SELECT payload FROM outbox WHERE type = ?",
                                                   [EventType.LOYALTY_TOKEN_SEEN])]  # fmt: skip
    assert [e["till_id"] for e in events] == ["till-1", "till-1", "till-2", "till-3"]
    assert all(e["token_hash"] == "tok-1" and e["customer_id"] == "C1002" for e in events)


def test_floor_analytics_count_visits_in_progress_like_the_live_view(demo_settings: Settings) -> None:
    db = open_database(demo_settings.database_path)
    entered = FIXED_NOW - timedelta(hours=2)
    record_visit(db, Visit("C1002", "store", entered, entered + timedelta(minutes=7), 420.0, "ble"), "store-1")
    empty = floor_analytics(db, FIXED_NOW, 24, present=())
    assert empty.zone_visits == {"store": 1} and sum(empty.hourly) == 1 and empty.in_progress == 0
    present = [{"customer_id": "C1004", "since": (FIXED_NOW - timedelta(minutes=3)).isoformat(), "zones": ["store"]},
               {"customer_id": "C1005", "since": (FIXED_NOW - timedelta(seconds=20)).isoformat(), "zones": []}]  # fmt: skip
    view = floor_analytics(db, FIXED_NOW, 24, present=present)
    assert view.zone_visits == {"store": 3} and view.in_progress == 2
    assert sum(view.hourly) == 3 and view.hourly[-1] == 2  # both came in during the current hour
    assert sum(view.dwell.values()) == 3 and view.dwell["<60s"] == 1


def test_the_hourly_analytics_wait_for_another_writer_instead_of_failing(demo_settings: Settings) -> None:
    """The presence box reads the hour's visits and then writes their analytics event: beside a sale being
    written on another connection, that transaction takes the write lock first and waits, where a deferred one
    that read first failed with "database is locked" once the other writer committed."""
    import threading
    import time

    from edge.store.presence_store import enqueue_analytics_due

    db = open_database(demo_settings.database_path)
    other = open_database(demo_settings.database_path)  # the till's sale path, its own connection
    assert enqueue_analytics_due(db, "store-1", FIXED_NOW, 3600) is None  # the first period starts now
    other.conn.execute("BEGIN IMMEDIATE")
    other.conn.execute("INSERT INTO sync_state (key, value) VALUES ('a-sale', 'being written')")

    def commit_soon() -> None:
        time.sleep(0.3)
        other.conn.execute("COMMIT")

    writer = threading.Thread(target=commit_soon)
    writer.start()
    try:
        summary = enqueue_analytics_due(db, "store-1", FIXED_NOW + timedelta(hours=1), 3600)
    finally:
        writer.join()
    assert summary is not None
    assert db.execute("SELECT count(*) FROM outbox WHERE type = ?", [EventType.PRESENCE_ANALYTICS]).fetchone()[0] == 1
