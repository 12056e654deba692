"""One bad row never blocks the rest (issue 12 items 2-3): the till refuses to send an event outside the
contract's ranges; the hub rejects on its own an event whose values the database cannot hold (a balance past
the ledger's limit, a total past PostgreSQL's BIGINT) instead of failing the batch; and a hub that fails (5xx)
on one event alone leads the client to split the batch and bury only that event. Real tills (store.db +
SyncClient) against the real hub over HTTP on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import gzip
from pathlib import Path
from typing import Any

from sqlalchemy import update

from edge.core.contract import EventType
from sync import outbox
from sync.client import LONE_FAILURE_STRIKES, SyncError
from sync.faultproxy import FaultProxy
from sync.hub.server import HubServer
from sync.hub.tables import customers
from sync.ids import uuid7
from tests.support.hub import FAST, Edge, make_edge, seed


def _earn(edge: Edge, customer_id: str, points: int, reason: str = "sale") -> str:
    entry_id = uuid7()
    with edge.db.conn:
        outbox.enqueue(edge.db, EventType.LEDGER_EARN, {"entry_id": entry_id, "customer_id": customer_id,
                                                         "points": points, "reason": reason})
    return entry_id


def _hub_entries(hub: HubServer) -> set[str]:
    return {e["entry_id"] for e in hub.storage.ledger_entries() if e["store_id"] != "hub"}


def _set_column(hub: HubServer, customer_id: str, **values: Any) -> None:
    with hub.storage.db.write() as conn:
        conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))


def _outbox_states(edge: Edge) -> dict[int, tuple[str, str | None]]:
    return {seq: (state, error) for seq, state, error in edge.db.execute(
        "SELECT seq, state, last_error FROM outbox ORDER BY seq").fetchall()}


def test_the_till_never_sends_an_event_outside_the_contract(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 10)})
    edge = make_edge(tmp_path, "t1", sqlite_hub.url, codes["t1"])
    good_before = _earn(edge, "ada", 5)
    bad = _earn(edge, "ada", 2**64)
    good_after = _earn(edge, "ada", 7)
    states = _outbox_states(edge)
    assert states[2][0] == outbox.DEAD
    assert states[2][1] is not None and states[2][1].startswith(outbox.REFUSED_HERE)
    assert "'points' must be a whole number from 1 to 100000" in states[2][1]
    client = edge.client(sqlite_hub.url)
    try:
        report = client.sync_once()
    finally:
        client.close()
    assert (report.accepted, report.rejected) == (2, 0)
    assert _hub_entries(sqlite_hub) == {good_before, good_after}
    assert bad not in {e["entry_id"] for e in sqlite_hub.storage.ledger_entries()}
    with sqlite_hub.storage.read() as conn:
        sent = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
    assert sent == 2
    assert outbox.stats(edge.db).dead == 1


def test_a_balance_past_the_ledgers_limit_is_rejected_alone(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 10), "bob": ("s1", 10)})
    _set_column(hub, "ada", balance=2**63 - 5)  # a hub database edited by hand, or an old import
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    first, _, last = _earn(edge, "bob", 5), _earn(edge, "ada", 50), _earn(edge, "bob", 7)
    client = edge.client(hub.url)
    try:
        report = client.sync_once()
    finally:
        client.close()
    assert (report.accepted, report.rejected, report.batches) == (2, 1, 1)  # one request: no 500, no split
    states = _outbox_states(edge)
    assert [states[s][0] for s in (1, 2, 3)] == [outbox.ACKED, outbox.DEAD, outbox.ACKED]
    assert "past the ledger's limit of +-2^53 points" in str(states[2][1])
    assert _hub_entries(hub) == {first, last}
    assert hub.storage.balance("bob") == 22 and hub.storage.balance("ada") == 2**63 - 5
    kinds = [e["kind"] for e in hub.storage.exceptions()]
    assert "ledger_refused" in kinds


def test_a_hand_edited_spend_past_bigint_is_recomputed_not_overflowed(hub: HubServer, tmp_path: Path) -> None:
    """A 12-month spend edited by hand to near BIGINT: before the programme's net spend, the next sale overflowed
    it (PostgreSQL refused the batch, SQLite stored a real number). The hub now recomputes the spend from the
    dated sales (``programme.net_spend``), so the sale and the honest events around it are all accepted and the
    spend is the sales' own total, on both engines."""
    from sqlalchemy import select

    from sync.hub.tables import customers

    codes = seed(hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 10), "bob": ("s1", 10)})
    _set_column(hub, "ada", spend_12m_cents=2**63 - 5)
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    first = _earn(edge, "bob", 5)
    edge.sale("ada", 1000)
    last = _earn(edge, "bob", 7)
    client = edge.client(hub.url)
    try:
        report = client.sync_once()
    finally:
        client.close()
    assert (report.batches, report.accepted, report.rejected) == (1, 3, 0)
    assert _hub_entries(hub) == {first, last}
    with hub.storage.read() as conn:
        spend = conn.execute(select(customers.c.spend_12m_cents).where(customers.c.id == "ada")).scalar()
    assert spend == 1000


