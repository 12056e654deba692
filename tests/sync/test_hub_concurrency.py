"""The hub on PostgreSQL with concurrent writers: the change feed never skips or repeats a change although
writers take no global lock; pushes of different stores run in parallel; one batch sent twice at once is
applied once; each queued notification is claimed by one deliverer (SKIP LOCKED).

Interleavings are made deterministic by holding one writer's transaction open on an explicit connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.hub import ingest, notifications
from sync.hub.offers import upsert_products
from sync.hub.storage import DeviceAuth, HubStorage
from sync.hub.tables import changes
from sync.ids import uuid7
from tests.support.hub import close_hub_storage, open_hub_storage


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[HubStorage]:
    storage = open_hub_storage("postgres", tmp_path)
    storage.create_store("s1")
    storage.create_store("s2")
    for store, dev in (("s1", "t1"), ("s2", "t2")):
        storage.create_device(store, dev)
    storage.upsert_customer({"id": "ada", "display_name": "Ada", "home_store_id": "s1"})
    storage.upsert_customer({"id": "bob", "display_name": "Bob", "home_store_id": "s2"})
    yield storage
    close_hub_storage(storage)


@pytest.fixture
def held(pg: HubStorage) -> Iterator[Any]:
    """A connection whose transaction the test holds open (and commits); rolled back if the test fails, before
    the schema is dropped."""
    conn = pg.db.engine.connect()
    conn.begin()
    yield conn
    if conn.in_transaction():
        conn.rollback()
    conn.close()


def _product(gtin: str) -> dict[str, Any]:
    return {"gtin": gtin, "name": f"P {gtin}", "price_cents": 100, "vat_rate_bp": 900, "category": "general"}


def _events(dev: DeviceAuth, customer: str, n: int, kind: str = "ledger.earn") -> list[dict[str, Any]]:
    out = []
    for seq in range(1, n + 1):
        payload: dict[str, Any] = {"entry_id": uuid7(), "customer_id": customer, "points": 1}
        if kind.startswith("presence."):
            payload = {"customer_id": customer, "offer_id": f"o{seq}"}
        out.append({"id": uuid7(), "device_id": dev.device_id, "store_id": dev.store_id, "seq": seq, "type": kind,
                    "payload": payload, "device_time": "2026-01-01T10:00:00.000Z"})
    return out


class _Background:
    """Run ``fn`` on a thread; ``done`` is set when it returns."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> Any:
        self.thread.join(30)
        if self.error:
            raise self.error
        return self.result


def _pull_all(storage: HubStorage, dev: DeviceAuth, cursor: str | None, want: set[str]) -> tuple[list[str], str]:
    """Pull until the product keys in ``want`` have all arrived (other sessions on the server may hold the
    horizon back for a moment); returns every product key received, in order, and the final cursor."""
    got: list[str] = []
    deadline = time.monotonic() + 20
    while True:
        page = storage.changes(dev, cursor, 500)
        got += [c.key for c in page.changes if c.kind == "product"]
        cursor = page.cursor
        if want <= set(got) or time.monotonic() > deadline:
            return got, cursor


def test_a_change_committed_after_a_later_numbered_one_is_not_skipped(pg: HubStorage, held: Any) -> None:
    pg.pull_wait_s = 0.2
    dev = DeviceAuth("t1", "s1")
    start = pg.changes(dev, None, 500).cursor
    upsert_products(held, [_product("00000000000001")])  # writes version N in a transaction held open
    pg.upsert_products([_product("00000000000002")])  # version N+1, committed first
    with pg.read() as conn:
        visible = {r.key: r.version for r in conn.execute(changes.select())}
    assert "00000000000002" in visible and "00000000000001" not in visible  # A is still open
    page = pg.changes(dev, start, 500)
    # the later-numbered change is held back while an earlier transaction may still commit below it
    assert [c.key for c in page.changes if c.kind == "product"] == []
    held.commit()
    with pg.read() as conn:
        versions = {r.key: r.version for r in conn.execute(changes.select().where(changes.c.kind == "product"))}
    assert versions["00000000000001"] < versions["00000000000002"]  # committed out of version order
    got, cursor = _pull_all(pg, dev, page.cursor, {"00000000000001", "00000000000002"})
    assert sorted(got) == ["00000000000001", "00000000000002"]  # nothing skipped, nothing twice
    again, _ = _pull_all(pg, dev, cursor, set())
    assert again == []


def test_pushes_of_two_stores_commit_in_parallel(pg: HubStorage, held: Any) -> None:
    s1, s2 = DeviceAuth("t1", "s1"), DeviceAuth("t2", "s2")
    results = ingest.push(held, s1, ingest.check_events(s1, _events(s1, "ada", 50)))
    assert {r.status for r in results} == {"accepted"}
    other = _Background(pg.push, s2, _events(s2, "bob", 50))
    finished_while_held = other.done.wait(15)  # with a global lock this would wait for the first push
    held.commit()
    assert finished_while_held, "store s2's push waited for store s1's transaction"
    assert {r.status for r in other.join()} == {"accepted"}
    assert pg.count("events") == 100
    assert pg.balance("ada") == 50 and pg.balance("bob") == 50


def test_one_batch_arriving_twice_at_once_is_applied_once(pg: HubStorage, held: Any) -> None:
    dev = DeviceAuth("t1", "s1")
    batch = _events(dev, "ada", 30)
    first = ingest.push(held, dev, ingest.check_events(dev, batch))
    second = _Background(pg.push, dev, batch)
    assert not second.done.wait(0.5)  # the copy waits for the device's first transaction ...
    held.commit()
    assert {r.status for r in first} == {"accepted"}
    assert {r.status for r in second.join()} == {"duplicate"}  # ... and then finds every event applied
    assert pg.count("events") == 30 and pg.balance("ada") == 30


def _queue_notifications(pg: HubStorage, n: int) -> set[str]:
    dev = DeviceAuth("t1", "s1")
    batch = _events(dev, "ada", n, "presence.notification_requested")
    assert {r.status for r in pg.push(dev, batch)} == {"accepted"}
    return {e["id"] for e in batch}


def test_a_claimed_notification_is_skipped_not_waited_for(pg: HubStorage, held: Any) -> None:
    ids = _queue_notifications(pg, 5)
    mine = {n["event_id"] for n in notifications.claim(held, 3, 10)}
    other = _Background(pg.due_notifications, 10, 10)
    assert other.done.wait(15), "the second claimer waited for the first one's rows"
    theirs = {n["event_id"] for n in other.join()}
    held.commit()
    assert len(mine) == 3 and len(theirs) == 2 and mine | theirs == ids
    assert pg.due_notifications(10, 10) == []  # both claims hold a lease


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_each_notification_is_claimed_once_by_concurrent_deliverers(kind: str, tmp_path: Path) -> None:
    storage = open_hub_storage(kind, tmp_path)
    try:
        storage.create_store("s1")
        storage.create_device("s1", "t1")
        storage.upsert_customer({"id": "ada", "display_name": "Ada", "home_store_id": "s1"})
        ids = _queue_notifications(storage, 60)
        claimed: list[str] = []
        lock = threading.Lock()

        def deliverer() -> None:
            while batch := storage.due_notifications(2, 10):
                with lock:
                    claimed.extend(n["event_id"] for n in batch)
                for n in batch:
                    storage.notification_delivered(n["event_id"])

        workers = [threading.Thread(target=deliverer) for _ in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert sorted(claimed) == sorted(ids)  # every one, none twice
        assert all(n["delivered_at"] and n["attempts"] == 1 for n in storage.notifications())
    finally:
        close_hub_storage(storage)
