"""The client's behaviour against a real hub: status listeners, backoff, Retry-After, CLI commands."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest

from edge.cli import main
from edge.db.connection import open_database
from edge.settings import HubSettings
from sync import outbox
from sync.client import HubBusy, HubUnreachable, SyncClient, SyncStatus, SyncWorker, describe_status
from sync.faultproxy import FaultProxy, Faults
from sync.hub.server import HubServer
from tests.support.hub import FAST, make_edge, seed


def test_status_listeners_see_progress_and_errors(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "t1", sqlite_hub.url, codes["t1"])
    for _ in range(50):
        edge.ledger("earn", "ada", 1)
    seen: list[SyncStatus] = []
    client = edge.client(initial_batch=10, settings=HubSettings(batch_max_events=10))
    unsubscribe = client.add_listener(seen.append)
    client.sync_once()
    drains = [s for s in seen if s.draining]
    assert drains and drains[0].backlog == 50 and drains[0].sent == 10
    assert seen[-1].online is True and seen[-1].pending == 0 and seen[-1].last_success_at
    unsubscribe()
    offline = edge.client(hub_url="http://127.0.0.1:9")
    offline.add_listener(seen.append)
    edge.ledger("earn", "ada", 1)
    with pytest.raises(HubUnreachable):
        offline.sync_once()
    last = seen[-1]
    assert last.online is False and last.pending == 1
    assert last.last_error and "cannot be reached" in last.last_error
    assert "hub: offline" in describe_status(last)


def test_worker_syncs_in_the_background_and_wakes_on_trigger(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "t1", sqlite_hub.url, codes["t1"])
    done = threading.Event()
    # the worker thread gets its own connection, as in the till: edge.ledger() below writes on edge.db meanwhile,
    # and one sqlite3 connection shared by two threads interleaves their transactions
    client = SyncClient(lambda: open_database(edge.data_dir / "store.db"), edge.cred, HubSettings(sync_interval_s=30, backoff_cap_s=0.2))
    client.add_listener(lambda s: done.set() if s.pending == 0 and s.online and s.last_success_at else None)
    worker = SyncWorker(client).start()
    try:
        assert done.wait(10)
        done.clear()
        edge.ledger("earn", "ada", 7)
        worker.trigger()  # without the trigger the next round would be 30 s away
        assert done.wait(10)
        deadline = time.monotonic() + 5
        while sqlite_hub.storage.balance("ada") != 7 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sqlite_hub.storage.balance("ada") == 7
    finally:
        worker.stop()


def test_retry_after_is_honoured_and_batches_shrink(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "t1", sqlite_hub.url, codes["t1"])
    edge.ledger("earn", "ada", 1)
    with FaultProxy("127.0.0.1", sqlite_hub.port, Faults(http_503=1.0, retry_after="17")) as proxy:
        client = edge.client(hub_url=proxy.url, settings=HubSettings(backoff_cap_s=60, batch_max_events=64),
                             initial_batch=64)
        with pytest.raises(HubBusy) as info:
            client.sync_once()
        assert info.value.retry_after_s == 17
        assert client.next_delay(info.value) == 17
        assert client.batch_size == 32
        assert outbox.stats(edge.db).pending == 1


def test_cli_commands_in_process(sqlite_hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("STORE_EDGE_"):
            monkeypatch.delenv(key)
    hub_db = str(tmp_path / "hub.db")  # the fixture's hub file: admin commands act on it directly
    out = io.StringIO()
    assert main(["hub", "create-store", "s9", "--db", hub_db], stdout=out) == 0
    assert main(["hub", "create-device", "--store", "s9", "--device", "t9", "--db", hub_db], stdout=out) == 0
    code = out.getvalue().strip().rsplit(" ", 1)[-1]
    assert main(["hub", "create-customer", "--id", "zoe", "--name", "Zoe", "--home-store", "s9", "--points", "40",
                 "--db", hub_db], stdout=out) == 0
    csv = tmp_path / "catalog.csv"
    csv.write_text("gtin,name,price_cents,vat_rate_bp,category\n4006381333931,Notebook,349,2100,stationery\n")
    assert main(["hub", "import-catalog", str(csv), "--db", hub_db], stdout=out) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("gtin,name,price_cents,vat_rate_bp,category\nabc,X,1,0,y\n")
    err = io.StringIO()
    assert main(["hub", "import-catalog", str(bad), "--db", hub_db], stdout=out, stderr=err) == 1
    assert "line 2: gtin 'abc' is not a GTIN" in err.getvalue()
    data = tmp_path / "edge"
    assert main(["enroll", "--hub", sqlite_hub.url, "--code", code, "--data-dir", str(data)], stdout=out) == 0
    assert main(["sync", "once", "--data-dir", str(data)], stdout=out) == 0
    assert "received" in out.getvalue()
    status = io.StringIO()
    assert main(["sync", "status", "--data-dir", str(data)], stdout=status) == 0
    assert "pending events: 0" in status.getvalue() and "dead letters: 0" in status.getvalue()
    assert main(["sync", "retry-dead", "--data-dir", str(data)], stdout=out) == 0
    assert main(["hub", "revoke-device", "t9", "--db", hub_db], stdout=out) == 0
    err = io.StringIO()
    assert main(["sync", "once", "--data-dir", str(data)], stdout=out, stderr=err) == 1
    assert "this device was revoked on the hub; re-enrol" in err.getvalue()
    status = io.StringIO()
    main(["sync", "status", "--data-dir", str(data)], stdout=status)
    assert "last error: this device was revoked on the hub; re-enrol" in status.getvalue()
    err = io.StringIO()
    assert main(["sync", "once", "--data-dir", str(tmp_path / "nobody")], stdout=out, stderr=err) == 1
    assert "not enrolled" in err.getvalue()
    assert FAST.backoff_cap_s < 1
