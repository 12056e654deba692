"""Drain a 3-day outage backlog to a local hub; compare with persist-queue's SQLiteAckQueue get+ack.

    .venv/bin/python bench/sync_drain.py [--events 100000] [--devices 50] [--json]

Part 1: N events (a busy store's sales and ledger entries) sit in a real store.db outbox; a real hub runs as a
separate process on 127.0.0.1 (SQLite); the sync client pushes them all. Baseline: the same payloads put into
persist-queue's SQLiteAckQueue, then get()+ack() of every one (the local work alone, no network).
Part 2: 50 devices push concurrently to one hub (SQLite, then PostgreSQL if reachable): events/s and the
p99 latency of a batch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from edge.db.connection import open_database  # noqa: E402
from edge.settings import HubSettings  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from sync.enroll import enroll  # noqa: E402
from sync.hub.server import bind_socket  # noqa: E402
from sync.hub.storage import HubStorage  # noqa: E402
from sync.ids import uuid7  # noqa: E402
from sync.outbox import utc_now_iso  # noqa: E402

PG_DSN = os.environ.get("STORE_EDGE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CUSTOMERS = [f"c{i:04d}" for i in range(200)]
PQ_SAMPLE = 3_000


def payloads(n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(event_id, type, payload JSON): two of three events are ledger earns, one a completed sale."""
    out = []
    for i in range(n):
        cid = rng.choice(CUSTOMERS)
        if i % 3 == 0:
            body: dict[str, Any] = {"id": uuid7(), "customer_id": cid, "total_cents": rng.randint(100, 9000),
                                    "created_at": utc_now_iso(),
                                    "lines": [{"gtin": "05901234123457", "name": "Coffee beans", "qty": 1,
                                               "unit_price_cents": 899}], "discounts": []}
            out.append((uuid7(), "sale.completed", json.dumps(body, separators=(",", ":"))))
        else:
            body = {"entry_id": uuid7(), "customer_id": cid, "points": rng.randint(1, 90), "sale_id": None,
                    "reason": "sale", "created_at": utc_now_iso()}
            out.append((uuid7(), "ledger.earn", json.dumps(body, separators=(",", ":"))))
    return out


def fill_outbox(db_path: Path, events: list[tuple[str, str, str]]) -> Any:
    db = open_database(db_path)
    now = utc_now_iso()
    with db.conn:
        db.conn.executemany(
            "INSERT INTO outbox (event_id, type, payload, device_time, state, updated_at) "
            "VALUES (?, ?, ?, ?, 'pending', ?)", [(e, t, p, now, now) for e, t, p in events])
    return db


