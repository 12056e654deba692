"""End-of-day reconciliation of a finished simulation run directory: edges against the hub.

``reconcile(run_dir)`` reads every device's ``store.db`` and the hub's ``hub.db`` (read-only) plus the
run's ``run.json`` and webhook log, and returns a :class:`Report` whose table has one row per kind of
record: what / at edges / at hub / missing / duplicated / verdict. ``missing`` counts records an edge holds
that the hub lacks (or differ); ``duplicated`` counts records the hub received as two different events
(which would count twice). Any mismatch makes ``status`` non-zero.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.core.contract import EventType

OK, MISMATCH, INFO = "ok", "MISMATCH", "info"


@dataclass
class Row:
    what: str
    edges: int
    hub: int
    missing: int = 0
    duplicated: int = 0
    verdict: str = OK
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        return 1 if any(r.verdict == MISMATCH for r in self.rows) else 0

    def row(self, what: str) -> Row:
        return next(r for r in self.rows if r.what == what)

    @property
    def mismatches(self) -> list[str]:
        return [r.what for r in self.rows if r.verdict == MISMATCH]

    @property
    def text(self) -> str:
        head = ("what", "at edges", "at hub", "missing", "duplicated", "verdict")
        body = [(r.what, str(r.edges), str(r.hub), str(r.missing), str(r.duplicated),
                 r.verdict + (f" ({r.note})" if r.note else "")) for r in self.rows]
        widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

        def line(cells: tuple[str, ...]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)]
        out += self.details
        verdict = "RECONCILED" if self.status == 0 else f"NOT RECONCILED: {', '.join(self.mismatches)}"
        return "\n".join([*out, verdict])


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def _compare(report: Report, what: str, edge: Counter[str] | set[str], hub: Counter[str] | set[str],
             duplicated: int = 0, note: str = "") -> Row:
    edge_set, hub_set = set(edge), set(hub)
    missing = len(edge_set - hub_set)
    extra = len(hub_set - edge_set)
    dup_edge = sum(n - 1 for n in edge.values() if n > 1) if isinstance(edge, Counter) else 0
    dup = duplicated + dup_edge
    notes = [note] if note else []
    if extra:
        notes.append(f"{extra} at the hub that no edge holds")
    row = Row(what, len(edge_set), len(hub_set), missing, dup,
              MISMATCH if missing or dup or extra else OK, "; ".join(notes))
    report.rows.append(row)
    return row


@dataclass
class _Day:
    """What every check reads: the run's record, each device's ``store.db`` and the hub's ``hub.db`` (read-only)."""

    run: dict[str, Any]
    devices: dict[str, dict[str, Any]]
    edges: dict[str, sqlite3.Connection]
    hub: sqlite3.Connection
    run_dir: Path

    def hub_dups(self, event_type: str, key: str) -> int:
        """Records the hub received as two different events of ``event_type`` (same payload ``key``) from the
        honest devices (the hostile device's re-sends are its own row's business)."""
        names = list(self.devices)
        return sum(n - 1 for (n,) in _all(
            self.hub, f"SELECT count(*) FROM events WHERE type = ? AND device_id IN ({','.join('?' * len(names))}) "
            f"GROUP BY json_extract(payload, '$.{key}') HAVING count(*) > 1", [event_type, *names]))

    def edge_count(self, sql: str, params: list[Any] | None = None) -> Counter[str]:
        """The first column of ``sql`` over every edge, counted (a key held twice counts twice)."""
        out: Counter[str] = Counter()
        for conn in self.edges.values():
            out.update(r[0] for r in _all(conn, sql, params))
        return out


Check = Callable[[Report, _Day], None]


def reconcile(run_dir: Path) -> Report:
    """Reconcile a finished run directory; each of ``CHECKS`` adds its rows (in the table's order)."""
    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    report = Report()
    devices: dict[str, dict[str, Any]] = run["devices"]
    edges = {name: _ro(Path(d["data_dir"]) / "store.db") for name, d in devices.items()}
    hub = _ro(Path(run["hub_db"]))
    try:
        day = _Day(run, devices, edges, hub, run_dir)
        for check in CHECKS:
            check(report, day)
    finally:
        for conn in edges.values():
            conn.close()
        hub.close()
    return report


def _all(conn: sqlite3.Connection, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params or []).fetchall()


def _outbox_events(report: Report, day: _Day) -> None:
    """Everything each device wrote left it, and the hub holds each event once."""
    edge_events: Counter[str] = Counter()
    unsent = dead = 0
    for conn in day.edges.values():
        for event_id, state in _all(conn, "SELECT event_id, state FROM outbox"):
            edge_events[event_id] += 1
            unsent += state in ("pending", "in_flight")
            dead += state == "dead"
    names = list(day.devices)
    hub_events = {r[0] for r in _all(day.hub, f"SELECT event_id FROM events WHERE device_id IN "
                                              f"({','.join('?' * len(names))})", names)}
    row = _compare(report, "outbox events", edge_events, hub_events)
    if unsent or dead:
        row.verdict, row.note = MISMATCH, f"{unsent} still unsent, {dead} dead letters at the edges"


