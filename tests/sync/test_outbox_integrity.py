"""Issue #12 item 5, the outbox: an event that cannot be read (a damaged byte on disk, bad JSON, a type the
protocol does not know) goes to the dead letters with its row and reason, and the rest flows; a batch the hub
refuses as a whole is split until the one event it refuses is alone. Real store.db files, a real hub on
127.0.0.1 (SQLite and PostgreSQL), and the ``store-edge`` command as a real process."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.db.connection import open_database
from sync import outbox, protocol
from sync.client import SyncClient, SyncError
from sync.hub.server import HubServer
from sync.ids import uuid7
from tests.support.hub import FAST, make_edge, seed

STORE_EDGE = str(Path(sys.executable).parent / "store-edge")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_EDGE_")}
    return subprocess.run([STORE_EDGE, *args], capture_output=True, text=True, timeout=120, env=env)


def earn(db, marker: str, points: int = 5, type_: str = "ledger.earn") -> str:  # type: ignore[no-untyped-def]
    entry_id = uuid7()
    with db.conn:
        outbox.enqueue(db, type_, {"entry_id": entry_id, "customer_id": "ada", "points": points,
                                   "sale_id": None, "reason": marker[:100], "created_at": outbox.utc_now_iso(),
                                   # the size rides in pieces the contract allows (a reason is at most 2,000)
                                   "padding": [marker[i:i + 5_000] for i in range(0, len(marker), 5_000)]})
    return entry_id


def hub_entries(hub: HubServer) -> set[str]:
    return {e["entry_id"] for e in hub.storage.ledger_entries() if e["store_id"] == "s1"}


def test_a_damaged_outbox_row_goes_to_the_dead_letters_and_the_rest_flows(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    first = earn(edge.db, "first")
    earn(edge.db, "flip-utf8-here")
    earn(edge.db, "break-json-here")
    last = earn(edge.db, "last")
    earn(edge.db, "unknown-type", type_="ledger.gift")  # a type the protocol does not know
    edge.db.conn.close()  # checkpoints the WAL into store.db
    db_path = edge.data_dir / "store.db"
    data = bytearray(db_path.read_bytes())
    data[data.index(b"flip-utf8-here")] = 0xFF  # one byte of one payload, as a bad sector would
    data[data.index(b"break-json-here") - 1] = ord("x")  # the string's opening quote
    db_path.write_bytes(bytes(data))

    # before any sync: doctor already names the rows
    pre = run_cli("doctor", "--data-dir", str(edge.data_dir), "--only", "integrity")
    assert pre.returncode == 1, pre.stdout + pre.stderr
    assert "FAIL  events" in pre.stdout and "row 2 (pending)" in pre.stdout and "row 3 (pending)" in pre.stdout

    db = open_database(db_path)
    client = SyncClient(db, edge.cred, FAST, hub_url=hub.url)
    try:
        report = client.sync_once()  # before: 400 for every push, forever
        assert report.accepted == 2
        assert hub_entries(hub) == {first, last}
        st = outbox.stats(db)
        assert (st.pending, st.in_flight, st.acked, st.dead) == (0, 0, 2, 3)
        reasons = {d.seq: d.reason for d in st.dead_letters}
        assert reasons[2].startswith(outbox.UNREADABLE + "row 2: the payload is not valid UTF-8 (byte 0xff")
        assert reasons[3].startswith(outbox.UNREADABLE + "row 3: the payload is not valid JSON")
        assert "'ledger.gift' is not one the sync protocol knows" in reasons[5]
        # the next pushes succeed
        after = earn(db, "after")
        assert client.sync_once().accepted == 1
        assert after in hub_entries(hub)
    finally:
        client.close()

    status = run_cli("sync", "status", "--data-dir", str(edge.data_dir))
    assert status.returncode == 0, status.stderr
    assert "dead letters: 3" in status.stdout
    assert "dead #2 ledger.earn" in status.stdout and "not valid UTF-8" in status.stdout
    doc = run_cli("doctor", "--data-dir", str(edge.data_dir), "--only", "integrity,outbox")
    assert doc.returncode == 1
    events = next(line for line in doc.stdout.splitlines() if line.startswith("FAIL  events"))
    assert "3 outbox event(s) cannot be read: row 2 (dead)" in events
    assert "store-edge sync retry-dead" in doc.stdout and "WHERE seq = N" in doc.stdout


def test_a_batch_the_hub_refuses_whole_is_split_until_its_bad_event_is_alone(
    sqlite_hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the hub's body limit, made small so that a handful of events crosses it (the hub reads it per request)
    monkeypatch.setattr(protocol, "MAX_PUSH_BYTES", 64 * 1024)
    codes = seed(sqlite_hub.storage, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    pad = "p" * 20_000
    small = [earn(edge.db, f"{i}-{pad}") for i in range(5)]  # 100 KB together: the hub refuses the batch (400)
    earn(edge.db, "x" * 70_000)  # alone above the hub's limit: refused on its own
    tail = [earn(edge.db, f"tail-{i}") for i in range(3)]
    wide = dataclasses.replace(FAST, batch_max_bytes=10_000_000)
    client = edge.client(sqlite_hub.url, settings=wide)
    try:
        report = client.sync_once()
    finally:
        client.close()
    assert hub_entries(sqlite_hub) == set(small) | set(tail)
    assert report.accepted == 8 and report.rejected == 1
    st = outbox.stats(edge.db)
    assert (st.pending, st.in_flight, st.dead) == (0, 0, 1)
    assert st.dead_letters[0].seq == 6
    assert st.dead_letters[0].reason.startswith("the hub refused this event on its own: the hub refused the "
                                                "request (400: the body is not valid gzip")


def test_a_hub_that_refuses_every_batch_buries_nothing(sqlite_hub: HubServer, tmp_path: Path) -> None:
    """When the hub refuses even an empty batch, the events are not the cause: they stay pending."""
    codes = seed(sqlite_hub.storage, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    earn(edge.db, "one")
    earn(edge.db, "two")

    class NoGzip(SyncClient):  # a proxy on the way that mangles every body, as the hub would see it
        def _post(self, body: bytes):  # type: ignore[no-untyped-def]
            return super()._post(b"not gzip " + body)

    client = NoGzip(edge.db, edge.cred, FAST, hub_url=sqlite_hub.url)
    try:
        with pytest.raises(Exception, match="not valid gzip"):
            client.sync_once()
    finally:
        client.close()
    st = outbox.stats(edge.db)
    assert (st.pending, st.dead) == (2, 0)


def test_a_damaged_pending_row_does_not_stop_the_till_reading_a_customer(tmp_path: Path) -> None:
    """Offline, a damaged row stays pending until the next sync: the till's queries over the outbox skip it."""
    from edge.store.repository import Repository

    db = open_database(tmp_path / "store.db")
    with db.conn:
        db.execute("INSERT INTO customers (id, display_name) VALUES ('ada', 'Ada')")
        db.execute("INSERT INTO sales (id, customer_id, created_at, subtotal_cents, discount_cents, total_cents, "
                   "vat_cents, payment_method, receipt) VALUES ('s1', 'ada', '2026-11-30', 500, 0, 500, 0, 'cash', '')")
        outbox.enqueue(db, "sale.completed", {"id": "s1", "customer_id": "ada", "total_cents": 500})
        outbox.enqueue(db, "sale.completed", {"id": "s2", "customer_id": "ada", "total_cents": 700})
        db.execute("UPDATE outbox SET payload = substr(payload, 2) WHERE seq = 2")  # no longer JSON
    assert Repository(db).unsynced_spend("ada") == 500
    assert [(seq, state) for seq, state, _ in outbox.unreadable_rows(db)] == [(2, "pending")]