def _poisoned(marker: bytes):  # type: ignore[no-untyped-def]
    def check(request: bytes) -> bool:
        head, _, body = request.partition(b"\r\n\r\n")
        if not head.startswith(b"POST /v1/events"):
            return False
        with contextlib.suppress(OSError):
            body = gzip.decompress(body)
        return marker in body
    return check


def _sync_rounds(edge: Edge, url: str, rounds: int) -> int:
    """``sync_once`` ``rounds`` times with one client (as the worker does); the number that failed."""
    client = edge.client(url, settings=FAST)
    failed = 0
    try:
        for _ in range(rounds):
            try:
                client.sync_once()
            except SyncError:
                failed += 1
    finally:
        client.close()
    return failed


def test_a_hub_failing_on_one_event_splits_the_batch_and_buries_only_it(sqlite_hub: HubServer,
                                                                        tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 10)})
    edge = make_edge(tmp_path, "t1", sqlite_hub.url, codes["t1"])
    good = [_earn(edge, "ada", i + 1) for i in range(5)]
    poison = _earn(edge, "ada", 3, reason="POISON")
    good += [_earn(edge, "ada", i + 1) for i in range(4)]
    with FaultProxy("127.0.0.1", sqlite_hub.port) as proxy:
        proxy.poison = _poisoned(b"POISON")
        failed = _sync_rounds(edge, proxy.url, LONE_FAILURE_STRIKES + 2)
    assert failed == LONE_FAILURE_STRIKES - 1  # the strikes before the event was buried
    assert _hub_entries(sqlite_hub) == set(good)
    st = outbox.stats(edge.db)
    assert (st.pending, st.in_flight, st.dead) == (0, 0, 1)
    assert st.dead_letters[0].seq == 6
    reason = st.dead_letters[0].reason
    assert f"the hub failed on this event alone {LONE_FAILURE_STRIKES} times" in reason
    assert "store-edge sync retry-dead" in reason
    assert poison not in {e["entry_id"] for e in sqlite_hub.storage.ledger_entries()}


def test_a_hub_failing_on_everything_buries_nothing(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 10)})
    edge = make_edge(tmp_path, "t1", sqlite_hub.url, codes["t1"])
    for i in range(4):
        _earn(edge, "ada", i + 1)
    with FaultProxy("127.0.0.1", sqlite_hub.port) as proxy:
        proxy.poison = _poisoned(b"")  # every push, the empty one too: the events are not the cause
        failed = _sync_rounds(edge, proxy.url, LONE_FAILURE_STRIKES + 3)
        assert failed == LONE_FAILURE_STRIKES + 3
        st = outbox.stats(edge.db)
        assert (st.pending, st.dead) == (4, 0)
        proxy.poison = None
        assert _sync_rounds(edge, proxy.url, 1) == 0
    assert outbox.stats(edge.db).acked == 4


def test_a_change_the_pull_skips_is_in_the_exceptions_report_once(hub: HubServer, tmp_path: Path) -> None:
    """Stored before the checks existed: a NaN in a profile's preferences and a spend past 2^53. Each pull
    serves the rest; the exceptions report names each skipped change once per store."""
    codes = seed(hub.storage, {"s1": ["t1", "t2"]}, {"ada": ("s1", 10), "bob": ("s1", 10), "cy": ("s1", 0)})
    _set_column(hub, "ada", preferences='{"language": "en", "shoe_size": NaN}')
    _set_column(hub, "bob", spend_12m_cents=2**60)
    hub.storage.upsert_customer({"id": "ada", "display_name": "Ada B"})
    hub.storage.upsert_customer({"id": "bob", "display_name": "Bob B"})
    for till in ("t1", "t2"):
        edge = make_edge(tmp_path, till, hub.url, codes[till])
        client = edge.client(hub.url)
        try:
            client.sync_once()
        finally:
            client.close()
        known = {r[0] for r in edge.db.execute("SELECT id FROM customers").fetchall()}
        assert "cy" in known and not known & {"ada", "bob"}
    skips = [e for e in hub.storage.exceptions() if e["kind"] == "pull_skip"]
    assert sorted(e["customer_id"] for e in skips) == ["ada", "bob"]
    assert all(e["store_id"] == "s1" and "correct it at the hub" in e["detail"] for e in skips)
    assert "beyond what a till keeps exactly" in next(e["detail"] for e in skips if e["customer_id"] == "bob")