def start_hub(target: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "hub", "serve", "--db", target, "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"the hub did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def free_port() -> int:
    s = bind_socket()
    port = int(s.getsockname()[1])
    s.close()
    return port


def seed_hub(storage: HubStorage, devices: list[str]) -> dict[str, str]:
    storage.create_store("s1")
    for cid in CUSTOMERS:
        storage.upsert_customer({"id": cid, "display_name": cid, "home_store_id": "s1"})
    return {d: storage.create_device("s1", d) for d in devices}


def drain(tmp: Path, n: int) -> tuple[float, int]:
    hub_db = tmp / "hub.db"
    storage = HubStorage.open(hub_db)
    codes = seed_hub(storage, ["till-1"])
    storage.close()
    port = free_port()
    hub = start_hub(str(hub_db), port)
    try:
        cred = enroll(f"http://127.0.0.1:{port}", codes["till-1"], tmp / "edge")
        db = fill_outbox(tmp / "edge" / "store.db", payloads(n, random.Random(1)))
        settings = HubSettings(batch_max_events=5_000, batch_max_bytes=16_000_000, timeout_s=60)
        client = SyncClient(db, cred, settings, initial_batch=5_000)
        started = time.perf_counter()
        report = client.push_all()
        seconds = time.perf_counter() - started
        client.close()
        assert report.accepted == n, report
        return seconds, report.accepted
    finally:
        hub.kill()
        hub.wait()


def persist_queue_baseline(tmp: Path, n: int) -> float:
    """get()+ack() per event as persist-queue is normally used (auto-commit). It manages a few hundred
    events/s, so the rate is measured over the first PQ_SAMPLE events of the same backlog."""
    from persistqueue import SQLiteAckQueue

    n = min(n, PQ_SAMPLE)
    q = SQLiteAckQueue(str(tmp / "pq"), multithreading=False)
    for e, t, p in payloads(n, random.Random(1)):
        q.put({"id": e, "type": t, "payload": p})
    started = time.perf_counter()
    for _ in range(n):
        item = q.get(block=False)
        q.ack(item)
    seconds = time.perf_counter() - started
    return n / seconds


def concurrent(tmp: Path, target: str, devices: int, per_device: int, storage: HubStorage) -> tuple[float, float]:
    names = [f"till-{i}" for i in range(devices)]
    codes = seed_hub(storage, names)
    port = free_port()
    hub = start_hub(target, port)
    latencies: list[float] = []
    lock = threading.Lock()
    try:
        clients = []
        for i, name in enumerate(names):
            cred = enroll(f"http://127.0.0.1:{port}", codes[name], tmp / name)
            db = fill_outbox(tmp / name / "store.db", payloads(per_device, random.Random(i)))
            clients.append(SyncClient(db, cred, HubSettings(batch_max_events=100, timeout_s=120), initial_batch=100))

        def run(c: SyncClient) -> None:
            while True:
                t0 = time.perf_counter()
                res = c.push_batch()
                if res is None:
                    return
                with lock:
                    latencies.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        for c in clients:
            c.close()
    finally:
        hub.kill()
        hub.wait()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return devices * per_device / seconds, p99


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--per-device", type=int, default=1_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result: dict[str, Any] = {"events": args.events}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        seconds, _ = drain(tmp / "drain", args.events)
        result.update(events_per_s=round(args.events / seconds), seconds=round(seconds, 3))
        print(f"drain: {args.events} events in {seconds:.2f} s = {args.events / seconds:,.0f} events/s "
              f"(goals: >= 20,000 events/s, < 10 s)")
        pq = persist_queue_baseline(tmp / "pq", args.events)
        result.update(persist_queue_events_per_s=round(pq), ratio=round(result["events_per_s"] / pq, 2))
        print(f"persist-queue SQLiteAckQueue get+ack: {pq:,.0f} events/s; ratio {result['ratio']}x (goal >= 10x)")
        storage = HubStorage.open(tmp / "conc" / "hub.db")
        eps, p99 = concurrent(tmp / "conc", str(tmp / "conc" / "hub.db"), args.devices, args.per_device, storage)
        storage.close()
        result.update(concurrent_events_per_s=round(eps), concurrent_p99_ms=round(p99, 1))
        print(f"{args.devices} devices -> SQLite hub: {eps:,.0f} events/s, p99 batch latency {p99:.0f} ms")
        try:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            pg = HubStorage.open(PG_DSN, schema_name=schema)
        except Exception as exc:
            print(f"PostgreSQL skipped ({exc})")
            result.update(concurrent_pg_events_per_s=None, concurrent_pg_p99_ms=None)
        else:
            try:
                sep = "&" if "?" in PG_DSN else "?"
                target = f"{PG_DSN}{sep}options=-csearch_path%3D{schema}"
                eps, p99 = concurrent(tmp / "conc-pg", target, args.devices, args.per_device, pg)
                result.update(concurrent_pg_events_per_s=round(eps), concurrent_pg_p99_ms=round(p99, 1))
                print(f"{args.devices} devices -> PostgreSQL hub: {eps:,.0f} events/s, p99 batch latency {p99:.0f} ms")
            finally:
                pg.engine.drop_schema()  # type: ignore[attr-defined]
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