def test_one_event_too_large_for_the_gateway_goes_to_the_dead_letters(sqlite_hub: HubServer, tmp_path: Path) -> None:
    """Behind a proxy that answers 413 above a body size (nginx's client_max_body_size), one event larger
    than that alone would be retried forever in front of the others; alone and refused, it is buried."""
    import secrets

    from tests.support.gateway import Gateway

    codes = seed(sqlite_hub.storage, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    before = [earn(edge.db, f"before-{i}") for i in range(3)]
    earn(edge.db, secrets.token_hex(20_000))  # 40 KB that gzip cannot shrink
    after = [earn(edge.db, f"after-{i}") for i in range(3)]
    with Gateway(sqlite_hub.url, max_body=8_000) as gw:
        client = edge.client(gw.url)
        try:
            for _ in range(10):  # 413 for a batch: the next rounds send smaller ones, as before
                try:
                    client.sync_once()
                    break
                except SyncError as exc:
                    assert "too large" in str(exc)
        finally:
            client.close()
    assert hub_entries(sqlite_hub) == set(before) | set(after)
    st = outbox.stats(edge.db)
    assert (st.pending, st.in_flight, st.dead) == (0, 0, 1)
    assert st.dead_letters[0].seq == 4
    assert st.dead_letters[0].reason.startswith("the hub refused this event on its own: the hub refused the "
                                                "request as too large (413)")