def _sales(report: Report, day: _Day) -> None:
    """Every sale at the hub once; and each sale all or nothing at its till: lines present, ledger rows as the
    sale says, exactly one ``sale.completed`` event."""
    edge_sales = day.edge_count("SELECT id FROM sales")
    hub_sales = {r[0] for r in _all(day.hub, "SELECT sale_id FROM sales")}
    _compare(report, "sales", edge_sales, hub_sales, day.hub_dups(EventType.SALE_COMPLETED, "id"))
    partial = 0
    for conn in day.edges.values():
        bad = {r[0] for r in _all(conn, """SELECT s.id FROM sales s WHERE NOT EXISTS (SELECT 1 FROM sale_lines l
            WHERE l.sale_id = s.id) OR (s.customer_id IS NOT NULL AND s.points_earned > 0 AND NOT EXISTS
            (SELECT 1 FROM ledger g WHERE g.sale_id = s.id AND g.kind = 'earn')) OR (s.points_redeemed > 0 AND
            NOT EXISTS (SELECT 1 FROM ledger g WHERE g.sale_id = s.id AND g.kind = 'burn'))""")}
        # one sale.completed event per sale: counted in one pass (a correlated subquery is quadratic)
        completed = Counter(r[0] for r in _all(
            conn, "SELECT json_extract(payload, '$.id') FROM outbox WHERE type = ?", [EventType.SALE_COMPLETED]))
        bad |= {r[0] for r in _all(conn, "SELECT id FROM sales") if completed.get(r[0], 0) != 1}
        partial += len(bad)
    report.rows.append(Row("sales complete (lines, ledger, event)", len(edge_sales), len(hub_sales), partial, 0,
                           MISMATCH if partial else OK))


def _ledger(report: Report, day: _Day) -> None:
    """Ledger entries of the tills, compared field by field (customer, kind, points, store); the hub's own
    movements (admin corrections, web orders and their returns: device ``hub``/``admin``) are not a till's."""
    edge_ledger: Counter[str] = Counter()
    edge_rows: dict[str, tuple[Any, ...]] = {}
    for name, conn in day.edges.items():
        for entry_id, cid, kind, points in _all(conn, "SELECT entry_id, customer_id, kind, points FROM ledger"):
            edge_ledger[entry_id] += 1
            edge_rows[entry_id] = (cid, kind, int(points), day.devices[name]["store"])
    hub_rows = {r[0]: (r[1], r[2], int(r[3]), r[4]) for r in _all(
        day.hub, "SELECT entry_id, customer_id, kind, points, store_id FROM ledger WHERE store_id != 'hub' "
        "AND device_id NOT IN ('hub', 'admin')")}
    row = _compare(report, "ledger entries", edge_ledger, set(hub_rows),
                   day.hub_dups(EventType.LEDGER_EARN, "entry_id") + day.hub_dups(EventType.LEDGER_BURN, "entry_id"))
    differ = [e for e in edge_rows if e in hub_rows and edge_rows[e] != hub_rows[e]]
    if differ:
        row.missing += len(differ)
        row.verdict, row.note = MISMATCH, f"{len(differ)} differ between edge and hub"


def _coupons(report: Report, day: _Day) -> None:
    """Coupon redemptions; a single-use coupon used twice is a duplicate."""
    edge_coupons = day.edge_count("SELECT json_extract(payload, '$.code') FROM outbox WHERE type = ?",
                                  [EventType.COUPON_REDEEMED])
    hub_coupons = {r[0] for r in _all(day.hub, "SELECT code FROM coupons WHERE redeemed_store_id IS NOT NULL")}
    reused = _all(day.hub, "SELECT count(*) FROM exceptions WHERE kind = 'coupon_reused'")[0][0]
    _compare(report, "coupon redemptions", edge_coupons, hub_coupons, reused)


def _feedback(report: Report, day: _Day) -> None:
    """Feedback (NPS) answers."""
    _compare(report, "feedback", day.edge_count("SELECT id FROM feedback"),
             {r[0] for r in _all(day.hub, "SELECT id FROM feedback")}, day.hub_dups(EventType.FEEDBACK_SUBMITTED, "id"))


