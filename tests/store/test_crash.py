"""A crash at any point of SalesService.complete leaves the whole sale or none of it.

(a) an exception injected at every fault point of the service; (b) a real process completing sales in a loop,
killed with SIGKILL at random moments, then the file is checked for partial sales and orphan rows.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.core.basket import Basket
from edge.core.loyalty import LoyaltyRules
from edge.db import open_database
from edge.demo.seed import demo_gtin, seed_demo
from edge.store.repository import Repository
from edge.store.sales import SalesService

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
FAULT_POINTS = ["after_sale_row", "after_lines", "after_ledger_burn", "after_ledger_earn", "before_commit"]
TABLES = ["sales", "sale_lines", "sale_discounts", "ledger", "outbox", "feedback"]


class InjectedCrash(Exception):
    pass


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        result = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        result["coupons_used"] = conn.execute("SELECT count(*) FROM coupons WHERE redeemed_at IS NOT NULL").fetchone()[0]
    conn.close()
    return result


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_failure_at_any_fault_point_writes_nothing(point: str, tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    db = open_database(path)
    seed_demo(db, now=NOW)
    reached: list[str] = []

    def fault(at: str) -> None:
        reached.append(at)
        if at == point:
            raise InjectedCrash(at)

    service = SalesService(db, LoyaltyRules(), fault=fault)
    repo = Repository(db)
    customer = repo.customer("C1001")  # 1500 points: the sale burns and earns, so every point is reached
    assert customer is not None

    def basket() -> Basket:
        b = Basket(customer=customer.context, points_to_redeem=300, coupons={"SAVE3-C1001": "OFF-COUPON3"})
        for n in (1, 31, 125, 160):  # milk, bread, a snack, toilet paper
            p = repo.product(demo_gtin(n))
            assert p is not None
            b.add(p, 3)
        return b

    before = counts(path)
    with pytest.raises(InjectedCrash):
        service.complete(basket(), repo.offers_for("C1001"), payment_method="card", now=NOW)
    assert reached[-1] == point and reached == FAULT_POINTS[: FAULT_POINTS.index(point) + 1]
    assert not db.conn.in_transaction
    assert counts(path) == before
    assert repo.balance("C1001").available == 1500

    # the same connection carries on: the next sale (without the fault) is written whole
    reached.clear()
    point = "none"
    sale = service.complete(basket(), repo.offers_for("C1001"), payment_method="card", now=NOW)
    assert reached == FAULT_POINTS
    after = counts(path)
    assert after["sales"] == before["sales"] + 1
    assert after["ledger"] == before["ledger"] + 2
    assert after["outbox"] == before["outbox"] + 4  # coupon, burn, earn, sale
    assert after["coupons_used"] == before["coupons_used"] + 1
    assert sale.new_balance == 1500 - 300 + sale.points_earned
    db.conn.close()


def check_no_partial_sales(path: Path) -> int:
    """Every sale whole, nothing orphaned. Returns the number of sales."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        # every sale has lines that add up to it
        assert q("""SELECT s.id FROM sales s LEFT JOIN sale_lines l ON l.sale_id = s.id GROUP BY s.id
                    HAVING count(l.sale_id) = 0 OR sum(l.gross_cents) != s.subtotal_cents
                        OR sum(l.discount_cents) != s.discount_cents""") == []  # fmt: skip
        # its ledger entries match what it earned and burned
        assert q("""SELECT s.id FROM sales s WHERE
                    s.points_earned != (SELECT coalesce(sum(points), 0) FROM ledger WHERE sale_id = s.id AND kind = 'earn')
                    OR s.points_redeemed != (SELECT coalesce(sum(points), 0) FROM ledger WHERE sale_id = s.id AND kind = 'burn')
                    OR (SELECT count(*) FROM ledger WHERE sale_id = s.id) != (s.points_earned > 0) + (s.points_redeemed > 0)
                 """) == []  # fmt: skip
        # exactly one sale.completed event each
        assert q("""SELECT s.id FROM sales s WHERE (SELECT count(*) FROM outbox o WHERE o.type = 'sale.completed'
                    AND json_extract(o.payload, '$.id') = s.id) != 1""") == []  # fmt: skip
        # exactly one event per ledger entry
        assert q("""SELECT l.entry_id FROM ledger l WHERE (SELECT count(*) FROM outbox o WHERE o.type = 'ledger.' || l.kind
                    AND json_extract(o.payload, '$.entry_id') = l.entry_id) != 1""") == []  # fmt: skip
        # no orphans
        for table in ("sale_lines", "sale_discounts", "ledger"):
            assert q(f"SELECT sale_id FROM {table} WHERE sale_id IS NOT NULL AND sale_id NOT IN (SELECT id FROM sales)") == []
        assert q("""SELECT seq FROM outbox WHERE (type = 'sale.completed' AND json_extract(payload, '$.id') NOT IN
                    (SELECT id FROM sales)) OR (type LIKE 'ledger.%' AND json_extract(payload, '$.sale_id') NOT IN
                    (SELECT id FROM sales))""") == []  # fmt: skip
        assert q("""SELECT seq FROM outbox WHERE type LIKE 'ledger.%'
                    AND json_extract(payload, '$.entry_id') NOT IN (SELECT entry_id FROM ledger)""") == []  # fmt: skip
        return int(conn.execute("SELECT count(*) FROM sales").fetchone()[0])
    finally:
        conn.close()


def test_sigkill_at_random_moments_never_leaves_a_partial_sale(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    db = open_database(path)
    seed_demo(db)
    db.conn.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    rng = random.Random(20250314)
    total, kills = 0, 0
    deadline = time.monotonic() + 6  # wall-clock budget for the whole test
    for run in range(6):
        if run >= 3 and time.monotonic() > deadline:
            break  # a slow or busy machine: three kills still prove the point
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("sale_loop.py")), str(path), str(run)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            ready = proc.stdout.readline()
            assert ready == b"ready\n", proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(rng.uniform(0.01, 0.25))
            assert proc.poll() is None, "the sale loop stopped on its own"
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        now_total = check_no_partial_sales(path)
        assert now_total > total, "the loop committed no sale before it was killed"
        total = now_total
    assert kills >= 3
