"""Hub scale: 200 tills push to a hub on PostgreSQL served by 1, 2 and 4 worker processes; the pull fan-out.

    .venv/bin/python bench/hub_scale.py [--tills 200] [--rounds 5] [--batch-events 100] [--workers 1,2,4] [--quick] [--json]

Part 1, push: a fresh PostgreSQL schema seeded once through the hub's facade (100 stores, 20 members each);
for each worker count 200 new tills (two per store) get their own one-time codes from the facade and enrol over
HTTP (each its own credential); the rows of earlier runs stay, as on a hub in service, so the 4-worker run
meets the fullest tables. The hub runs as `store-edge hub serve --workers N` (processes on 127.0.0.1). Each till
then does `--rounds` sync rounds as the sync client does them: POST one gzipped batch of `--batch-events` events
shaped like the till's (edge/store/sales.py: sale.completed with its lines and discounts, ledger.earn and
ledger.burn; presence.visit and presence.anonymous_count as edge/store/presence_store.py sends them), then pull
its store's changes. All tills run at once. Figures: events/s (events pushed over the wall time of the whole
load, pulls included), p99 latency of a push batch, and the 4-vs-1 worker ratio. No till starts a round after
`--load-budget-s`, which bounds the run when the hub is slow (the rounds sent are what is counted).
Baseline, same run: the same rows (events, sales, ledger, presence visits and counts) COPYed straight into
tables of the same shape in PostgreSQL by one psycopg 3 client, one transaction per batch (the durability unit
of a push), no HTTP and no rules.
Part 2, SQLite: bench/sync_drain.py's measurement, 50 devices pushing to one SQLite hub.
Part 3, pull fan-out: 1,000 stores (one till each) are enrolled, one catalogue change of 10,000 products is
made through the facade; one store pulls it alone (time and bytes on the wire of one store's pull, pages of the
sync client's size), then the others pull it 16 at a time until `--pull-budget-s` is used up; the time for all
stores is projected from the rate of those that pulled when the budget ends first.
Goals (issue #11, this 2-core machine): >= 10,000 events/s with 200 tills, p99 batch < 1 s, >= 0.25x the raw
insert baseline, and the SQLite hub >= 5,500 events/s with 50 devices.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
import httpx  # noqa: E402
import psycopg  # noqa: E402
from _common import emit_json, percentile, print_table  # noqa: E402

from edge.core.contract import EventType  # noqa: E402
from sync import protocol  # noqa: E402
from sync.client import PULL_LIMIT  # noqa: E402
from sync.hub.server import bind_socket  # noqa: E402
from sync.hub.storage import HubStorage  # noqa: E402
from sync.ids import uuid7  # noqa: E402
from sync.outbox import utc_now_iso  # noqa: E402

PG_DSN = os.environ.get("STORE_EDGE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TILLS_PER_STORE = 2
MEMBERS_PER_STORE = 20
PULL_CONCURRENCY = 16
HEADERS = {protocol.VERSION_HEADER: str(protocol.PROTOCOL_VERSION)}
# a small assortment, as the till's catalogue rows are (gtin, name, category, price, VAT rate in basis points)
ASSORTMENT = [
    ("05901234123457", "Coffee beans 500 g", "coffee", 899, 900), ("04006381333931", "Notebook A5", "stationery", 349, 2100),
    ("08712345678906", "Oat milk 1 l", "dairy", 229, 900), ("05012345678900", "Dark chocolate 100 g", "sweets", 199, 900),
    ("04012345678901", "Sourdough loaf", "bakery", 449, 900), ("07612345678902", "Ballpoint pens x10", "stationery", 599, 2100),
    ("03012345678903", "Green tea 20 bags", "tea", 329, 900), ("05412345678904", "Olive oil 750 ml", "grocery", 1099, 900),
]  # fmt: skip


# ------------------------------------------------------------------------------------------------ events
@dataclass
class Till:
    """One simulated till: its credential, its batches (pre-built, gzipped as the sync client sends them)."""

    device_id: str
    store_id: str
    code: str = ""
    token: str = ""
    cursor: str | None = None
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    sent: int = 0  # batches sent (a time-bounded run may not send them all)


def _event(till: Till, seq: int, type_: EventType, payload: dict[str, Any], now: str) -> dict[str, Any]:
    return {"id": uuid7(), "device_id": till.device_id, "store_id": till.store_id, "seq": seq, "type": type_,
            "payload": payload, "device_time": now}


def _sale_events(rng: random.Random, till: Till, seq: int, customer: str | None, now: str) -> list[dict[str, Any]]:
    """One completed sale as edge/store/sales.py enqueues it: ledger burn/earn first, then sale.completed."""
    lines, subtotal, vat = [], 0, 0
    for n, (gtin, name, category, price, vat_bp) in enumerate(rng.sample(ASSORTMENT, rng.randint(1, 5)), start=1):
        qty = rng.choice((1, 1, 1, 2, 3))
        gross = price * qty
        subtotal += gross
        vat += gross * vat_bp // (10_000 + vat_bp)
        lines.append({"line_no": n, "gtin": gtin, "name": name, "category": category, "qty": qty,
                      "unit_price_cents": price, "gross_cents": gross, "discount_cents": 0, "vat_rate_bp": vat_bp})
    sale_id = uuid7()
    redeemed = 50 if customer and rng.random() < 0.05 else 0
    total = max(0, subtotal - redeemed)
    earned = total // 100 if customer else 0
    sale = {"id": sale_id, "customer_id": customer, "created_at": now, "subtotal_cents": subtotal,
            "discount_cents": 0, "points_redeemed": redeemed, "points_value_cents": redeemed, "total_cents": total,
            "vat_cents": vat, "payment_method": rng.choice(("card", "cash")), "tendered_cents": total,
            "points_earned": earned, "lines": lines, "discounts": []}
    out: list[dict[str, Any]] = []
    for kind, points in (("burn", redeemed), ("earn", earned)):
        if customer and points:
            out.append(_event(till, seq + len(out), EventType(f"ledger.{kind}"), {
                "entry_id": uuid7(), "customer_id": customer, "points": points, "sale_id": sale_id,
                "reason": f"{'redeemed' if kind == 'burn' else 'purchase'} at {till.store_id}", "created_at": now}, now))
    out.append(_event(till, seq + len(out), EventType.SALE_COMPLETED, sale, now))
    return out


def _presence_events(rng: random.Random, till: Till, seq: int, customer: str | None, now: str) -> list[dict[str, Any]]:
    out = []
    zone = rng.choice(("entrance", "coffee", "checkout"))
    if customer and rng.random() < 0.15:
        out.append(_event(till, seq, EventType.PRESENCE_VISIT, {
            "visit_id": uuid7(), "customer_id": customer, "store_id": till.store_id, "zone": zone,
            "entered_at": now, "exited_at": now, "dwell_s": round(rng.uniform(20, 900), 1), "source": "ble"}, now))
    if rng.random() < 0.2:
        out.append(_event(till, seq + len(out), EventType.PRESENCE_ANONYMOUS_COUNT, {
            "store_id": till.store_id, "bucket_start": now, "zone": zone, "devices": rng.randint(0, 40)}, now))
    return out


def build_batches(till: Till, rounds: int, batch_events: int, members: dict[str, list[str]], seed: int) -> None:
    """``rounds`` batches of about ``batch_events`` events; 70 % of sales carry a member (9 in 10 of them the
    store's own), so ledger entries, sales and presence events arrive in the proportions of a trading day."""
    rng = random.Random(seed)
    stores = sorted(members)
    seq = 1
    for _ in range(rounds):
        batch: list[dict[str, Any]] = []
        now = utc_now_iso()
        while len(batch) < batch_events:
            customer = None
            if rng.random() < 0.7:
                # a member of the next store shops here too (the hub made them relevant to this store)
                home = till.store_id if rng.random() < 0.9 else stores[(stores.index(till.store_id) - 1) % len(stores)]
                customer = rng.choice(members[home])
            for ev in _sale_events(rng, till, seq, customer, now) + _presence_events(rng, till, seq, customer, now):
                ev["seq"] = seq
                seq += 1
                batch.append(ev)
        till.batches.append(batch)
        body = json.dumps({"protocol": protocol.PROTOCOL_VERSION, "events": batch}, separators=(",", ":"))
        till.bodies.append(gzip.compress(body.encode(), 1))


# ------------------------------------------------------------------------------------------------ the hub
def pg_reachable(dsn: str) -> str | None:
    try:
        with psycopg.connect(dsn, connect_timeout=5):
            return None
    except psycopg.Error as exc:
        return " ".join(str(exc).split())


@contextmanager
def fresh_schema(dsn: str) -> Iterator[str]:
    """A DSN whose search_path is a new schema, dropped on the way out."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@dataclass
class Hub:
    url: str
    pid: int


@contextmanager
def hub_process(target: str, workers: int) -> Iterator[Hub]:
    """`store-edge hub serve --workers N` as a child process, once /v1/health answers and the workers idle."""
    sock = bind_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "hub", "serve", "--db", target, "--port", str(port),
                             "--workers", str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
                raise SystemExit(f"the hub did not start ({workers} workers): {err[-500:]}")
            try:
                if httpx.get(f"{url}/v1/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        wait_workers_settled(proc.pid, workers, deadline)
        yield Hub(url, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def worker_pids(parent: int) -> set[int]:
    """The uvicorn worker processes of ``hub serve`` (multiprocessing children running spawn_main); Linux /proc."""
    out = set()
    for task in Path(f"/proc/{parent}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            try:
                if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                    out.add(int(kid))
            except OSError:
                continue
    return out


def wait_workers_settled(parent: int, workers: int, deadline: float) -> None:
    """Until all ``workers`` processes have started and gone idle (their CPU time stops growing), so that the
    load does not start while some are still importing. A single process is the parent itself."""
    if workers <= 1 or not Path("/proc").is_dir():
        return
    last: int | None = None
    while time.monotonic() < deadline:
        ticks = [_cpu_ticks(k) for k in worker_pids(parent)]
        total = sum(t for t in ticks if t is not None)
        if len(ticks) >= workers and total == last:
            return
        last = total
        time.sleep(0.5)


def seed_members(target: str, tills: int) -> dict[str, list[str]]:
    """The stores (two tills each) and their members, through the hub's facade; {store: [member id, ...]}."""
    storage = HubStorage.open(target)
    try:
        members: dict[str, list[str]] = {}
        for i in range(max(1, tills // TILLS_PER_STORE)):
            store = f"s{i:03d}"
            storage.create_store(store, f"Store {store}")
            members[store] = [f"m-{store}-{k:02d}" for k in range(MEMBERS_PER_STORE)]
            for cid in members[store]:
                storage.upsert_customer({"id": cid, "display_name": f"Member {cid}", "home_store_id": store})
        stores = sorted(members)
        for i, store in enumerate(stores):  # each store's members also shop at the next store
            for cid in members[store]:
                storage.make_relevant(stores[(i + 1) % len(stores)], cid, "bench: shops in two stores")
        storage.ensure_signing_key()
        return members
    finally:
        storage.close()


def add_tills(target: str, count: int, stores: list[str], prefix: str) -> list[Till]:
    """``count`` new devices spread over ``stores``, each with its own one-time code (the facade's admin call)."""
    storage = HubStorage.open(target)
    try:
        out = []
        for i in range(count):
            till = Till(f"{prefix}-{i:03d}", stores[i % len(stores)])
            till.code = storage.create_device(till.store_id, till.device_id)
            out.append(till)
        return out
    finally:
        storage.close()


RETRIES = {"transport": 0, "busy": 0}  # requests sent again, as the sync client does, by cause


async def request(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    """One call as the sync client makes it: a 503 (busy) or a broken connection is tried again (counted in
    RETRIES); any other failure ends the bench."""
    for _ in range(50):
        try:
            resp = await client.request(method, url, **kw)
        except httpx.TransportError:
            RETRIES["transport"] += 1
            await asyncio.sleep(0.2)
            continue
        if resp.status_code == 503:
            RETRIES["busy"] += 1
            await asyncio.sleep(0.05)
            continue
        resp.raise_for_status()
        return resp
    raise SystemExit(f"{method} {url}: no answer after 50 attempts")


async def enrol_all(client: httpx.AsyncClient, url: str, tills: list[Till], concurrency: int = 32) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(till: Till) -> None:
        async with gate:
            resp = await request(client, "POST", f"{url}/v1/enroll", json={"code": till.code}, headers=HEADERS)
            till.token = resp.json()["token"]

    await asyncio.gather(*(one(t) for t in tills))


async def pull_all(client: httpx.AsyncClient, url: str, till: Till) -> tuple[int, int]:
    """Pull pages (the sync client's page size) until the hub has no more; returns (changes, bytes on the wire)."""
    changes = wire = 0
    headers = {**HEADERS, "Authorization": f"Bearer {till.token}"}
    while True:
        params = {"limit": str(PULL_LIMIT), **({"cursor": till.cursor} if till.cursor else {})}
        resp = await request(client, "GET", f"{url}/v1/changes", params=params, headers=headers)
        wire += resp.num_bytes_downloaded
        page = resp.json()
        changes += len(page["changes"])
        till.cursor = page["cursor"]
        if not page["has_more"]:
            return changes, wire


async def _push(client: httpx.AsyncClient, url: str, till: Till, body: bytes) -> int:
    """POST one batch; the events the hub settled (accepted, or duplicate when an earlier attempt's answer was
    lost on a broken connection)."""
    headers = {**HEADERS, "Authorization": f"Bearer {till.token}", "Content-Encoding": "gzip",
               "Content-Type": "application/json"}
    resp = await request(client, "POST", f"{url}/v1/events", content=body, headers=headers)
    return sum(1 for r in resp.json()["results"] if r["status"] in ("accepted", "duplicate"))


async def run_load(url: str, tills: list[Till], budget_s: float) -> tuple[float, int, list[float], list[float]]:
    """Every till at once: push a batch, pull; repeat until its batches are sent or ``budget_s`` has passed
    (``Till.sent`` counts the batches sent). (seconds, settled events, push latencies, pull latencies)."""
    limits = httpx.Limits(max_connections=len(tills) + 16, max_keepalive_connections=len(tills) + 16)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        await enrol_all(client, url, tills)
        gate = asyncio.Semaphore(32)

        async def first_pull(till: Till) -> None:
            async with gate:
                await pull_all(client, url, till)

        # each till's first sync (its store's members, the signing key) is set-up, not load
        await asyncio.gather(*(first_pull(t) for t in tills))
        push_lat: list[float] = []
        pull_lat: list[float] = []

        async def one(till: Till) -> int:
            settled = 0
            for body in till.bodies:
                if time.perf_counter() - started > budget_s:
                    break
                t0 = time.perf_counter()
                settled += await _push(client, url, till, body)
                t1 = time.perf_counter()
                await pull_all(client, url, till)
                push_lat.append(t1 - t0)
                pull_lat.append(time.perf_counter() - t1)
                till.sent += 1
            return settled

        started = time.perf_counter()
        settled = sum(await asyncio.gather(*(one(t) for t in tills)))
        return time.perf_counter() - started, settled, push_lat, pull_lat


def push_run(target: str, workers: int, args: argparse.Namespace,
             members: dict[str, list[str]]) -> tuple[dict[str, float], list[Till]]:
    t0 = time.perf_counter()
    tills = add_tills(target, args.tills, sorted(members), f"w{workers}-till")
    for i, till in enumerate(tills):
        build_batches(till, args.rounds, args.batch_events, members, seed=1000 * workers + i)
    t1 = time.perf_counter()
    retries = dict(RETRIES)
    with hub_process(target, workers) as hub:
        t2 = time.perf_counter()
        before = worker_pids(hub.pid)
        seconds, settled, push_lat, pull_lat = asyncio.run(run_load(hub.url, tills, args.load_budget_s))
        replaced = len(before - worker_pids(hub.pid))
    total = sum(len(b) for t in tills for b in t.batches[: t.sent])
    print(f"  (set-up: devices and batches {t1 - t0:.1f} s, hub start {t2 - t1:.1f} s, enrolment and load "
          f"{time.perf_counter() - t2:.1f} s; requests retried: {RETRIES['transport'] - retries['transport']} "
          f"broken connections, {RETRIES['busy'] - retries['busy']} busy; workers replaced: {replaced})",
          file=sys.stderr, flush=True)
    if settled != total:
        raise SystemExit(f"{workers} workers: the hub settled {settled} of {total} events")
    eps = total / seconds
    p99, pull_p99 = percentile(push_lat, 99) * 1000, percentile(pull_lat, 99) * 1000
    print(f"{len(tills)} tills -> PostgreSQL hub, {workers} worker(s): {total:,} events in {seconds:.1f} s = "
          f"{eps:,.0f} events/s; p99 push batch {p99:,.0f} ms, p99 pull {pull_p99:,.0f} ms", flush=True)
    return {"events_per_s": eps, "p99_ms": p99, "pull_p99_ms": pull_p99}, tills


# ------------------------------------------------------------------------------------------------ baseline
RAW_TABLES = """
CREATE TABLE events (event_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, store_id TEXT NOT NULL,
    seq BIGINT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL, device_time TEXT NOT NULL,
    received_at TEXT NOT NULL);
CREATE INDEX events_device ON events(device_id, seq);
CREATE TABLE sales (sale_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, device_id TEXT NOT NULL, customer_id TEXT,
    total_cents BIGINT NOT NULL, created_at TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX sales_customer ON sales(customer_id, created_at);
CREATE TABLE ledger (entry_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, kind TEXT NOT NULL,
    points BIGINT NOT NULL, sale_id TEXT, reason TEXT NOT NULL, store_id TEXT NOT NULL, device_id TEXT NOT NULL,
    event_id TEXT NOT NULL, created_at TEXT NOT NULL, applied_at TEXT NOT NULL, balance_after BIGINT NOT NULL);
CREATE INDEX ledger_customer_store ON ledger(customer_id, store_id);
CREATE TABLE presence_visits (visit_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, store_id TEXT NOT NULL,
    device_id TEXT NOT NULL, customer_id TEXT, zone TEXT NOT NULL, entered_at TEXT, exited_at TEXT,
    dwell_s DOUBLE PRECISION, source TEXT, received_at TEXT NOT NULL);
CREATE TABLE presence_anonymous_counts (event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL,
    device_id TEXT NOT NULL, bucket_start TEXT NOT NULL, zone TEXT NOT NULL, devices BIGINT NOT NULL,
    received_at TEXT NOT NULL);
"""


def raw_rows(batch: list[dict[str, Any]], received: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows a push of ``batch`` writes, by table (balances after each entry kept as the hub keeps them)."""
    rows: dict[str, list[tuple[Any, ...]]] = {"events": [], "sales": [], "ledger": [], "presence_visits": [],
                                              "presence_anonymous_counts": []}
    for ev in batch:
        p, dev, store = ev["payload"], ev["device_id"], ev["store_id"]
        text = json.dumps(p, separators=(",", ":"))
        rows["events"].append((ev["id"], dev, store, ev["seq"], ev["type"], text, ev["device_time"], received))
        if ev["type"] == EventType.SALE_COMPLETED:
            rows["sales"].append((p["id"], store, dev, p["customer_id"], p["total_cents"], p["created_at"], text))
        elif ev["type"] in (EventType.LEDGER_EARN, EventType.LEDGER_BURN):
            rows["ledger"].append((p["entry_id"], p["customer_id"], ev["type"].split(".")[1], p["points"],
                                   p["sale_id"], p["reason"], store, dev, ev["id"], p["created_at"], received, 0))
        elif ev["type"] == EventType.PRESENCE_VISIT:
            rows["presence_visits"].append((p["visit_id"], ev["id"], store, dev, p["customer_id"], p["zone"],
                                            p["entered_at"], p["exited_at"], p["dwell_s"], p["source"], received))
        elif ev["type"] == EventType.PRESENCE_ANONYMOUS_COUNT:
            rows["presence_anonymous_counts"].append((ev["id"], store, dev, p["bucket_start"], p["zone"],
                                                      p["devices"], received))
    return rows


def raw_insert(dsn: str, tills: list[Till]) -> float:
    """One psycopg 3 client COPYing the same rows, one transaction per batch, batches in arrival order."""
    received = utc_now_iso()
    rounds = max(t.sent for t in tills)
    batches = [raw_rows(t.batches[r], received) for r in range(rounds) for t in tills if r < t.sent]
    events = sum(len(b["events"]) for b in batches)
    with fresh_schema(dsn) as target, psycopg.connect(target) as conn:
        conn.execute(RAW_TABLES)
        conn.commit()
        started = time.perf_counter()
        for rows in batches:
            with conn.transaction(), conn.cursor() as cur:
                for table, table_rows in rows.items():
                    if table_rows:
                        with cur.copy(f"COPY {table} FROM STDIN") as copy:
                            for row in table_rows:
                                copy.write_row(row)
        seconds = time.perf_counter() - started
    print(f"raw COPY by one client, one transaction per batch: {events:,} events in {seconds:.2f} s = "
          f"{events / seconds:,.0f} events/s", flush=True)
    return events / seconds


# ------------------------------------------------------------------------------------------------ pull fan-out
def seed_pull(target: str, stores: int) -> list[Till]:
    storage = HubStorage.open(target)
    try:
        out = []
        for i in range(stores):
            till = Till(f"pos-{i:04d}", f"store-{i:04d}")
            storage.create_store(till.store_id)
            till.code = storage.create_device(till.store_id, till.device_id)
            out.append(till)
        storage.ensure_signing_key()
        return out
    finally:
        storage.close()


def catalogue_change(target: str, products: int) -> float:
    rng = random.Random(5)
    rows = [{"gtin": f"{2_000_000_000_000 + i:014d}", "name": f"Product {i} {rng.choice(ASSORTMENT)[1]}",
             "price_cents": rng.randint(49, 9_999), "vat_rate_bp": rng.choice((900, 2100)),
             "category": rng.choice(ASSORTMENT)[2]} for i in range(products)]
    storage = HubStorage.open(target)
    try:
        started = time.perf_counter()
        storage.upsert_products(rows)
        return time.perf_counter() - started
    finally:
        storage.close()


async def _timed_pull(client: httpx.AsyncClient, url: str, till: Till, products: int,
                      patience_s: float = 120.0) -> tuple[float, int]:
    """Seconds and wire bytes until the store has the whole change. A change feed may hold rows back while an
    older transaction is open (PostgreSQL snapshot horizons), so the store pulls again, as a till would, until
    it has them all; the wait is part of the time."""
    t0 = time.perf_counter()
    got = wire = 0
    while True:
        changes, page_bytes = await pull_all(client, url, till)
        got, wire = got + changes, wire + page_bytes
        if got >= products:
            return time.perf_counter() - t0, wire
        if time.perf_counter() - t0 > patience_s:
            raise SystemExit(f"store {till.store_id} had {got} of the {products} changed products after "
                             f"{patience_s:.0f} s of pulling")
        await asyncio.sleep(0.2)


async def fan_out(url: str, tills: list[Till], products: int,
                  budget_s: float) -> tuple[tuple[float, int], float, list[tuple[float, int]]]:
    """The first store pulls alone (its time and bytes), then the others PULL_CONCURRENCY at a time until all
    have or the budget is spent. ((solo s, solo bytes), fan-out seconds, [(s, bytes) per store that pulled])."""
    gate = asyncio.Semaphore(PULL_CONCURRENCY)
    done: list[tuple[float, int]] = []
    async with httpx.AsyncClient(timeout=600) as client:
        await enrol_all(client, url, tills)
        solo = await _timed_pull(client, url, tills[0], products)
        started = time.perf_counter()

        async def one(till: Till) -> None:
            async with gate:
                if time.perf_counter() - started <= budget_s:
                    done.append(await _timed_pull(client, url, till, products))

        await asyncio.gather(*(one(t) for t in tills[1:]))
        return solo, time.perf_counter() - started, done


def pull_run(dsn: str, args: argparse.Namespace, workers: int) -> dict[str, float]:
    with fresh_schema(dsn) as target:
        tills = seed_pull(target, args.pull_stores)
        with hub_process(target, workers) as hub:
            change_s = catalogue_change(target, args.products)
            solo, seconds, done = asyncio.run(fan_out(hub.url, tills, args.products, args.pull_budget_s))
    rest = len(tills) - 1
    projected = solo[0] + (seconds * rest / len(done) if done else 0.0)
    verb = "took" if len(done) == rest else f"projected from {len(done) + 1} stores that pulled:"
    print(f"catalogue change of {args.products:,} products: {change_s:.2f} s through the facade; one store's pull "
          f"alone {solo[0]:.2f} s, {solo[1] / 1e6:,.2f} MB on the wire; fan-out to {len(tills):,} stores "
          f"({workers} workers, {PULL_CONCURRENCY} at a time) {verb} {projected:,.0f} s", flush=True)
    return {"catalogue_change_s": change_s, "pull_store_s": solo[0], "pull_bytes_per_store": float(solo[1]),
            "pull_fanout_s": projected, "pull_stores_measured": len(done) + 1}


# ------------------------------------------------------------------------------------------------ main
def sqlite_run(devices: int, per_device: int) -> tuple[float, float]:
    """bench/sync_drain.py's concurrent measurement: ``devices`` sync clients pushing to one SQLite hub."""
    from sync_drain import concurrent

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        storage = HubStorage.open(tmp / "hub.db")
        try:
            eps, p99 = concurrent(tmp, str(tmp / "hub.db"), devices, per_device, storage)
        finally:
            storage.close()
    print(f"{devices} devices -> SQLite hub: {eps:,.0f} events/s, p99 batch {p99:,.0f} ms", flush=True)
    return eps, p99


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tills", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5, help="sync rounds (push a batch, pull) per till, at most")
    ap.add_argument("--load-budget-s", type=float, default=30.0,
                    help="no till starts a round after this many seconds of load (bounds the run)")
    ap.add_argument("--batch-events", type=int, default=100)
    ap.add_argument("--workers", default="1,2,4", help="hub worker counts to measure, comma-separated")
    ap.add_argument("--pull-stores", type=int, default=1_000)
    ap.add_argument("--products", type=int, default=10_000)
    ap.add_argument("--pull-budget-s", type=float, default=30.0)
    ap.add_argument("--sqlite-devices", type=int, default=50)
    ap.add_argument("--sqlite-per-device", type=int, default=1_000)
    ap.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (the figures mean little)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.tills, args.rounds, args.batch_events, args.workers = 12, 2, 30, "1,4"
        args.pull_stores, args.products, args.pull_budget_s, args.load_budget_s = 20, 600, 5.0, 10.0
        args.sqlite_devices, args.sqlite_per_device = 4, 100
    args.worker_counts = sorted({int(w) for w in args.workers.split(",")})
    return args


def main() -> int:
    args = parse_args()
    problem = pg_reachable(PG_DSN)
    if problem:
        print(f"error: PostgreSQL at {PG_DSN} is unreachable ({problem}); set STORE_EDGE_TEST_PG_DSN", file=sys.stderr)
        return 2
    runs: dict[int, dict[str, float]] = {}
    tills: list[Till] = []
    with fresh_schema(PG_DSN) as target:
        started = time.perf_counter()
        members = seed_members(target, args.tills)
        print(f"  (set-up: {len(members)} stores, {len(members) * MEMBERS_PER_STORE} members in "
              f"{time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
        for workers in args.worker_counts:
            runs[workers], tills = push_run(target, workers, args, members)
    raw = raw_insert(PG_DSN, tills)
    top, low = max(runs), min(runs)
    sqlite_eps, sqlite_p99 = sqlite_run(args.sqlite_devices, args.sqlite_per_device)
    pull = pull_run(PG_DSN, args, 1 if args.quick else top)  # a smoke run spares a second multi-process start
    result: dict[str, float | int] = {
        "tills": args.tills, "events_per_s": round(runs[top]["events_per_s"]), "p99_ms": round(runs[top]["p99_ms"], 1),
        "scale_4_vs_1": round(runs[top]["events_per_s"] / runs[low]["events_per_s"], 2),
        "raw_insert_per_s": round(raw), "ratio": round(runs[top]["events_per_s"] / raw, 3),
        "sqlite_events_per_s": round(sqlite_eps), "sqlite_p99_ms": round(sqlite_p99, 1),
        **{f"events_per_s_{w}w": round(r["events_per_s"]) for w, r in runs.items()},
        **{f"p99_ms_{w}w": round(r["p99_ms"], 1) for w, r in runs.items()},
        **{k: round(v, 3) for k, v in pull.items()},
    }  # fmt: skip
    print()
    print_table([
        (f"events/s, {args.tills} tills, {top} workers", f"{result['events_per_s']:,}", "goal >= 10,000"),
        ("p99 push batch (ms)", f"{result['p99_ms']:,}", "goal < 1,000"),
        (f"{top} workers vs {low}", f"{result['scale_4_vs_1']}x", ""),
        ("raw COPY baseline (events/s)", f"{result['raw_insert_per_s']:,}", ""),
        ("hub / raw", f"{result['ratio']}", "goal >= 0.25"),
        (f"SQLite hub, {args.sqlite_devices} devices (events/s)", f"{result['sqlite_events_per_s']:,}", "goal >= 5,500"),
        (f"pull of {args.products:,} products, one store alone (s)", f"{pull['pull_store_s']:.2f}", ""),
        ("bytes per store pull", f"{pull['pull_bytes_per_store']:,.0f}", ""),
        (f"fan-out to {args.pull_stores:,} stores (s)", f"{pull['pull_fanout_s']:,.0f}", ""),
    ])  # fmt: skip
    if args.json:
        emit_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
