"""Several hub processes on one PostgreSQL: ``hub serve --workers N`` and two hubs sharing one database.

Real processes (``python -m edge.cli hub serve``), a real PostgreSQL schema of the test's own, real sync clients.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from edge.cli import main
from edge.core.contract import EventType
from edge.settings import HubSettings
from sync import outbox, protocol
from sync.hub.asgi import DB_ENV, check_workers, create_app
from sync.hub.server import bind_socket
from sync.hub.storage import HubStorage
from sync.ids import uuid7
from tests.support.hub import PG_DSN, Edge, busy_day, converge, hub_ledger_set, make_edge, seed, wait_until

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = {f"c{i}": ("s1", 1_000) for i in range(6)}


@pytest.fixture
def pg_target() -> Iterator[str]:
    """A DSN whose search_path is a fresh schema of this test's own (dropped afterwards)."""
    from tests.pg_cluster import test_dsn

    dsn = test_dsn()
    if dsn is None:
        if os.environ.get("STORE_EDGE_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL at {PG_DSN} is required but unreachable")
        pytest.skip(f"PostgreSQL at {PG_DSN} is unreachable")
    schema = f"hubworkers_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in dsn else "?"
    yield f"{dsn}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_storage(pg_target: str) -> Iterator[HubStorage]:
    storage = HubStorage.open(pg_target)
    yield storage
    storage.close()


def _free_port() -> int:
    sock = bind_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


