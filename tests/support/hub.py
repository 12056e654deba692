"""A real hub (SQLite file or a fresh PostgreSQL schema) on 127.0.0.1, and real edge databases enrolled with
it: the helpers, and the fixtures that run a test "on both engines" (``hub_storage``/``hub`` are parametrized
sqlite + postgres; ``sqlite_hub_storage``/``sqlite_hub`` only SQLite). The fixtures are registered by
tests/conftest.py."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from edge.db.connection import open_database
from edge.settings import HubSettings
from sync import outbox
from sync.client import SyncClient, SyncError
from sync.credentials import Credential
from sync.enroll import enroll
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from sync.ids import uuid7

PG_DSN = os.environ.get("STORE_EDGE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")  # see _dsn()
FAST = HubSettings(timeout_s=5.0, sync_interval_s=0.05, batch_max_events=200, backoff_cap_s=0.2)


def _dsn() -> str | None:
    # the machine's server, or a private cluster started for this test run (tests/pg_cluster.py)
    from tests.pg_cluster import test_dsn

    return test_dsn()


def pg_dsn() -> str | None:
    """The PostgreSQL server the hub tests use, or None when there is none."""
    return _dsn()


def _pg_available() -> bool:
    return _dsn() is not None


def open_hub_storage(kind: str, tmp_path: Path) -> HubStorage:
    if kind == "sqlite":
        return HubStorage.open(tmp_path / "hub.db")
    if not _pg_available():
        if os.environ.get("STORE_EDGE_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL at {PG_DSN} is required but unreachable")
        pytest.skip(f"PostgreSQL at {PG_DSN} is unreachable")
    return HubStorage.open(_dsn() or PG_DSN, schema_name=f"hubtest_{uuid.uuid4().hex[:12]}")


def close_hub_storage(storage: HubStorage) -> None:
    """Close the hub; on PostgreSQL also drop the test's schema."""
    storage.db.drop_schema()


def seed(storage: HubStorage, stores: dict[str, list[str]], customers: dict[str, tuple[str, int]]) -> dict[str, str]:
    """stores: {store: [device, ...]}, customers: {id: (home_store, opening points)} -> {device: code}."""
    codes = {}
    for store, devices in stores.items():
        storage.create_store(store)
        for dev in devices:
            codes[dev] = storage.create_device(store, dev)
    for cid, (home, points) in customers.items():
        storage.upsert_customer({"id": cid, "display_name": cid.title(), "card_number": f"card-{cid}",
                                 "home_store_id": home})
        if points:
            storage.adjust_balance(cid, points, "opening balance")
    return codes


@dataclass
class Edge:
    """One till: a real store.db, a real credential, a real client."""

    data_dir: Path
    db: sqlite_utils.Database
    cred: Credential

    def client(self, hub_url: str | None = None, settings: HubSettings = FAST, **kw: Any) -> SyncClient:
        return SyncClient(self.db, self.cred, settings, hub_url=hub_url, **kw)

    def ledger(self, kind: str, customer_id: str, points: int, sale_id: str | None = None) -> str:
        entry_id = uuid7()
        now = outbox.utc_now_iso()
        with self.db.conn:
            # the till knows the customer (scanned card); a pull fills in the profile later
            self.db.execute("INSERT OR IGNORE INTO customers (id, display_name) VALUES (?, ?)",
                            [customer_id, customer_id])
            self.db.execute(
                "INSERT INTO ledger (entry_id, customer_id, kind, points, sale_id, reason, offline, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 1, ?)", [entry_id, customer_id, kind, points, sale_id, "sale", now])
            outbox.enqueue(self.db, f"ledger.{kind}", {"entry_id": entry_id, "customer_id": customer_id,
                                                        "points": points, "sale_id": sale_id, "reason": "sale",
                                                        "created_at": now})
        return entry_id

    def sale(self, customer_id: str | None, total_cents: int) -> str:
        sale_id = uuid7()
        with self.db.conn:
            if customer_id:
                self.db.execute("INSERT OR IGNORE INTO customers (id, display_name) VALUES (?, ?)",
                                [customer_id, customer_id])
            self.db.execute(
                "INSERT INTO sales (id, customer_id, created_at, subtotal_cents, discount_cents, total_cents, "
                "vat_cents, payment_method, receipt) VALUES (?, ?, ?, ?, 0, ?, 0, 'card', '')",
                [sale_id, customer_id, outbox.utc_now_iso(), total_cents, total_cents])
            outbox.enqueue(self.db, "sale.completed", {
                "id": sale_id, "customer_id": customer_id, "total_cents": total_cents,
                "created_at": outbox.utc_now_iso(),
                "lines": [{"gtin": "05901234123457", "name": "Coffee beans 500 g", "qty": 1}], "discounts": []})
        return sale_id

    def pending_points(self, customer_id: str) -> int:
        row = self.db.execute(
            "SELECT coalesce(sum(CASE kind WHEN 'earn' THEN points ELSE -points END), 0) FROM ledger l "
            "WHERE customer_id = ? AND NOT EXISTS (SELECT 1 FROM ledger_confirmations c WHERE c.entry_id = l.entry_id)",
            [customer_id]).fetchone()
        return int(row[0])

    def confirmed_points(self, customer_id: str) -> int:
        row = self.db.execute("SELECT confirmed_points FROM customers WHERE id = ?", [customer_id]).fetchone()
        return int(row[0])

    def ledger_set(self) -> set[tuple[str, str, str, int]]:
        return {tuple(r) for r in self.db.execute(  # type: ignore[misc]
            "SELECT entry_id, customer_id, kind, points FROM ledger").fetchall()}


