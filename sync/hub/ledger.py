"""The hub's points ledger and exceptions report: entries applied in bulk, balances kept as deltas.

Points are whole points (``earn`` adds, ``burn`` subtracts); an entry is applied once per ``entry_id`` whatever
event carries it. A burn that takes a balance below zero stands (the customer left with the goods) and is
reported as an ``overdraft`` exception for a person to decide. Functions take the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.sql import bindparam

from sync.hub.tables import customers, exceptions, ledger, sales

CHUNK = 500  # keys per IN (...) list: SQLite limits bound parameters


def chunks(keys: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(keys), CHUNK):
        yield list(keys[i : i + CHUNK])


def existing_entries(conn: Connection, entry_ids: Sequence[str]) -> set[str]:
    """Which of these ledger entry ids are already applied."""
    found: set[str] = set()
    for chunk in chunks(entry_ids):
        found.update(r[0] for r in conn.execute(select(ledger.c.entry_id).where(ledger.c.entry_id.in_(chunk))))
    return found


def existing_sales(conn: Connection, sale_ids: Sequence[str]) -> set[str]:
    """Which of these sale ids the hub has already recorded."""
    found: set[str] = set()
    for chunk in chunks(sale_ids):
        found.update(r[0] for r in conn.execute(select(sales.c.sale_id).where(sales.c.sale_id.in_(chunk))))
    return found


def add_exception(conn: Connection, kind: str, detail: str, *, detected_at: str, **fields: Any) -> None:
    """One row of the exceptions report (``fields``: entry_id, customer_id, store_id, device_id,
    balance_before, balance_after)."""
    conn.execute(exceptions.insert().values(kind=kind, detail=detail, detected_at=detected_at, **fields))


class Batch:
    """What one push transaction accumulates before writing it in bulk (``flush``).

    ``known_balances`` are prefetched (and on PostgreSQL row-locked) for the batch's customers; other
    customers are read (and locked) on first use. Balances change in memory and are written as deltas."""

    def __init__(self, received: str) -> None:
        self.received = received
        self.events: list[dict[str, Any]] = []
        self.sales: list[dict[str, Any]] = []
        self.known_balances: dict[str, int] = {}
        self.ledger_rows: list[dict[str, Any]] = []
        self.exceptions: list[dict[str, Any]] = []
        self.balances: dict[str, int] = {}
        self.balance_start: dict[str, int] = {}
        self.spend: dict[str, int] = {}
        self.applied_entries: set[str] = set()
        self.sale_ids: set[str] = set()  # sales recorded before or earlier in this batch
        self.relevant: set[tuple[str, str]] = set()
        self.touched: set[str] = set()
        self.context: dict[str, Any] = {}  # what the batch's handlers read once per batch (programme rules)

    def _balance(self, conn: Connection, customer_id: str) -> int:
        if customer_id not in self.balances:
            value = self.known_balances.get(customer_id)
            if value is None:
                value = int(conn.execute(select(customers.c.balance).where(customers.c.id == customer_id)
                                         .with_for_update()).scalar() or 0)
            self.balances[customer_id] = self.balance_start[customer_id] = value
        return self.balances[customer_id]

    def ledger(self, conn: Connection, entry: dict[str, Any]) -> None:
        """Apply one entry: ``entry_id, customer_id, kind ('earn'|'burn'), points (> 0), sale_id, reason,
        store_id, device_id, event_id, created_at`` and optionally ``source`` (default ``sale:<sale_id>``, or
        ``device:<device_id>`` for an entry naming no sale)."""
        entry_id, customer_id, kind, points = entry["entry_id"], entry["customer_id"], entry["kind"], entry["points"]
        if entry_id in self.applied_entries:
            return  # the same entry in a different event: applied once
        self.applied_entries.add(entry_id)
        before = self._balance(conn, customer_id)
        after = before + (points if kind == "earn" else -points)
        self.balances[customer_id] = after
        self.touched.add(customer_id)
        sale_id = entry.get("sale_id")
        sale_id = sale_id if isinstance(sale_id, str) else None
        source = entry.get("source") or (f"sale:{sale_id}" if sale_id else f"device:{entry['device_id']}")
        self.ledger_rows.append({**entry, "sale_id": sale_id, "source": source,
                                 "applied_at": self.received, "balance_after": after})
        if kind == "burn" and after < 0:
            # the same points were spent in two places while offline: both sales stand, a person decides
            store_id = entry["store_id"]
            self.exceptions.append({
                "kind": "overdraft", "entry_id": entry_id, "customer_id": customer_id, "store_id": store_id,
                "device_id": entry["device_id"], "balance_before": before, "balance_after": after,
                "detail": f"burn of {points} points in store {store_id} took customer {customer_id} "
                          f"from {before} to {after}",
                "detected_at": self.received})

    def report(self, kind: str, detail: str, **fields: Any) -> None:
        """One row for the exceptions report, written with the batch (``fields`` as ``add_exception``)."""
        row = dict.fromkeys(("entry_id", "customer_id", "store_id", "device_id", "balance_before", "balance_after"))
        self.exceptions.append({**row, **fields, "kind": kind, "detail": detail, "detected_at": self.received})

    def flush(self, conn: Connection) -> None:
        from sync.hub.db import insert

        if self.sales:  # DO NOTHING keeps the first of two events naming one sale
            conn.execute(insert(conn, sales).on_conflict_do_nothing(), self.sales)
        if self.ledger_rows:
            conn.execute(ledger.insert(), self.ledger_rows)
        if self.exceptions:
            conn.execute(exceptions.insert(), self.exceptions)
        # a delta, not the absolute value: correct even if an admin adjusted the balance meanwhile
        deltas = [{"cid": c, "delta": self.balances[c] - self.balance_start[c], "at": self.received}
                  for c in sorted(self.balances) if self.balances[c] != self.balance_start[c]]
        if deltas:
            conn.execute(update(customers).where(customers.c.id == bindparam("cid"))
                         .values(balance=customers.c.balance + bindparam("delta"), updated_at=bindparam("at")),
                         deltas)
        spend = [{"cid": c, "delta": v} for c, v in sorted(self.spend.items()) if v]
        if spend:
            conn.execute(update(customers).where(customers.c.id == bindparam("cid"))
                         .values(spend_12m_cents=customers.c.spend_12m_cents + bindparam("delta")), spend)


def post_points(conn: Connection, *, customer_id: str, points: int, reason: str, source: str, entry_id: str,
                at: str, store_id: str = "hub", sale_id: str | None = None, device_id: str = "hub",
                event_id: str = "hub", batch: Batch | None = None) -> bool:
    """The one way the hub itself moves points (web orders and their returns, bonuses, reward claims,
    expiry, admin corrections): ``points`` > 0 earns, < 0 burns, 0 writes nothing.

    ``reason`` says why in words a member reads in their history ("web order", "return", "birthday bonus");
    ``source`` says what caused it (``SOURCE_*`` forms: ``order:<id>``, ``bonus:<kind>``, ``reward:<id>``,
    ``expiry:<lot>``, ``admin:<who>``); ``entry_id`` makes it idempotent: posting the same id again changes
    nothing and returns False. Goes through ``Batch.ledger``, so a burn below zero is reported as an
    overdraft like a till's. The caller owns the transaction and tells the stores (``customer_changed``).
    ``batch``: a push's open ``Batch`` (``sync.hub.ingest``) to post into, so that its in-memory balances and
    overdraft checks see this entry; the push flushes it. Without one the entry is written at once."""
    if points == 0 or (batch is not None and entry_id in batch.applied_entries) or existing_entries(conn, [entry_id]):
        return False
    own = batch is None
    batch = batch or Batch(at)
    batch.ledger(conn, {"entry_id": entry_id, "customer_id": customer_id, "kind": "earn" if points > 0 else "burn",
                        "points": abs(points), "sale_id": sale_id, "reason": reason, "source": source,
                        "store_id": store_id, "device_id": device_id, "event_id": event_id, "created_at": at})
    if own:
        batch.flush(conn)
    return True
