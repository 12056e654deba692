"""The sync client's pacing and housekeeping: a permanent refusal waits the full back-off cap, and the outbox
is compacted from the first round on (a fresh boot, and ``sync once``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import sync.client
from edge.db.connection import open_database
from sync import outbox
from sync.client import HubRefused, HubUnreachable, SyncClient
from sync.credentials import Credential
from sync.hub.server import HubServer
from tests.support.cli import run_cli
from tests.support.hub import FAST, make_edge, seed

pytestmark = pytest.mark.usefixtures("no_store_edge_env")


def _offline_client(tmp_path: Path) -> SyncClient:
    cred = Credential("http://127.0.0.1:1", "till-1", "s1", "dt_x", "2026-01-01T00:00:00Z")
    return SyncClient(open_database(tmp_path / "store.db"), cred, FAST)


def test_a_permanent_refusal_waits_the_full_cap(tmp_path: Path) -> None:
    client = _offline_client(tmp_path)
    try:
        assert client.next_delay(HubRefused("this device was revoked on the hub; re-enrol")) == FAST.backoff_cap_s
        # transient failures keep the jittered delay, never above the cap
        assert 0 <= client.next_delay(HubUnreachable("down")) <= FAST.backoff_cap_s
    finally:
        client.close()


def _old_acked_rows(db: Any, n: int) -> None:
    with db.conn:
        for i in range(n):
            outbox.enqueue(db, "test.old", {"i": i})
        db.execute("UPDATE outbox SET state = 'acked', acked_at = '2000-01-01T00:00:00.000Z'")


class _FreshBoot:
    """The ``time`` module as seen on a till that booted seconds ago (monotonic() starts near zero)."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def monotonic(self) -> float:
        return time.monotonic() - self._start + 5.0

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def test_the_first_round_compacts_the_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.client, "time", _FreshBoot())
    client = _offline_client(tmp_path)
    _old_acked_rows(client.db, 3)
    stop, wake = threading.Event(), threading.Event()

    def after_first_round(status: Any) -> None:
        if status.next_attempt_in_s is not None:
            stop.set()
            wake.set()

    client.add_listener(after_first_round)
    try:
        client.run(stop, wake)  # the hub is unreachable: one failed round, then the wait is cut short
    finally:
        client.close()
    assert client.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_sync_once_compacts_the_outbox(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["till-1"]}, {})
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    _old_acked_rows(edge.db, 4)
    code, out, _ = run_cli(["sync", "once", "--data-dir", str(edge.data_dir)])
    assert code == 0 and "received" in out
    assert edge.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
