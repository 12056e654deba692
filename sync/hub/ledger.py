"""The hub's points ledger and exceptions report: entries applied in bulk, balances kept as deltas.

Points are whole points (``earn`` adds, ``burn`` subtracts); an entry is applied once per ``entry_id`` whatever
event carries it. Every earn opens a *lot* (``point_lots``, lot id = entry id) dated when the hub applied it,
spendable after the programme's pending period and expiring after its expiry period; every burn takes the
oldest lots first (FIFO), and an expiry burn (source ``expiry:<lot>``) empties its own lot. A lot never holds
more than the balance: an earn that repays an overdraft opens a lot of what is left. A burn that takes a balance below
zero stands (the customer left with the goods) and is reported for a person to decide: an ``overdraft`` within the
offline allowance a till may give (the programme's ``offline_burn_cap_points`` per device, customer and day), a
``burn_over_allowance`` past it (no honest till could have allowed it). Functions take the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, case, func, select, update
from sqlalchemy.sql import bindparam

from edge.core.programme import ProgrammeRules, iso, parse_time
from sync.hub import programme
from sync.hub.common import chunks
from sync.hub.db import insert_many
from sync.hub.tables import customers, exceptions, ledger, point_lots, sales

MAX_BALANCE = 2**53  # a balance every JSON reader (the tills) keeps exactly; far inside the BIGINT column


class LedgerRefused(ValueError):
    """An entry the ledger cannot apply (it would take a balance past +-``MAX_BALANCE``); the message is a
    sentence for the device's dead letter and the exceptions report."""


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
        self.lots: dict[str, list[dict[str, Any]]] = {}  # customer -> open lots, oldest first (loaded on a burn)
        self.new_lots: list[dict[str, Any]] = []  # point_lots rows this batch opens
        self.dirty_lots: dict[str, dict[str, Any]] = {}  # lot id -> a lot a burn or expiry changed
        self.overdrafts: dict[tuple[str, str, str], int] = {}  # (device, customer, day) -> points overdrawn
        self._rules: ProgrammeRules | None = None
        self._dates: tuple[str, str, str | None] | None = None
        self.analytics: dict[Any, list[dict[str, Any]]] = {}  # table -> presence analytics rows (sync.hub.ingest)
        self.context: dict[str, Any] = {}  # what the batch's handlers read once per batch (programme rules)

    @cached_property
    def now(self) -> datetime:
        """``received`` as a datetime (the time lots are dated and spend windows end), parsed once."""
        return parse_time(self.received) or datetime.now(UTC)

    def use_rules(self, rules: ProgrammeRules) -> None:
        """The programme in force, read by the caller with the rest of the push's settings."""
        self._rules = rules

    def rules(self, conn: Connection) -> ProgrammeRules:
        """The programme in force, read once per batch."""
        if self._rules is None:
            self._rules = programme.get_rules(conn)
        return self._rules

    def _open_lots(self, conn: Connection, customer_id: str) -> list[dict[str, Any]]:
        if customer_id not in self.lots:
            self.lots[customer_id] = [*programme.open_lots(conn, customer_id),
                                      *(lot for lot in self.new_lots if lot["customer_id"] == customer_id)]
        return self.lots[customer_id]

    def _lot_dates(self, conn: Connection) -> tuple[str, str, str | None]:
        """(earned_at, available_at, expires_at) of every lot this batch opens: they share its ``received``
        time, so they are worked out once per batch (a push of thousands of earns)."""
        if self._dates is None:
            rules, now = self.rules(conn), self.now
            expires = rules.expires_at(now)
            self._dates = (iso(now), iso(rules.available_at(now)), iso(expires) if expires else None)
        return self._dates

    def _earn_lot(self, conn: Connection, entry: dict[str, Any], source: str, after: int) -> None:
        earned_at, available_at, expires_at = self._lot_dates(conn)
        lot = {"lot_id": entry["entry_id"], "customer_id": entry["customer_id"], "points": entry["points"],
               "remaining": min(entry["points"], max(after, 0)), "earned_at": earned_at,
               "available_at": available_at, "expires_at": expires_at,
               "expired_at": None, "source": source}  # exactly the table's columns: inserted as it is
        self.new_lots.append(lot)
        if entry["customer_id"] in self.lots:
            self.lots[entry["customer_id"]].append(lot)

    def _burn_lots(self, conn: Connection, customer_id: str, points: int, source: str) -> None:
        lots = self._open_lots(conn, customer_id)
        if source.startswith("expiry:"):  # the expiry job empties exactly the lot it names
            lots = [lot for lot in lots if lot["lot_id"] == source[len("expiry:"):]]
            for lot in lots:
                lot["expired_at"] = self.received
        left = points
        for lot in lots:
            take = min(left, lot["remaining"])
            if take > 0 or lot["expired_at"]:
                lot["remaining"] -= take
                self.dirty_lots[lot["lot_id"]] = lot
                left -= take

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
        ``device:<device_id>`` for an entry naming no sale). ``LedgerRefused`` (nothing changed) when the
        balance would leave +-``MAX_BALANCE``."""
        entry_id, customer_id, kind, points = entry["entry_id"], entry["customer_id"], entry["kind"], entry["points"]
        if entry_id in self.applied_entries:
            return  # the same entry in a different event: applied once
        before = self._balance(conn, customer_id)
        after = before + (points if kind == "earn" else -points)
        if not -MAX_BALANCE <= after <= MAX_BALANCE:
            raise LedgerRefused(f"{kind} of {points} points would take customer {customer_id}'s balance from "
                                f"{before} past the ledger's limit of +-2^53 points; the hub administrator must "
                                "correct the balance first")
        self.applied_entries.add(entry_id)
        self.balances[customer_id] = after
        self.touched.add(customer_id)
        sale_id = entry.get("sale_id")
        sale_id = sale_id if isinstance(sale_id, str) else None
        source = entry.get("source") or (f"sale:{sale_id}" if sale_id else f"device:{entry['device_id']}")
        self.ledger_rows.append({**entry, "sale_id": sale_id, "source": source,
                                 "applied_at": self.received, "balance_after": after})
        if kind == "earn":
            self._earn_lot(conn, entry, source, after)
        else:
            self._burn_lots(conn, customer_id, points, source)
        if kind == "burn" and after < 0:
            self._overdraft(conn, entry, before, after)

    def _overdraft(self, conn: Connection, entry: dict[str, Any], before: int, after: int) -> None:
        """A burn took the balance below zero. Within the offline allowance (the programme's
        ``offline_burn_cap_points`` per device, customer and day of the burn) the same points were spent in two
        places while a till could not reach the hub: an ``overdraft``. Past it no honest till could have let the
        customer spend them: ``burn_over_allowance``. Either way the sale stands (the customer left with the
        goods) and a person decides."""
        store_id, customer_id, points = entry["store_id"], entry["customer_id"], entry["points"]
        kind = "overdraft"
        detail = f"burn of {points} points in store {store_id} took customer {customer_id} from {before} to {after}"
        if not entry.get("source"):  # a till's burn; the hub's own (post_points: a source) have no allowance
            cap = self.rules(conn).offline_burn_cap_points
            key = (entry["device_id"], customer_id, self._burn_day(entry))
            used = self._overdrafts_today(conn, key) + min(points, -after)
            self.overdrafts[key] = used
            if used > cap:
                kind = "burn_over_allowance"
                detail += (f": device {entry['device_id']} let them spend {used} points beyond the balance on "
                           f"{key[2]}, past the offline allowance of {cap} points a till may give")
        self.exceptions.append({
            "kind": kind, "entry_id": entry["entry_id"], "customer_id": customer_id, "store_id": store_id,
            "device_id": entry["device_id"], "balance_before": before, "balance_after": after, "detail": detail,
            "detected_at": self.received})

    def _burn_day(self, entry: dict[str, Any]) -> str:
        """The UTC day the device says it made the burn (the till's allowance is per day); a date that cannot be
        read or lies in the future counts on the day the hub received it."""
        try:
            made = parse_time(str(entry.get("created_at")))
        except ValueError:
            made = None
        return (made if made is not None and made <= self.now else self.now).astimezone(UTC).date().isoformat()

    def _overdrafts_today(self, conn: Connection, key: tuple[str, str, str]) -> int:
        """Points ``device`` let ``customer`` spend beyond the balance on ``day`` (a ledger burn that ended below
        zero overdrew by the lesser of its points and its debt), as recorded before and earlier in this batch."""
        if key not in self.overdrafts:
            device_id, customer_id, day = key
            l_ = ledger.c
            part = case((-l_.balance_after < l_.points, -l_.balance_after), else_=l_.points)
            self.overdrafts[key] = int(conn.execute(select(func.coalesce(func.sum(part), 0)).where(
                l_.device_id == device_id, l_.customer_id == customer_id, l_.kind == "burn", l_.balance_after < 0,
                l_.created_at >= day, l_.created_at < f"{day}~")).scalar() or 0)
        return self.overdrafts[key]

    def report(self, kind: str, detail: str, **fields: Any) -> None:
        """One row for the exceptions report, written with the batch (``fields`` as ``add_exception``)."""
        row = dict.fromkeys(("entry_id", "customer_id", "store_id", "device_id", "balance_before", "balance_after"))
        self.exceptions.append({**row, **fields, "kind": kind, "detail": detail, "detected_at": self.received})

    def flush(self, conn: Connection) -> None:
        # DO NOTHING keeps the first of two events naming one sale
        insert_many(conn, sales, self.sales, on_conflict_do_nothing=True)
        insert_many(conn, ledger, self.ledger_rows)
        if self.exceptions:
            conn.execute(exceptions.insert(), self.exceptions)
        # a delta, not the absolute value: correct even if an admin adjusted the balance meanwhile
        deltas = [{"cid": c, "delta": self.balances[c] - self.balance_start[c], "at": self.received}
                  for c in sorted(self.balances) if self.balances[c] != self.balance_start[c]]
        if deltas:
            conn.execute(update(customers).where(customers.c.id == bindparam("cid"))
                         .values(balance=customers.c.balance + bindparam("delta"), updated_at=bindparam("at")),
                         deltas)
        self._flush_lots(conn)
        if self.spend:  # net spend from the dated rows, the tier upgraded at once (sync/hub/programme.py)
            programme.refresh_tiers(conn, sorted(self.spend), self.now, self.rules(conn))

    def _flush_lots(self, conn: Connection) -> None:
        insert_many(conn, point_lots, self.new_lots)  # a new lot a burn took from is inserted with what is left
        new = {lot["lot_id"] for lot in self.new_lots} if self.dirty_lots else set()
        dirty = [{"lid": lid, "rem": lot["remaining"], "exp": lot["expired_at"]}
                 for lid, lot in self.dirty_lots.items() if lid not in new]
        if dirty:
            conn.execute(update(point_lots).where(point_lots.c.lot_id == bindparam("lid"))
                         .values(remaining=bindparam("rem"), expired_at=bindparam("exp")), dirty)


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


def post_points_many(conn: Connection, entries: Sequence[dict[str, Any]], at: str) -> tuple[int, list[str]]:
    """``post_points`` for many entries in one go (bulk imports): each ``{customer_id, points, reason, source,
    entry_id}`` (optionally ``store_id``, ``device_id``, ``event_id``, ``sale_id``); zero points and entry ids
    already applied are skipped. One look-up of applied ids and balances per chunk, one ``Batch.flush``, so
    every rule of ``Batch.ledger`` applies. Returns (entries posted, the customer ids whose balance moved: the
    caller tells the stores)."""
    wanted = [e for e in entries if e["points"]]
    done = existing_entries(conn, [e["entry_id"] for e in wanted])
    batch = Batch(at)
    cids = sorted({e["customer_id"] for e in wanted if e["entry_id"] not in done})
    for chunk in chunks(cids):
        for cid, balance in conn.execute(select(customers.c.id, customers.c.balance).where(customers.c.id.in_(chunk))
                                         .order_by(customers.c.id).with_for_update()):
            batch.known_balances[cid] = int(balance or 0)
    for e in wanted:
        if e["entry_id"] in done:
            continue
        batch.ledger(conn, {"entry_id": e["entry_id"], "customer_id": e["customer_id"],
                            "kind": "earn" if e["points"] > 0 else "burn", "points": abs(e["points"]),
                            "sale_id": e.get("sale_id"), "reason": e["reason"], "source": e["source"],
                            "store_id": e.get("store_id", "hub"), "device_id": e.get("device_id", "hub"),
                            "event_id": e.get("event_id", "hub"), "created_at": at})
    batch.flush(conn)
    return len(batch.ledger_rows), sorted(batch.touched)
