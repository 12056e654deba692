"""Chaos: a fault-injecting proxy, kill -9 of the edge, and a hub killed mid-batch. The ledgers must agree.

Each runs against a SQLite hub file and a PostgreSQL hub (a fresh schema per test), as production may use either."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from edge.settings import HubSettings
from sync import outbox
from sync.client import SyncError
from sync.faultproxy import FaultProxy, Faults
from sync.hub.server import HubServer, bind_socket
from sync.hub.storage import HubStorage
from tests.support.hub import Edge, busy_day, converge, hub_ledger_set, make_edge, seed, wait_until

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = {f"c{i}": ("s1", 500) for i in range(5)}


CHAOS_SYNC = HubSettings(timeout_s=2, batch_max_events=64, backoff_cap_s=0.05)


def _busy_day(edge: Edge, n: int, seed_: int = 3) -> None:
    busy_day(edge, list(CUSTOMERS), n, seed_, burn_share=0.3, max_burn=100)


def _converge(edge: Edge, url: str, rounds: int = 400) -> int:
    return converge(edge, url, CHAOS_SYNC, rounds=rounds, pause_cap_s=0.05)


def _assert_ledgers_agree(storage: HubStorage, edge: Edge, hub_url: str) -> None:
    _converge(edge, hub_url)  # a clean final pull straight from the hub
    assert hub_ledger_set(storage, "s1") == edge.ledger_set()
    for cid in CUSTOMERS:
        assert edge.confirmed_points(cid) == storage.balance(cid)
        assert edge.pending_points(cid) == 0
    with storage.read() as conn:
        hub_events = conn.execute(text("SELECT count(*) FROM events WHERE store_id = 's1'")).scalar()
    assert hub_events == edge.db.execute("SELECT count(*) FROM outbox").fetchone()[0]


def test_chaos_run_leaves_hub_ledger_equal_to_edge_ledger(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["t1"]}, CUSTOMERS)
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    _busy_day(edge, 150)
    faults = Faults(drop_request=0.08, drop_response=0.12, delay=0.1, http_500=0.05, http_503=0.05,
                    error_after_forward=0.08, garbage=0.08, duplicate=0.1, delay_range_s=(0.0, 0.05), seed=11)
    with FaultProxy("127.0.0.1", hub.port, faults) as proxy:
        failures = _converge(edge, proxy.url)
    assert failures > 0
    assert sum(n for kind, n in proxy.counts.items() if kind != "pass") >= 5
    _assert_ledgers_agree(hub.storage, edge, hub.url)


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate: Any, timeout: float = 15.0) -> None:
    wait_until(predicate, timeout)


def test_kill_9_of_the_edge_during_sync_converges(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"]}, CUSTOMERS)
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    _busy_day(edge, 150)
    total = edge.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    with FaultProxy("127.0.0.1", hub.port, Faults(delay=1.0, delay_range_s=(0.1, 0.1))) as proxy:
        proc = _spawn(["sync", "run", "--data-dir", str(edge.data_dir)],
                      {"STORE_EDGE_HUB__URL": proxy.url, "STORE_EDGE_HUB__BATCH_MAX_EVENTS": "20"})
        try:
            _wait_for(lambda: st.count("events") >= 40)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < st.count("events") < total
    _assert_ledgers_agree(st, edge, hub.url)


def _hub_db_target(storage: HubStorage, tmp_path: Path) -> str:
    """What ``hub serve --db`` is given to open the very database ``storage`` holds: the SQLite file, or the
    PostgreSQL DSN with the test's private schema first on the search_path (libpq options, as in production
    when a hub shares a database with other schemas)."""
    db = storage.db
    if db.dialect != "postgresql":
        return str(tmp_path / "hub.db")
    assert db.schema and db.dsn
    sep = "&" if "?" in db.dsn else "?"
    return f"{db.dsn}{sep}options=-csearch_path%3D{db.schema}"


def test_hub_killed_mid_batch_and_restarted_converges(hub_storage: HubStorage, tmp_path: Path) -> None:
    storage = hub_storage
    codes = seed(storage, {"s1": ["t1"]}, CUSTOMERS)
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    args = ["hub", "serve", "--db", _hub_db_target(storage, tmp_path), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/v1/health", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    hub = _spawn(args)
    try:
        _wait_for(up)
        edge = make_edge(tmp_path, "t1", url, codes["t1"])
        _busy_day(edge, 400)
        # every batch waits 0.3 s in a proxy on its way to the hub, so the drain cannot finish before the kill
        # (which a fast machine otherwise manages) and a batch is surely on the wire when the hub dies
        slow = FaultProxy("127.0.0.1", port, Faults(delay=1.0, delay_range_s=(0.3, 0.3))).start()
        client = edge.client(hub_url=slow.url, initial_batch=200,
                             settings=HubSettings(timeout_s=2, batch_max_events=200, backoff_cap_s=0.05))
        client.push_batch()
        errors: list[Exception] = []

        def push() -> None:
            try:
                client.push_all()
            except SyncError as exc:
                errors.append(exc)

        t = threading.Thread(target=push)
        try:
            on_wire = slow.counts["delay"]
            t.start()
            _wait_for(lambda: slow.counts["delay"] > on_wire)
            hub.send_signal(signal.SIGKILL)
            hub.wait(10)
            t.join(10)
        finally:
            slow.stop()
            client.close()
        assert errors, "the push should have failed when the hub died"
        assert outbox.stats(edge.db).in_flight == 0  # released for a resend
        hub = _spawn(args)
        _wait_for(up)
        _converge(edge, url)
        _assert_ledgers_agree(storage, edge, url)
    finally:
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