def enqueue_unchecked(db: sqlite_utils.Database, type_: str, payload: dict[str, Any]) -> str:
    """An outbox row as a hostile or older till would write it: past the till's own contract check (which
    ``outbox.enqueue`` runs), so that the hub's checks are what the test sees."""
    event_id = uuid7()
    now = outbox.utc_now_iso()
    db.execute("INSERT INTO outbox (event_id, type, payload, device_time, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
               [event_id, type_, json.dumps(payload, separators=(",", ":")), now, outbox.PENDING, now])
    return event_id


def make_edge(tmp_path: Path, name: str, hub_url: str, code: str) -> Edge:
    data_dir = tmp_path / name
    cred = enroll(hub_url, code, data_dir)
    return Edge(data_dir, open_database(data_dir / "store.db"), cred)


def hub_ledger_set(storage: HubStorage, store_id: str | None = None) -> set[tuple[str, str, str, int]]:
    return {(e["entry_id"], e["customer_id"], e["kind"], int(e["points"])) for e in storage.ledger_entries()
            if e["store_id"] != "hub" and (store_id is None or e["store_id"] == store_id)}


def busy_day(edge: Edge, customers: list[str], sales: int, seed_: int, *, burn_share: float, max_burn: int) -> None:
    """``sales`` random sales at ``edge`` (seeded: the same day every run), each earning 1-50 points for one of
    ``customers``; a share ``burn_share`` of them also burns 1-``max_burn`` points."""
    rng = random.Random(seed_)
    for _ in range(sales):
        cid = rng.choice(customers)
        sale = edge.sale(cid, rng.randint(100, 5_000))
        edge.ledger("earn", cid, rng.randint(1, 50), sale)
        if rng.random() < burn_share:
            edge.ledger("burn", cid, rng.randint(1, max_burn), sale)


def converge(edge: Edge, url: str, settings: HubSettings, *, rounds: int | None = None,
             deadline_s: float | None = None, pause_cap_s: float = 0.1) -> int:
    """``sync_once`` until ``edge``'s outbox is empty, within ``rounds`` tries and/or ``deadline_s`` seconds;
    returns how many rounds failed (and were retried after the client's delay, at most ``pause_cap_s``).
    AssertionError when the budget runs out first."""
    client = edge.client(hub_url=url, settings=settings)
    failures = tries = 0
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    try:
        while (rounds is None or tries < rounds) and (deadline is None or time.monotonic() < deadline):
            tries += 1
            try:
                client.sync_once()
                if outbox.stats(edge.db).unsent == 0:
                    return failures
            except SyncError as exc:
                failures += 1
                time.sleep(min(pause_cap_s, client.next_delay(exc)))
    finally:
        client.close()
    budget = f"after {rounds} rounds" if rounds is not None else f"in {deadline_s} s"
    raise AssertionError(f"no convergence {budget}; {outbox.stats(edge.db)}")


def wait_until(predicate: Callable[[], object], timeout: float) -> None:
    """Poll ``predicate`` every 50 ms until it holds; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


# -- fixtures (registered in tests/conftest.py) ---------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def hub_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubStorage]:
    """The hub's storage on each engine in turn (PostgreSQL: a fresh schema, dropped afterwards)."""
    storage = open_hub_storage(request.param, tmp_path)
    yield storage
    close_hub_storage(storage)


@pytest.fixture
def sqlite_hub_storage(tmp_path: Path) -> Iterator[HubStorage]:
    """The hub's storage in a SQLite file under tmp_path."""
    storage = open_hub_storage("sqlite", tmp_path)
    yield storage
    storage.close()


@pytest.fixture
def hub(hub_storage: HubStorage) -> Iterator[HubServer]:
    """A hub serving HTTP on 127.0.0.1, on each engine in turn."""
    with HubServer(hub_storage) as server:
        yield server


@pytest.fixture
def sqlite_hub(sqlite_hub_storage: HubStorage) -> Iterator[HubServer]:
    """A hub serving HTTP on 127.0.0.1 from a SQLite file."""
    with HubServer(sqlite_hub_storage) as server:
        yield server