def _presence(report: Report, day: _Day) -> None:
    """Visits, offers (notification requests), anonymous counts. A hub keeps visits and counts in their own
    tables (older hubs kept them with the notifications): both places count."""
    hub_tables = {r[0] for r in _all(day.hub, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    own_table: dict[str, tuple[str, str]] = {EventType.PRESENCE_VISIT: ("presence_visits", "visit_id"),
                                             EventType.PRESENCE_ANONYMOUS_COUNT: ("presence_anonymous_counts",
                                                                                  "event_id")}

    def hub_presence(event_type: str, key: str) -> set[str]:
        found = {r[0] for r in _all(day.hub, f"SELECT json_extract(payload, '$.{key}') FROM presence_notifications "
                                             "WHERE type = ?", [event_type])}
        table, column = own_table.get(event_type, ("", ""))
        if table in hub_tables:
            found |= {r[0] for r in _all(day.hub, f"SELECT {column} FROM {table}")}
        return found

    _compare(report, "presence visits", day.edge_count("SELECT id FROM presence_visits"),
             hub_presence(EventType.PRESENCE_VISIT, "visit_id"), day.hub_dups(EventType.PRESENCE_VISIT, "visit_id"))
    _compare(report, "presence offers (notifications)", day.edge_count(_ISSUED_OFFERS),
             hub_presence(EventType.PRESENCE_NOTIFICATION_REQUESTED, "offer_id"),
             day.hub_dups(EventType.PRESENCE_NOTIFICATION_REQUESTED, "offer_id"))
    anonymous = day.edge_count("SELECT event_id FROM outbox WHERE type = ?", [EventType.PRESENCE_ANONYMOUS_COUNT])
    _compare(report, "anonymous counts", anonymous, hub_presence(EventType.PRESENCE_ANONYMOUS_COUNT, "event_id"))


_ISSUED_OFFERS = "SELECT offer_id FROM presence_offers_issued"


def _webhook(report: Report, day: _Day) -> None:
    """Every presence notification delivered and received (repeats are absorbed by Idempotency-Key)."""
    received: Counter[str] = Counter()
    log_path = Path(day.run.get("webhook_log", day.run_dir / "webhook.jsonl"))
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            with _suppress():
                received[json.loads(line)["key"]] += 1
    hub_notes = {r[0] for r in _all(day.hub, "SELECT event_id FROM presence_notifications")}
    undelivered = _all(day.hub, "SELECT count(*) FROM presence_notifications WHERE delivered_at IS NULL")[0][0]
    repeats = sum(n - 1 for n in received.values() if n > 1)
    missing = len(hub_notes - set(received))
    report.rows.append(Row("webhook deliveries", len(hub_notes), len(set(received)), missing, 0,
                           MISMATCH if missing or undelivered else OK,
                           f"{repeats} repeats absorbed by Idempotency-Key" if repeats else ""))


def _presence_offer_sales(report: Report, day: _Day) -> None:
    """Presence offers redeemed at the tills (through the hub's personal offers); information only."""
    offer_ids = set(day.edge_count(_ISSUED_OFFERS))
    redeemed = 0
    for (payload,) in _all(day.hub, "SELECT payload FROM sales"):
        discounts = json.loads(payload).get("discounts") or []
        redeemed += any(d.get("offer_id") in offer_ids for d in discounts if isinstance(d, dict))
    published = _all(day.hub, "SELECT count(*) FROM offers WHERE customer_id IS NOT NULL "
                              "AND id NOT LIKE 'OFF-%'")[0][0]
    report.rows.append(Row("sales using a presence offer", len(offer_ids), redeemed, 0, 0, INFO,
                           f"{published} published to the tills by the webhook receiver"))


_ORDER_POINTS = """SELECT o.order_id, o.points_earned - o.points_redeemed
    - coalesce((SELECT sum(r.points_reversed - r.points_refunded) FROM order_returns r
                WHERE r.order_id = o.order_id), 0),
    coalesce((SELECT sum(CASE l.kind WHEN 'earn' THEN l.points ELSE -l.points END) FROM ledger l
              WHERE l.source = 'order:' || o.order_id OR l.source LIKE 'order-return:' || o.order_id || ':%'), 0)
    FROM orders o WHERE o.order_id LIKE 'WEB-SIM-%'"""


def _web_orders(report: Report, day: _Day) -> None:
    """Web orders posted to the hub during the day. Orders whose answer was lost may be at the hub too (orders
    are idempotent): only acknowledged ones count. Each order's points in the hub ledger (earned, burned, and
    reversed by its return) must be what the hub priced it at."""
    acked = set(day.run.get("orders_acked", []))
    hub_orders = {r[0] for r in _all(day.hub, "SELECT order_id FROM orders WHERE order_id LIKE 'WEB-SIM-%'")}
    unacked = len(day.run.get("orders_failed", []))
    row = _compare(report, "web orders", acked, hub_orders & acked)
    wrong = [(oid, want, got) for oid, want, got in _all(day.hub, _ORDER_POINTS) if int(want) != int(got)]
    for oid, want, got in wrong[:5]:
        report.details.append(f"  web order {oid}: priced at {want} points, the hub ledger moved {got}")
    burned = _all(day.hub, "SELECT count(*) FROM orders WHERE order_id LIKE 'WEB-SIM-%' AND points_redeemed > 0")
    notes = [f"{burned[0][0]} spent points", f"{len(day.run.get('orders_returned', []))} returned"]
    if wrong:
        row.verdict = MISMATCH
        notes.append(f"{len(wrong)} with ledger points unlike their price")
    if unacked:
        notes.append(f"{unacked} never acknowledged")
    row.note = ", ".join(notes)


_EDGE_BALANCES = """SELECT c.id, c.confirmed_points, coalesce((SELECT
    sum(CASE l.kind WHEN 'earn' THEN l.points ELSE -l.points END) FROM ledger l WHERE l.customer_id = c.id
    AND NOT EXISTS (SELECT 1 FROM ledger_confirmations k WHERE k.entry_id = l.entry_id)), 0)
    FROM customers c WHERE c.card_number IS NOT NULL"""


def _balances(report: Report, day: _Day) -> None:
    """Each edge's available points equal the hub's balance; the hub's balance equals its ledger."""
    hub_balance = dict(_all(day.hub, "SELECT id, balance FROM customers"))
    ledger_sum = dict(_all(day.hub, "SELECT customer_id, sum(CASE kind WHEN 'earn' THEN points ELSE -points END) "
                                    "FROM ledger GROUP BY customer_id"))
    compared = differ_n = 0
    for name, conn in day.edges.items():
        for cid, confirmed, pending in _all(conn, _EDGE_BALANCES):
            compared += 1
            if cid not in hub_balance or int(confirmed) + int(pending) != int(hub_balance[cid]):
                differ_n += 1
                if differ_n <= 5:
                    report.details.append(f"  balance of {cid} at {name}: {int(confirmed) + int(pending)} "
                                          f"(confirmed {confirmed}, pending {pending}), hub {hub_balance.get(cid)}")
    self_bad = sum(1 for cid, bal in hub_balance.items() if int(bal) != int(ledger_sum.get(cid, 0)))
    report.rows.append(Row("balances (edge available = hub)", compared, len(hub_balance), differ_n + self_bad, 0,
                           MISMATCH if differ_n or self_bad or not compared else OK,
                           f"{self_bad} hub balances differ from the hub ledger" if self_bad else ""))


def _overdrafts(report: Report, day: _Day) -> None:
    """The double spend must show as an overdraft; any other one is reported for a person to decide."""
    overdrafts = _all(day.hub, "SELECT customer_id, store_id, balance_before, balance_after, detail FROM exceptions "
                               "WHERE kind = 'overdraft' ORDER BY id")
    ds = day.run.get("double_spend") or {}
    expected = ds.get("customer")
    found = any(o[0] == expected for o in overdrafts)
    both = len(ds.get("done") or {}) == 2
    report.rows.append(Row("overdrafts (double spend)", 2 if both else len(ds.get("done") or {}), len(overdrafts),
                           0 if found else 1, 0, OK if found and both else MISMATCH,
                           (f"expected for {expected}" if found else f"none reported for {expected}")
                           + (f"; {len(overdrafts) - found} other(s) reported" if len(overdrafts) > found else "")))
    for cid, store, before, after, _detail in overdrafts:
        report.details.append(f"  overdraft: {cid} in {store}: {before} -> {after}")


def _adverts_fed(report: Report, day: _Day) -> None:
    """How many adverts the presence boxes were fed (a detail line, not a row)."""
    states = _states(day.devices)
    fed = sum(int(s.get("fed", 0)) for n, s in states.items() if day.devices[n].get("role") == "presence")
    if fed:
        report.details.append(f"  adverts fed to presence (re-fed after kills included): {fed:,}")


def _states(devices: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for n, d in devices.items():
        path = Path(d["data_dir"]) / "worker-state.json"
        if path.exists():
            out[n] = json.loads(path.read_text())
    return out


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _clock(report: Report, day: _Day) -> None:
    """The fast clock shows in device_time (about +offset against the hub's received_at, the others about 0)
    and breaks nothing: the hub took the device's events in its seq order, and none was refused."""
    devices, edges, hub = day.devices, day.edges, day.hub
    problems, notes = [], []
    fast = [n for n, d in devices.items() if d.get("clock_offset_s")]
    for name, d in devices.items():
        offset = float(d.get("clock_offset_s") or 0.0)
        rows = _all(hub, "SELECT seq, device_time, received_at FROM events WHERE device_id = ? ORDER BY seq", [name])
        if not rows:
            problems.append(f"no events from {name} at the hub")
            continue
        skews = sorted(_seconds(dt) - _seconds(rx) for _, dt, rx in rows)
        median = skews[len(skews) // 2]
        # an event waits in the outbox (partitions, kills) before it arrives: device_time - received_at is the
        # offset minus that wait, so it may fall below the offset but not rise above it (2 s of slack)
        if not offset - 60 <= median <= offset + 2 or skews[-1] > offset + 2:
            problems.append(f"{name}: device_time - received_at median {median:+.1f} s, max {skews[-1]:+.1f} s, "
                            f"expected about {offset:+.0f} s")
        received = [_seconds(rx) for _, _, rx in rows]
        out_of_order = sum(1 for a, b in zip(received, received[1:], strict=False) if b < a)
        if out_of_order:
            problems.append(f"{name}: {out_of_order} events reached the hub after a later one of the same device")
        dead = edges[name].execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
        if dead:
            problems.append(f"{name}: {dead} events refused by the hub")
        if offset:
            notes.append(f"{name} median device_time - received_at {median:+.1f} s over {len(rows)} events "
                         f"(others about 0), all accepted in seq order")
    report.rows.append(Row(f"clock +5 min ({', '.join(fast) or 'none'})", len(fast), len(fast),
                           len(problems), 0, MISMATCH if problems or not fast else OK,
                           "; ".join(problems or notes)))


def _convergence(report: Report, day: _Day) -> None:
    """The close was the devices' own sync through their proxies, and it converged in time."""
    run = day.run
    conv = run.get("convergence") or {}
    ok = bool(conv.get("converged"))
    lagging = conv.get("lagging") or {}
    note = (f"through the proxies, faults off, in {conv.get('seconds')} s (limit {conv.get('limit_s')} s)" if ok
            else f"not converged after {conv.get('seconds')} s (limit {conv.get('limit_s')} s): {lagging}")
    n_devices = len(run.get("devices", {}))
    report.rows.append(Row("convergence (devices' own sync)", n_devices - len([k for k in lagging
                                                                              if k in run.get("devices", {})]),
                           n_devices, len(lagging), 0, OK if ok else MISMATCH, note))


def _killed_sale_traces(day: _Day, killed_sales: list[str]) -> int:
    """Rows a sale killed inside its transaction left anywhere (its till's sales and ledger, the hub's sales)."""
    traces = 0
    for sale_id in killed_sales:
        traces += sum(conn.execute("SELECT count(*) FROM sales WHERE id = ?", [sale_id]).fetchone()[0]
                      + conn.execute("SELECT count(*) FROM ledger WHERE sale_id = ?", [sale_id]).fetchone()[0]
                      for conn in day.edges.values())
        traces += day.hub.execute("SELECT count(*) FROM sales WHERE sale_id = ?", [sale_id]).fetchone()[0]
    return traces


def _kill_problems(day: _Day, by_kind: Counter[str]) -> list[str]:
    """Kills fewer than configured, traces of killed sales, mid-sale kills without a sale id, empty batches."""
    cfg, kills = day.run.get("config", {}), day.run.get("kills", [])
    problems = [f"only {by_kind[kind]} of {cfg.get(key)} kills {kind.replace('_', '-')}"
                for kind, key in (("other", "kills"), ("mid_sale", "kills_mid_sale"),
                                  ("mid_batch", "kills_mid_batch"))
                if by_kind[kind] < int(cfg.get(key, 0))]
    # a sale killed inside its transaction is gone without a trace: not at its till, not at the hub
    killed_sales = [str(k["sale_id"]) for k in kills if k.get("kind") == "mid_sale" and k.get("sale_id")]
    traces = _killed_sale_traces(day, killed_sales)
    if traces:
        problems.append(f"{traces} traces of sales killed mid-transaction")
    if len(killed_sales) < by_kind["mid_sale"]:
        problems.append(f"{by_kind['mid_sale'] - len(killed_sales)} mid-sale kills without a sale id")
    if any(int(k.get("in_flight", 0)) <= 0 for k in kills if k.get("kind") == "mid_batch"):
        problems.append("a mid-batch kill found no events in flight")
    return problems


def _disk_full(day: _Day) -> tuple[str | None, int, bool]:
    """(the device whose disk was to fill, its refusals, whether the disk filled and the till refused)."""
    states = _states(day.devices)
    refusals = sum(int(s.get("refusals", 0)) for n, s in states.items() if day.devices[n].get("disk_full"))
    device = next((n for n, d in day.devices.items() if d.get("disk_full")), None)
    ok = device is None or (states.get(device, {}).get("disk_full") == "over" and refusals > 0)
    return device, refusals, ok


def _other_fault_problems(run: dict[str, Any], disk_ok: bool) -> list[str]:
    """Hub restarts, the full disk, partitions healed, no unprompted exits, nothing left unfinished."""
    partitions = run.get("partitions", [])
    healed = sum(1 for p in partitions if "healed_at" in p)
    checks = [
        (run.get("hub_restarts", 0) < 1, "the hub was not restarted"),
        (not disk_ok, "the disk never filled"),
        (healed < len(partitions), f"{len(partitions) - healed} partitions never healed"),
        (bool(run.get("crashes")), f"{len(run.get('crashes', []))} unprompted worker exits"),
        (bool(run.get("unfinished")), f"unfinished: {', '.join(run.get('unfinished') or [])}"),
    ]
    return [problem for failed, problem in checks if failed]


def _kill_details(kills: list[dict[str, Any]]) -> list[str]:
    out = []
    for k in kills:
        if k.get("kind") == "mid_sale":
            out.append(f"  kill mid-sale: {k['worker']} at {k.get('point')} of sale #{k.get('sale_no')} "
                       f"({k.get('sale_id')}): rolled back")
        elif k.get("kind") == "mid_batch":
            out.append(f"  kill mid-batch: {k['worker']} with {k.get('in_flight')} events in flight, "
                       f"hub answered {k.get('answer')!r}")
    return out


def _faults(report: Report, day: _Day) -> None:
    """The faults the day was meant to contain, by kind, and the traces the targeted kills must not leave."""
    run = day.run
    kills = run.get("kills", [])
    by_kind = Counter(str(k.get("kind", "other")) for k in kills)
    disk_device, refusals, disk_ok = _disk_full(day)
    fast = [n for n, d in day.devices.items() if d.get("clock_offset_s")]
    partitions = run.get("partitions", [])
    healed = sum(1 for p in partitions if "healed_at" in p)
    problems = _kill_problems(day, by_kind) + _other_fault_problems(run, disk_ok)
    batch_events = sum(max(0, int(k.get("in_flight", 0))) for k in kills if k.get("kind") == "mid_batch")
    note = (f"kill -9: {len(kills)} (mid-sale {by_kind['mid_sale']}, mid-batch {by_kind['mid_batch']} with "
            f"{batch_events} events in flight, other {by_kind['other']}; {len(run.get('missed_kills', []))} "
            f"targeted attempts missed their moment), hub restarts: {run.get('hub_restarts', 0)}, "
            f"partitions: {len(partitions)} incl. {sum(1 for p in partitions if p.get('double_spend'))} for the "
            f"double spend ({healed} healed), disk-full refusals on {disk_device}: {refusals}, "
            f"clock +5 min: {', '.join(fast)}")
    report.rows.append(Row("faults injected", len(kills), int(run.get("hub_restarts", 0)), 0, 0,
                           MISMATCH if problems else OK, "; ".join([note, *problems])))
    report.details.extend(_kill_details(kills))


# -- the members' day (edge/simulate/members.py): two stores, online, expiry, tiers -------------------------
def _members(day: _Day) -> dict[str, Any]:
    return dict(day.run.get("members") or {})


def _marks(items: list[Any] | set[Any]) -> str:
    return ",".join("?" * len(items))


def _lookup_till(day: _Day) -> str | None:
    """The till that met the other store's members (the one whose store does not hold them at first)."""
    return next((n for n, d in day.devices.items() if d.get("role") == "till" and d.get("store") != "store-1"), None)


def _receipt_claims(day: _Day, till: str, ids: list[str]) -> tuple[int, int]:
    """Guest receipts the members claimed at ``till`` once identified: (claims sent, claims the hub holds for
    that member with points added)."""
    sent = {r[0]: r[1] for r in _all(day.edges[till], "SELECT json_extract(payload, '$.code'), json_extract("
                                                      "payload, '$.customer_id') FROM outbox WHERE type = ?",
                                      [EventType.RECEIPT_CLAIMED])}
    held = {r[0]: r[1] for r in _all(day.hub, "SELECT code, customer_id FROM receipt_claims WHERE claimed_at IS NOT "
                                              "NULL AND points > 0")}
    return len(sent), sum(1 for code, cid in sent.items() if cid in ids and held.get(code) == cid)


def _cross_store(report: Report, day: _Day) -> None:
    """Members of store 1 met at the other till: each one that till holds was found by a logged hub look-up and
    made relevant to its store by that look-up only; their sales there reached the hub once."""
    ids = list(_members(day).get("members") or [])
    till = _lookup_till(day)
    if not ids or till is None:
        report.rows.append(Row("members in two stores (hub look-up)", 0, 0, 1, 0, MISMATCH, "no members' day"))
        return
    store = day.devices[till]["store"]
    held = {r[0] for r in _all(day.edges[till], f"SELECT id FROM customers WHERE id IN ({_marks(ids)})", ids)}
    found = {r[0] for r in _all(day.hub, f"SELECT customer_id FROM member_lookups WHERE device_id = ? AND outcome = "
                                         f"'found' AND customer_id IN ({_marks(ids)})", [till, *ids])}
    logged = _all(day.hub, "SELECT outcome, count(*) FROM member_lookups WHERE device_id = ? GROUP BY outcome", [till])
    other_reason = [r[0] for r in _all(day.hub, f"SELECT customer_id FROM customer_stores WHERE store_id = ? AND "
                                                f"reason != 'lookup' AND customer_id IN ({_marks(ids)})", [store, *ids])]
    edge_sales = day.edge_count(f"SELECT id FROM sales WHERE customer_id IN ({_marks(ids)})", ids)
    hub_sales = {r[0]: (r[1], r[2]) for r in _all(day.hub, f"SELECT sale_id, store_id, customer_id FROM sales "
                                                           f"WHERE customer_id IN ({_marks(ids)})", ids)}
    lost = len(set(edge_sales) - set(hub_sales)) + sum(n - 1 for n in edge_sales.values() if n > 1)
    stores_of: dict[str, set[str]] = {}
    for sale_store, cid in hub_sales.values():
        stores_of.setdefault(cid, set()).add(sale_store)
    online = {r[0] for r in _all(day.hub, f"SELECT DISTINCT customer_id FROM orders WHERE customer_id IN "
                                          f"({_marks(ids)})", ids)}
    both = sorted(c for c, s in stores_of.items() if len(s) >= 2)
    unlogged = held - found
    claims, claimed = _receipt_claims(day, till, ids)
    problems = [f"{len(unlogged)} held by {till} without a logged look-up"] if unlogged else []
    problems += [f"{claims - claimed} guest receipt claims not at the hub"] if claims != claimed else []
    problems += [f"{len(other_reason)} made relevant to {store} otherwise than by a look-up"] if other_reason else []
    problems += [f"{lost} of their sales not at the hub once"] if lost else []
    problems += [f"none identified at {till}"] if not held else []
    note = (f"{len(held)} of {len(ids)} identified at {till}; look-ups logged: "
            + ", ".join(f"{n} {o}" for o, n in logged) + f"; {len(both)} sold to in both stores, "
            f"{len(set(both) & online)} of them online too; {len(edge_sales)} sales; {claimed} guest receipts "
            "claimed once identified")
    report.rows.append(Row("members in two stores (hub look-up)", len(held), len(found),
                           len(unlogged) + lost + claims - claimed, 0,
                           MISMATCH if problems else OK, "; ".join([note, *problems])))


_MEMBER_ORDER_POINTS = """SELECT o.order_id, CASE WHEN o.cancelled_at IS NOT NULL THEN 0 ELSE
    o.points_earned - o.points_redeemed - coalesce((SELECT sum(r.points_reversed - r.points_refunded)
    FROM order_returns r WHERE r.order_id = o.order_id), 0) END,
    coalesce((SELECT sum(CASE l.kind WHEN 'earn' THEN l.points ELSE -l.points END) FROM ledger l
              WHERE l.source = 'order:' || o.order_id OR l.source LIKE 'order-return:' || o.order_id || ':%'), 0),
    o.points_earned, o.points_redeemed, o.cancelled_at,
    (SELECT count(*) FROM order_returns r WHERE r.order_id = o.order_id)
    FROM orders o WHERE o.order_id LIKE 'WEB-MEM-%'"""


def _member_ledgers(report: Report, day: _Day) -> None:
    """The members' books: each web order's points in the hub ledger (earned, burned, partly returned, or
    cancelled: nothing left) as the hub priced it; each member's hub balance equal to the sum of their ledger
    and to what every till holding them shows after its final pull."""
    ids = list(_members(day).get("members") or [])
    if not ids:
        report.rows.append(Row("member ledgers (web, returns, cancel)", 0, 0, 1, 0, MISMATCH, "no members' day"))
        return
    orders = _all(day.hub, _MEMBER_ORDER_POINTS)
    wrong = [(oid, want, got) for oid, want, got, *_ in orders if int(want) != int(got)]
    for oid, want, got in wrong[:5]:
        report.details.append(f"  member order {oid}: {want} points expected in the ledger, it moved {got}")
    earn_burn = sum(1 for o in orders if int(o[3]) > 0 and int(o[4]) > 0)
    returned = sum(1 for o in orders if o[6] and o[5] is None)
    cancelled = sum(1 for o in orders if o[5] is not None)
    balance = dict(_all(day.hub, f"SELECT id, balance FROM customers WHERE id IN ({_marks(ids)})", ids))
    sums = dict(_all(day.hub, "SELECT customer_id, sum(CASE kind WHEN 'earn' THEN points ELSE -points END) FROM "
                              f"ledger WHERE customer_id IN ({_marks(ids)}) GROUP BY customer_id", ids))
    unbalanced = [c for c in ids if int(balance.get(c, 0)) != int(sums.get(c, 0))]
    copies = differ = 0
    for name, conn in day.edges.items():
        for cid, confirmed, pending in _all(conn, _EDGE_BALANCES + f" AND c.id IN ({_marks(ids)})", ids):
            copies += 1
            if int(confirmed) + int(pending) != int(balance.get(cid, 0)):
                differ += 1
                report.details.append(f"  member {cid} at {name}: {int(confirmed) + int(pending)} points, "
                                      f"hub {balance.get(cid)}")
    problems = [f"{len(wrong)} orders whose ledger points differ from their price"] if wrong else []
    problems += [f"{len(unbalanced)} hub balances unlike the hub ledger"] if unbalanced else []
    problems += [f"{differ} till copies unlike the hub"] if differ else []
    problems += [f"missing: {w}" for w, n in (("an order that earned and burned", earn_burn),
                                              ("a partly returned order", returned),
                                              ("a cancelled order", cancelled)) if not n]
    note = (f"{len(orders)} orders ({earn_burn} earned and burned, {returned} partly returned, {cancelled} "
            f"cancelled); {len(ids)} members, {copies} till copies")
    report.rows.append(Row("member ledgers (web, returns, cancel)", copies, len(ids),
                           len(wrong) + len(unbalanced) + differ, 0, MISMATCH if problems else OK,
                           "; ".join([note, *problems])))


def _expiry(report: Report, day: _Day) -> None:
    """The mid-day expiry run: every lot past its date at the run's time was closed, none inside it; the
    expiry burns in the hub ledger add up to what the run said it expired; every till's copy of a member whose
    points expired shows the hub's expired total (``points_summary``) after its final pull."""
    run = _members(day).get("expiry_run") or {}
    at = run.get("at")
    if not at:
        report.rows.append(Row("points expiry", 0, 0, 1, 0, MISMATCH, "the expiry run did not happen"))
        return
    missed = _all(day.hub, "SELECT count(*) FROM point_lots WHERE expires_at <= ? AND expired_at IS NULL "
                           "AND remaining > 0 AND earned_at <= ?", [at, at])[0][0]
    early = _all(day.hub, "SELECT count(*) FROM point_lots WHERE expired_at IS NOT NULL AND "
                          "(expires_at IS NULL OR expires_at > expired_at)")[0][0]
    lots = _all(day.hub, "SELECT count(*) FROM point_lots WHERE expired_at IS NOT NULL")[0][0]
    by_member = dict(_all(day.hub, "SELECT customer_id, sum(points) FROM ledger WHERE source LIKE 'expiry:%' "
                                   "AND kind = 'burn' GROUP BY customer_id"))
    orphans = _all(day.hub, "SELECT count(*) FROM ledger l WHERE l.source LIKE 'expiry:%' AND NOT EXISTS (SELECT 1 "
                            "FROM point_lots p WHERE 'expiry:' || p.lot_id = l.source AND p.expired_at IS NOT NULL)")[0][0]
    total = sum(int(p) for p in by_member.values())
    copies = differ = 0
    for name, conn in day.edges.items():
        for cid, summary in _all(conn, "SELECT id, points_summary FROM customers"):
            want = int(by_member.get(cid, 0))
            got = int((json.loads(summary or "{}") or {}).get("expired", 0))
            if not want and not got:
                continue
            copies += 1
            if got != want:
                differ += 1
                report.details.append(f"  expired points of {cid} at {name}: {got}, hub {want}")
    problems = [f"{missed} lots past their date not expired"] if missed else []
    problems += [f"{early} lots expired before their date"] if early else []
    problems += [f"{orphans} expiry ledger rows without their closed lot"] if orphans else []
    problems += [f"the ledger expired {total} points, the run said {run.get('expired_points')}"] \
        if total != int(run.get("expired_points", -1)) else []
    problems += [f"{differ} till copies unlike the hub"] if differ else []
    problems += ["nothing expired"] if not total else []
    note = f"run at {at}: {run.get('expired_lots')} lots closed, {total} points expired; {copies} till copies"
    report.rows.append(Row("points expiry", copies, int(lots), missed + early + orphans + differ, 0,
                           MISMATCH if problems else OK, "; ".join([note, *problems])))


def _tiers(report: Report, day: _Day) -> None:
    """Tiers that moved during the day (an upgrade from till sales or the large web order): the hub decided, and
    every till holding the member shows the hub's tier and 12-month spend after its final pull."""
    start = dict(day.run.get("tiers_at_start") or {})
    gold = _members(day).get("gold")
    hub = {r[0]: (r[1], int(r[2])) for r in _all(day.hub, "SELECT id, tier, spend_12m_cents FROM customers")}
    changed = {cid for cid, (tier, _) in hub.items() if cid in start and start[cid] != tier}
    copies = differ = 0
    for name, conn in day.edges.items():
        for cid, tier, spend in _all(conn, "SELECT id, tier, spend_12m_cents FROM customers "
                                           "WHERE card_number IS NOT NULL"):
            copies += cid in changed
            if cid in hub and (tier, int(spend)) != hub[cid]:
                differ += 1
                if differ <= 5:
                    report.details.append(f"  {cid} at {name}: {tier}, {spend} cents in 12 months; hub "
                                          f"{hub[cid][0]}, {hub[cid][1]}")
    problems = [f"{differ} till copies unlike the hub"] if differ else []
    if gold and hub.get(gold, ("", 0))[0] != "Gold":
        problems.append(f"{gold} is {hub.get(gold, ('unknown',))[0]} after the large web order, not Gold")
    moves = Counter(f"{start[c]}->{hub[c][0]}" for c in changed)
    note = ", ".join(f"{n} {m}" for m, n in sorted(moves.items())) or "no tier changed"
    report.rows.append(Row("tier changes", copies, len(changed), differ, 0, MISMATCH if problems else OK,
                           "; ".join([note, *problems])))


# the table's rows, in order; each check adds its row(s) (and detail lines) to the report
def _hostile(report: Report, day: _Day) -> None:
    """The hostile device (``edge/simulate/rogue.py``): nothing it sent counted (no ledger entry, sale or
    event of it beyond the re-sent sales the hub stores without counting) and every event of it is a row of
    the exceptions report naming it."""
    rogue = day.run.get("rogue") or {}
    name, sent = rogue.get("device", "rogue-1"), rogue.get("sent") or []
    counted = (_all(day.hub, "SELECT count(*) FROM ledger WHERE device_id = ?", [name])[0][0]
               + _all(day.hub, "SELECT count(*) FROM sales WHERE device_id = ?", [name])[0][0])
    reported = {r[0] for r in _all(day.hub, "SELECT entry_id FROM exceptions WHERE device_id = ?", [name])}
    unreported = [s for s in sent if str(s["id"])[:80] not in reported]
    tried = Counter(f"{s['what']} {s['status']}" for s in sent)
    notes = [f"{rogue.get('rounds', 0)} rounds: " + ", ".join(f"{k} {n}" for k, n in sorted(tried.items()))]
    if counted:
        notes.append(f"{counted} ledger entries or sales of it COUNTED")
    if unreported:
        notes.append(f"{len(unreported)} not in the exceptions report")
    if rogue.get("unanswered"):
        notes.append(f"{rogue['unanswered']} never answered")
    report.rows.append(Row(f"hostile device ({name})", len(sent), counted, len(unreported), 0,
                           OK if sent and not counted and not unreported else MISMATCH, "; ".join(notes)))
    for s in unreported[:5]:
        report.details.append(f"  hostile event not reported: {s['what']} {s['id']} ({s['status']})")


CHECKS: tuple[Check, ...] = (
    _outbox_events, _sales, _ledger, _coupons, _feedback, _presence, _webhook, _presence_offer_sales,
    _web_orders, _cross_store, _member_ledgers, _expiry, _tiers, _balances, _overdrafts, _clock, _convergence,
    _faults, _hostile, _adverts_fed,
)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return exc[0] is not None and issubclass(exc[0], (ValueError, KeyError, TypeError))