class HubProcess:
    """``python -m edge.cli hub serve`` as a child process, up when /v1/health answers."""

    def __init__(self, target: str, workers: int = 1) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["hub", "serve", "--db", target, "--port", str(self.port), "--workers", str(workers)]
        self.proc = subprocess.Popen([sys.executable, "-m", "edge.cli", *args], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def up(self, timeout: float = 1.0) -> bool:
        try:
            return httpx.get(f"{self.url}/v1/health", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_up(self, timeout: float = 90.0) -> HubProcess:
        _wait_for(lambda: self.up() or self.proc.poll() is not None, timeout)
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise AssertionError(f"the hub exited ({self.proc.returncode}): {err[-2000:]}")
        return self

    def workers(self) -> list[int]:
        """The pids of the uvicorn worker processes (multiprocessing children running ``spawn_main``)."""
        pids = []
        for child in _children(self.proc.pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                pids.append(child)
        return pids

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                for pid in self.workers():
                    os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait(10)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(x) for x in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    wait_until(predicate, timeout)


WORKERS_SYNC = HubSettings(timeout_s=10, batch_max_events=50, backoff_cap_s=0.1)


def _busy_day(edge: Edge, sales: int, seed_: int) -> None:
    busy_day(edge, list(CUSTOMERS), sales, seed_, burn_share=0.2, max_burn=30)


def _converge(edge: Edge, url: str, deadline_s: float = 120.0) -> int:
    """sync_once until the outbox is empty; returns how many rounds failed (and were retried)."""
    return converge(edge, url, WORKERS_SYNC, deadline_s=deadline_s, pause_cap_s=0.1)


def _expected_balance(edges: list[Edge], cid: str) -> int:
    total = CUSTOMERS[cid][1]
    for e in edges:
        total += sum(p if kind == "earn" else -p for _, c, kind, p in e.ledger_set() if c == cid)
    return total


def _hub_events(storage: HubStorage) -> int:
    return storage.count("events")


# --------------------------------------------------------------------------------------------------- tests
def test_two_workers_serve_pushes_and_pulls_of_real_sync_clients(pg_storage: HubStorage, pg_target: str,
                                                                   tmp_path: Path) -> None:
    codes = seed(pg_storage, {"s1": ["t1", "t2"]}, CUSTOMERS)
    pg_storage.upsert_products([{"gtin": f"{i:014d}", "name": f"Product {i}", "price_cents": 100 + i,
                                 "vat_rate_bp": 900, "category": "grocery"} for i in range(300)])
    hub = HubProcess(pg_target, workers=2).wait_up()
    try:
        _wait_for(lambda: len(hub.workers()) == 2, 90)
        edges = [make_edge(tmp_path, name, hub.url, codes[name]) for name in ("t1", "t2")]
        for i, e in enumerate(edges):
            _busy_day(e, 120, seed_=i)
        threads = [threading.Thread(target=_converge, args=(e, hub.url)) for e in edges]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        for e in edges:
            _converge(e, hub.url)  # a final pull after both pushed: each till learns the other's points
        assert hub_ledger_set(pg_storage, "s1") == edges[0].ledger_set() | edges[1].ledger_set()
        assert _hub_events(pg_storage) == sum(e.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
                                              for e in edges)
        for cid in CUSTOMERS:
            assert pg_storage.balance(cid) == _expected_balance(edges, cid)
            for e in edges:
                assert e.confirmed_points(cid) == pg_storage.balance(cid)
                assert e.pending_points(cid) == 0
        for e in edges:
            assert e.db.execute("SELECT count(*) FROM products").fetchone()[0] == 300
            assert e.db.execute("SELECT price_cents FROM products WHERE gtin = ?", [f"{7:014d}"]).fetchone() == (107,)
        assert len(hub.workers()) == 2
    finally:
        hub.stop()
    assert hub.proc.returncode == 0
    assert hub.workers() == []


def _batch(device: str, store: str, seq0: int, n: int) -> list[dict[str, Any]]:
    """n events as a till sends them: sales and the ledger earns that go with them."""
    events = []
    now = outbox.utc_now_iso()
    for i in range(n // 2):
        sale_id = uuid7()
        cid = f"c{i % len(CUSTOMERS)}"
        events.append({"id": uuid7(), "device_id": device, "store_id": store, "seq": seq0 + 2 * i,
                       "type": EventType.SALE_COMPLETED, "device_time": now,
                       "payload": {"id": sale_id, "customer_id": cid, "total_cents": 1_000 + i, "created_at": now,
                                   "lines": [{"gtin": "05901234123457", "name": "Coffee", "qty": 1}],
                                   "discounts": []}})
        events.append({"id": uuid7(), "device_id": device, "store_id": store, "seq": seq0 + 2 * i + 1,
                       "type": EventType.LEDGER_EARN, "device_time": now,
                       "payload": {"entry_id": uuid7(), "customer_id": cid, "points": 10 + i % 7,
                                   "sale_id": sale_id, "reason": "sale", "created_at": now}})
    return events


def _post_until_answered(client: httpx.Client, url: str, token: str, body: bytes) -> dict[str, Any]:
    """POST the batch; a 503 'busy' (the protocol's retry-later) is sent again, any other failure fails."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               protocol.VERSION_HEADER: str(protocol.PROTOCOL_VERSION)}
    for _ in range(50):
        resp = client.post(f"{url}/v1/events", content=body, headers=headers)
        if resp.status_code == 503:
            time.sleep(0.05)
            continue
        assert resp.status_code == 200, resp.text
        answer: dict[str, Any] = resp.json()
        return answer
    raise AssertionError("the hub stayed busy")


def test_the_same_batch_sent_to_two_hub_processes_at_once_is_stored_once(pg_storage: HubStorage,
                                                                          pg_target: str) -> None:
    codes = seed(pg_storage, {"s1": ["t1"]}, CUSTOMERS)
    hubs = [HubProcess(pg_target), HubProcess(pg_target)]
    try:
        for h in hubs:
            h.wait_up()
        token = httpx.post(f"{hubs[0].url}/v1/enroll", json={"code": codes["t1"]}, timeout=10).json()["token"]
        rounds, per_batch = 12, 40
        sent: list[dict[str, Any]] = []
        verdicts: dict[str, list[str]] = {}
        with httpx.Client(timeout=30) as c0, httpx.Client(timeout=30) as c1:
            for r in range(rounds):
                events = _batch("t1", "s1", r * per_batch, per_batch)
                sent.extend(events)
                body = protocol.dumps_utf8({"protocol": protocol.PROTOCOL_VERSION, "events": events})
                assert body is not None
                barrier = threading.Barrier(2)
                answers: list[dict[str, Any] | BaseException] = [{}, {}]

                def send(i: int, client: httpx.Client, body: bytes = body, barrier: threading.Barrier = barrier,
                         answers: list[Any] = answers) -> None:
                    try:
                        barrier.wait(10)
                        answers[i] = _post_until_answered(client, hubs[i].url, token, body)
                    except BaseException as exc:  # reported below, in the test's thread
                        answers[i] = exc

                threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate((c0, c1))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                for a in answers:
                    if isinstance(a, BaseException):
                        raise a
                    for res in a["results"]:
                        verdicts.setdefault(res["id"], []).append(res["status"])
        # every event: one process accepted it, the other said duplicate; never both, never neither
        assert set(verdicts) == {e["id"] for e in sent}
        assert all(sorted(v) == ["accepted", "duplicate"] for v in verdicts.values()), verdicts
        assert _hub_events(pg_storage) == len(sent)
        entries = [e["payload"]["entry_id"] for e in sent if e["type"] == EventType.LEDGER_EARN]
        hub_entries = [e["entry_id"] for e in pg_storage.ledger_entries() if e["store_id"] == "s1"]
        assert sorted(hub_entries) == sorted(entries)  # each applied once
        for cid in CUSTOMERS:
            earned = sum(e["payload"]["points"] for e in sent
                         if e["type"] == EventType.LEDGER_EARN and e["payload"]["customer_id"] == cid)
            assert pg_storage.balance(cid) == CUSTOMERS[cid][1] + earned
    finally:
        for h in hubs:
            h.stop()


def test_kill_9_of_one_worker_mid_load_leaves_the_others_serving(pg_storage: HubStorage, pg_target: str,
                                                                 tmp_path: Path) -> None:
    tills = ["t1", "t2", "t3", "t4"]
    codes = seed(pg_storage, {"s1": tills}, CUSTOMERS)
    hub = HubProcess(pg_target, workers=2).wait_up()
    try:
        _wait_for(lambda: len(hub.workers()) == 2, 90)
        edges = [make_edge(tmp_path, name, hub.url, codes[name]) for name in tills]
        for i, e in enumerate(edges):
            _busy_day(e, 250, seed_=10 + i)
        errors: list[BaseException] = []

        def run(e: Edge) -> None:
            try:
                _converge(e, hub.url, deadline_s=240)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(e,)) for e in edges]
        for t in threads:
            t.start()
        _wait_for(lambda: _hub_events(pg_storage) > 0)
        victim = hub.workers()[0]
        os.kill(victim, signal.SIGKILL)
        # the surviving worker answers while the dead one is away (and after the supervisor replaces it); the
        # timeout is generous because the survivor is busy with the pushes (this is not a latency test)
        health = [hub.up(timeout=30) for _ in range(20)]
        assert all(health), health
        for t in threads:
            t.join(300)
        assert not errors, errors
        assert hub.proc.poll() is None
        assert victim not in hub.workers()
        for e in edges:
            _converge(e, hub.url)
        assert hub_ledger_set(pg_storage, "s1") == set().union(*(e.ledger_set() for e in edges))
        assert _hub_events(pg_storage) == sum(e.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
                                              for e in edges)
        for cid in CUSTOMERS:
            assert pg_storage.balance(cid) == _expected_balance(edges, cid)
            assert all(e.confirmed_points(cid) == pg_storage.balance(cid) for e in edges)
    finally:
        hub.stop()


def test_several_workers_on_a_sqlite_hub_are_refused_in_one_line(tmp_path: Path) -> None:
    err = io.StringIO()
    db = tmp_path / "hub.db"
    assert main(["hub", "serve", "--db", str(db), "--workers", "2"], stderr=err) == 1
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "PostgreSQL" in lines[0] and "one writer" in lines[0], lines
    assert not db.exists()  # refused before the database is opened (or created)
    err = io.StringIO()
    assert main(["hub", "serve", "--db", "postgresql://x@127.0.0.1/none", "--workers", "0"], stderr=err) == 1
    assert "--workers must be a whole number from 1 to" in err.getvalue()


def test_check_workers_and_the_factory_without_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_workers("postgresql://h/db", 4) is None
    assert check_workers("postgresql+psycopg://h/db", 4) is None
    assert check_workers("/var/lib/hub.db", 1) is None
    assert "SQLite" in (check_workers("/var/lib/hub.db", 2) or "")
    monkeypatch.delenv(DB_ENV, raising=False)
    with pytest.raises(RuntimeError, match=DB_ENV):
        create_app()


def test_the_workers_are_told_how_often_to_run_the_programme_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.hub.asgi import JOBS_ENV, _jobs_interval, worker_environment

    env = worker_environment("postgresql://h/db", None, 600.0)
    assert env[JOBS_ENV] == "600.0" and JOBS_ENV not in worker_environment("postgresql://h/db", None, 0)
    monkeypatch.setenv(JOBS_ENV, env[JOBS_ENV])
    assert _jobs_interval() == 600.0
    monkeypatch.setenv(JOBS_ENV, "hourly")
    with pytest.raises(RuntimeError, match="not a number of seconds"):
        _jobs_interval()
