"""Durable completed sales per second through the core, against raw SQLite single-row commits (same run).

Sales: SalesService.complete on a seeded demo database, a basket of three products, a loyalty customer for nine
sales in ten (some redeeming points), each sale one durable transaction. Baseline: one INSERT of a ~300-byte
JSON row per commit. Both files use the pragmas the till uses: WAL and synchronous=FULL.
Goals: ratio (sales/s over raw commits/s) >= 0.5; p99 latency of a completed sale < 10 ms.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import emit_json, percentile, print_table  # noqa: E402

from edge.core.basket import Basket  # noqa: E402
from edge.core.catalog import Product  # noqa: E402
from edge.core.loyalty import LoyaltyRules  # noqa: E402
from edge.core.offers import CustomerContext, Offer  # noqa: E402
from edge.db import open_database  # noqa: E402
from edge.demo.seed import demo_gtin, seed_demo  # noqa: E402
from edge.store.repository import Repository  # noqa: E402
from edge.store.sales import SaleError, SalesService  # noqa: E402

WARMUP = 50


def prepare_sales(db_path: Path, count: int, seed: int) -> tuple[SalesService, list[tuple[Basket, list[Offer]]]]:
    db = open_database(db_path)
    seed_demo(db, seed=7)
    repo = Repository(db)
    products: list[Product] = [p for p in (repo.product(demo_gtin(n)) for n in range(1, 211)) if p]
    contexts: dict[str, CustomerContext] = {}
    offers: dict[str | None, list[Offer]] = {None: repo.offers_for(None)}
    for i in range(1, 55):
        customer = repo.customer(f"C{1000 + i}")
        assert customer is not None
        contexts[customer.id] = customer.context
        offers[customer.id] = repo.offers_for(customer.id)
    rng = random.Random(seed)
    # the baskets are built up front: the bench times the sale, not the cashier's scanning
    work = []
    for _ in range(count):
        customer_id = rng.choice(list(contexts)) if rng.random() < 0.9 else None
        basket = Basket(customer=contexts[customer_id] if customer_id else None)
        for product in rng.sample(products, 3):
            basket.add(product, rng.choice([1, 1, 1, 2]))
        if customer_id and rng.random() < 0.1:
            basket.points_to_redeem = 100
        work.append((basket, offers[customer_id]))
    return SalesService(db, LoyaltyRules()), work


def run_sales(service: SalesService, work: list[tuple[Basket, list[Offer]]]) -> tuple[float, list[float], list[float], int]:
    """(seconds, per-sale latency ms, commit-only latency ms, refused)."""
    commit_started = [0.0]

    def mark(point: str) -> None:
        if point == "before_commit":
            commit_started[0] = time.perf_counter()

    service._fault = mark  # the fault hook doubles as a probe: from "before_commit" to return is the COMMIT
    now = datetime.now(UTC)
    latencies, commits, refused = [], [], 0
    start = time.perf_counter()
    for basket, offers in work:
        t0 = time.perf_counter()
        try:
            service.complete(basket, offers, payment_method="card", now=now)
        except SaleError:
            refused += 1  # a redemption over the customer's balance: nothing written
            continue
        t1 = time.perf_counter()
        latencies.append((t1 - t0) * 1000)
        commits.append((t1 - commit_started[0]) * 1000)
    return time.perf_counter() - start, latencies, commits, refused


def run_raw(db_path: Path, count: int) -> tuple[float, list[float]]:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    body = json.dumps({"type": "sale.completed", "id": "01900000-0000-7000-8000-000000000000",
                       "customer_id": "C1001", "total_cents": 1234, "lines": [{"gtin": "08710000000017", "qty": 1,
                       "price_cents": 129, "discount_cents": 0}] * 2, "created_at": "2025-03-14T12:00:00.000Z",
                       "payment_method": "card", "store": "demo-store"})  # fmt: skip
    for _ in range(WARMUP):
        conn.execute("INSERT INTO events (body) VALUES (?)", (body,))
    latencies = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO events (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=2_000, help="completed sales (and raw commits) to time")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last line")
    parser.add_argument("--profile", action="store_true", help="print where SalesService.complete spends time")
    parser.add_argument("--dir", type=Path, help="put the database files here (default: a fresh temp dir)")
    args = parser.parse_args()
    if args.sales < 1:
        parser.error("--sales must be at least 1")

    with tempfile.TemporaryDirectory(prefix="bench-sale-commit-", dir=args.dir) as tmp:
        service, work = prepare_sales(Path(tmp) / "store.db", args.sales + WARMUP, seed=1)
        raw_s, raw_lat = run_raw(Path(tmp) / "raw.db", args.sales)
        run_sales(service, work[:WARMUP])
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
        sales_s, sale_lat, commit_lat, refused = run_sales(service, work[WARMUP:])
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        service.db.conn.close()

    sales_per_s = len(sale_lat) / sales_s
    raw_per_s = args.sales / raw_s
    figures = {
        "sales": len(sale_lat),
        "refused_sales": refused,
        "sales_per_s": round(sales_per_s, 1),
        "raw_commits_per_s": round(raw_per_s, 1),
        "ratio": round(sales_per_s / raw_per_s, 3),
        "p99_ms": round(percentile(sale_lat, 99), 3),
        "p50_ms": round(percentile(sale_lat, 50), 3),
        "p99_commit_only_ms": round(percentile(commit_lat, 99), 3),
        "raw_p99_ms": round(percentile(raw_lat, 99), 3),
    }
    print(f"sale_commit: {len(sale_lat)} completed sales vs {args.sales} raw single-row commits "
          "(WAL, synchronous=FULL)")  # fmt: skip
    print_table([
        ("completed sales per second", f"{sales_per_s:,.1f}", ""),
        ("raw SQLite commits per second", f"{raw_per_s:,.1f}", "(baseline, same run)"),
        ("ratio sales / raw commits", f"{figures['ratio']:.3f}", "goal >= 0.5"),
        ("sale latency p99 (ms)", f"{figures['p99_ms']:.3f}", "goal < 10"),
        ("sale latency p50 (ms)", f"{figures['p50_ms']:.3f}", ""),
        ("  of which COMMIT, p99 (ms)", f"{figures['p99_commit_only_ms']:.3f}", ""),
        ("raw commit latency p99 (ms)", f"{figures['raw_p99_ms']:.3f}", ""),
    ])  # fmt: skip
    if refused:
        print(f"  ({refused} sales refused by the redemption check; not counted)")
    if args.json:
        emit_json(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
