"""Adaptive batches and Retry-After, seen from the hub's side of the wire; the CLI's progress bar on a terminal.

The batch sizes are read from the requests that really reach the hub (a proxy on 127.0.0.1 decodes them), not
from the client's own counters, so a client that says it adapts but sends something else fails here.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pty
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.settings import HubSettings
from sync import outbox
from sync.client import HubBusy, HubUnreachable, SyncClient
from sync.faultproxy import FaultProxy, Faults
from sync.hub.server import HubServer
from sync.ids import uuid7
from tests.support.gateway import Gateway
from tests.support.hub import Edge, make_edge, seed

ROOT = Path(__file__).resolve().parents[2]


def _backlog(edge: Edge, n: int, reason_chars: int = 4) -> None:
    """``n`` earn entries for customer ada, in one transaction (a day offline, quickly)."""
    now = outbox.utc_now_iso()
    with edge.db.conn:
        edge.db.execute("INSERT OR IGNORE INTO customers (id, display_name) VALUES ('ada', 'ada')")
        for _ in range(n):
            entry_id = uuid7()
            # random text does not compress, so a batch's size on the wire grows with its event count
            reason = secrets.token_hex(reason_chars // 2)
            edge.db.execute(
                "INSERT INTO ledger (entry_id, customer_id, kind, points, sale_id, reason, offline, created_at) "
                "VALUES (?, 'ada', 'earn', 1, NULL, ?, 1, ?)", [entry_id, reason, now])
            outbox.enqueue(edge.db, "ledger.earn", {"entry_id": entry_id, "customer_id": "ada", "points": 1,
                                                     "sale_id": None, "reason": reason, "created_at": now})


def _events_in(request: bytes) -> int | None:
    """How many events a raw HTTP request pushes; None for anything but ``POST /v1/events``."""
    head, _, body = request.partition(b"\r\n\r\n")
    if not head.startswith(b"POST /v1/events"):
        return None
    if b"content-encoding: gzip" in head.lower():
        body = gzip.decompress(body)
    return len(json.loads(body)["events"])


def _client(edge: Edge, url: str, initial: int, top: int, cap: float = 0.2, timeout_s: float = 5.0) -> SyncClient:
    return edge.client(hub_url=url, initial_batch=initial,
                       settings=HubSettings(batch_max_events=top, backoff_cap_s=cap, timeout_s=timeout_s))


@pytest.fixture
def ada_edge(sqlite_hub: HubServer, tmp_path: Path) -> Edge:
    codes = seed(sqlite_hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 0)})
    return make_edge(tmp_path, "t1", sqlite_hub.url, codes["t1"])


def test_a_long_backlog_grows_the_batch_and_errors_shrink_it(sqlite_hub: HubServer, ada_edge: Edge) -> None:
    sizes: list[int] = []

    async def record(request: bytes, _response: bytes) -> None:
        n = _events_in(request)
        if n is not None:
            sizes.append(n)

    _backlog(ada_edge, 1200)
    with FaultProxy("127.0.0.1", sqlite_hub.port) as proxy:
        proxy.on_forwarded = record
        client = _client(ada_edge, proxy.url, initial=8, top=256)
        client.sync_once()
        # the batch doubles after each quick answer (the next one is claimed while a batch is on the wire,
        # so a size shows up one batch late) up to the configured ceiling
        assert sizes[0] == 8 and max(sizes) == 256 and sum(sizes) == 1200
        assert sizes[: sizes.index(256) + 1] == sorted(sizes[: sizes.index(256) + 1])
        assert {16, 32, 64, 128} <= set(sizes)
        assert client.batch_size == 256

        _backlog(ada_edge, 1200)
        proxy.set_faults(Faults(http_503=1.0, retry_after="0"))  # the hub is overloaded
        with pytest.raises(HubBusy):
            client.sync_once()
        assert client.batch_size == 128
        proxy.set_faults(Faults())
        sizes.clear()
        client.sync_once()
        assert sizes[0] == 128  # the first batch after the 503 is the shrunk one, and it grows again
        assert max(sizes) == 256 and sum(sizes) == 1200
        assert outbox.stats(ada_edge.db).unsent == 0
    assert sqlite_hub.storage.balance("ada") == 2400


def test_a_timeout_halves_the_batch(sqlite_hub: HubServer, ada_edge: Edge) -> None:
    stalled = threading.Event()

    def stall_once(_events: int) -> tuple[int, dict[str, str]] | None:
        if stalled.is_set():
            return None
        stalled.set()
        time.sleep(1.5)  # longer than the client's 0.5 s timeout; the hub never sees this request
        return 503, {}

    _backlog(ada_edge, 200)
    with Gateway(sqlite_hub.url, answer=stall_once) as gw:
        client = _client(ada_edge, gw.url, initial=64, top=64, timeout_s=0.5)
        with pytest.raises(HubUnreachable, match="did not answer within 0.5 s"):
            client.sync_once()
        assert client.batch_size == 32
        client.sync_once()
        pushes = gw.pushes()
    assert [p.events for p in pushes[:2]] == [64, 32]
    assert outbox.stats(ada_edge.db).unsent == 0
    assert sqlite_hub.storage.balance("ada") == 200


def test_a_413_from_a_gateway_halves_the_batch_until_it_fits(sqlite_hub: HubServer, ada_edge: Edge) -> None:
    _backlog(ada_edge, 600, reason_chars=200)  # ~130 bytes per event on the wire
    with Gateway(sqlite_hub.url, max_body=12_000) as gw:  # fits ~90 events, not 128
        client = _client(ada_edge, gw.url, initial=256, top=256)
        refused = 0
        for _ in range(40):
            try:
                client.sync_once()
                break
            except HubBusy as exc:
                assert "too large" in str(exc)
                refused += 1
        pushes = gw.pushes()
    assert [(p.events, p.status) for p in pushes[:3]] == [(256, 413), (128, 413), (64, 200)]
    assert refused >= 2
    assert all(p.events <= 128 for p in pushes if p.status == 200 and p.events is not None)
    assert outbox.stats(ada_edge.db).unsent == 0
    assert sqlite_hub.storage.balance("ada") == 600


def test_retry_after_delays_the_next_attempt_at_least_that_long(sqlite_hub: HubServer, ada_edge: Edge) -> None:
    answered_busy = threading.Event()

    def busy_once(_events: int) -> tuple[int, dict[str, str]] | None:
        if answered_busy.is_set():
            return None
        answered_busy.set()
        return 503, {"Retry-After": "2"}

    _backlog(ada_edge, 5)
    with Gateway(sqlite_hub.url, answer=busy_once) as gw:
        # the back-off alone would wait at most min(cap, 0.5 s * 2) = 1 s after one failure: only the
        # Retry-After answer explains a gap of 2 s
        client = _client(ada_edge, gw.url, initial=10, top=10, cap=30.0)
        waits: list[float | None] = []
        client.add_listener(lambda st: waits.append(st.next_attempt_in_s))
        stop, wake = threading.Event(), threading.Event()
        runner = threading.Thread(target=client.run, args=(stop, wake), daemon=True)
        runner.start()
        try:
            deadline = time.monotonic() + 15
            while len(gw.pushes()) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            stop.set()
            wake.set()
            runner.join(10)
            client.close()
        first, second = gw.pushes()[:2]
    assert (first.status, second.status) == (503, 200)
    assert second.at - first.at >= 2.0
    assert 2.0 in waits  # and the status bar said when the next attempt comes
    assert sqlite_hub.storage.balance("ada") == 5


def _read_all(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return
        if not chunk:
            return
        into.extend(chunk)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int]]:
    master, slave = pty.openpty()
    yield master, slave
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_sync_once_shows_a_progress_bar_on_a_terminal_while_a_backlog_drains(
        sqlite_hub: HubServer, ada_edge: Edge, pty_pair: tuple[int, int]) -> None:
    _backlog(ada_edge, 3000)
    master, slave = pty_pair
    with FaultProxy("127.0.0.1", sqlite_hub.port, Faults(delay=1.0, delay_range_s=(0.05, 0.05))) as proxy:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_EDGE_")}
        env.update(TERM="xterm-256color", COLUMNS="100", STORE_EDGE_HUB__URL=proxy.url,
                   STORE_EDGE_HUB__BATCH_MAX_EVENTS="100")  # 30 batches of 50 ms each: about 1.5 s on screen
        proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "sync", "once", "--data-dir",
                                 str(ada_edge.data_dir)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        screen = bytearray()
        reader = threading.Thread(target=_read_all, args=(master, screen), daemon=True)
        reader.start()
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        reader.join(10)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert proc.returncode == 0, err.decode()
    shown = [int(n) for n in re.findall(r"(\d+)/3000", text)]
    assert "sending" in text
    assert any(0 < n < 3000 for n in shown), text[-2000:]  # the bar moved while the backlog drained
    assert shown == sorted(shown)
    assert "sent 3000 new, 0 already on the hub, 0 rejected" in text
    assert sqlite_hub.storage.balance("ada") == 3000
