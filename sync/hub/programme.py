"""The programme at the hub: its rules (stored, sent to the tills), tiers from rolling net spend, point lots.

- Rules: ``edge.core.programme.ProgrammeRules`` kept as JSON in ``config`` under ``programme``; setting them
  records a ``ChangeKind.PROGRAMME`` change for every store (``set_rules``), the till applies it
  (``sync/apply.py``) and uses it instead of its built-in defaults.
- Tiers: ``net_spend`` is sales + web/app orders (not cancelled or returned) over the rules' window, summed
  from the dated rows (``sales.created_at``, ``orders.created_at``), never from a running total;
  ``refresh_tiers`` applies ``ProgrammeRules.decide_tier`` (upgrade at once, downgrade at a review) and keeps
  ``customers.spend_12m_cents`` equal to that net spend, the figure the tills show progress from. A manual
  override (``customers.tier_override`` / ``tier_override_until``, when those columns exist) wins until its end.
- Lots: one ``point_lots`` row per earn, written by ``sync.hub.ledger.Batch`` (every points movement goes
  through it); ``points_summary`` is the points part of the profile a store pulls.

Functions take the caller's transaction. Times are ISO 8601 UTC text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from edge.core.contract import PROGRAMME_KEY, ChangeKind
from edge.core.programme import PointsSummary, ProgrammeRules, iso, parse_time
from sync.hub.admin import get_config, set_config
from sync.hub.changes import record
from sync.hub.common import chunks
from sync.hub.tables import customers, ledger, order_returns, orders, point_lots, sales

RULES_KEY = "programme"  # the ``config`` key
NOT_SPEND = ("cancelled", "returned")  # order statuses whose total no longer counts as spend
_log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- rules
def get_rules(conn: Connection) -> ProgrammeRules:
    """The programme in force (the defaults until an administrator sets it). A stored document that no
    longer passes the checks is logged and the defaults apply."""
    return rules_from(get_config(conn, RULES_KEY))


def rules_from(raw: str | None) -> ProgrammeRules:
    """The programme in a stored ``RULES_KEY`` value (``get_rules``; None: the defaults)."""
    if raw is None:
        return ProgrammeRules()
    try:
        return ProgrammeRules.from_doc(json.loads(raw))
    except ValueError as exc:
        _log.error("the stored programme is not usable, the defaults apply: %s", exc)
        return ProgrammeRules()


def set_rules(conn: Connection, rules: ProgrammeRules) -> None:
    """Store the rules and send them to every store."""
    set_config(conn, RULES_KEY, json.dumps(rules.to_doc(), sort_keys=True))
    record(conn, ChangeKind.PROGRAMME, PROGRAMME_KEY)


def rules_snapshot(conn: Connection, key: str, _store_id: str) -> dict[str, Any] | None:
    """The ``programme`` change as every till receives it: the rules document."""
    return get_rules(conn).to_doc() if key == PROGRAMME_KEY else None


# ------------------------------------------------------------------------------------------- tiers
def net_spend(conn: Connection, customer_ids: Sequence[str], since: datetime) -> dict[str, int]:
    """Each customer's net spend in cents from ``since``: store sales (a return is a sale with a negative
    total) plus web/app orders not cancelled or returned, less what their partial returns refunded. Customers
    with none read 0."""
    start = iso(since)
    spend = dict.fromkeys(customer_ids, 0)
    for chunk in chunks(list(customer_ids)):
        for cid, total in conn.execute(
                select(sales.c.customer_id, func.sum(sales.c.total_cents))
                .where(sales.c.customer_id.in_(chunk), sales.c.created_at >= start).group_by(sales.c.customer_id)):
            spend[cid] += int(total or 0)
        for cid, total in conn.execute(
                select(orders.c.customer_id, func.sum(orders.c.total_cents))
                .where(orders.c.customer_id.in_(chunk), orders.c.created_at >= start,
                       orders.c.status.not_in(NOT_SPEND)).group_by(orders.c.customer_id)):
            spend[cid] += int(total or 0)
        for cid, refunded in conn.execute(  # partial returns of orders still counted (a cancel drops the rest)
                select(orders.c.customer_id, func.sum(order_returns.c.refund_cents))
                .join(orders, orders.c.order_id == order_returns.c.order_id)
                .where(orders.c.customer_id.in_(chunk), orders.c.created_at >= start,
                       orders.c.status.not_in(NOT_SPEND)).group_by(orders.c.customer_id)):
            spend[cid] -= int(refunded or 0)
    return spend


def _override_columns() -> list[Any]:
    """The manual override's columns when this schema has them (added by the member API's migration)."""
    names = ("tier_override", "tier_override_until")
    return [customers.c[n] for n in names] if all(n in customers.c for n in names) else []


def refresh_tiers(conn: Connection, customer_ids: Sequence[str], now: datetime,
                  rules: ProgrammeRules | None = None) -> list[str]:
    """Recompute the customers' net spend and tier at ``now`` (``ProgrammeRules.decide_tier``) and write what
    changed; returns the ids whose tier or spend changed (their stores must re-read them)."""
    rules = rules or get_rules(conn)
    spend = net_spend(conn, customer_ids, rules.spend_since(now))
    c = customers.c
    extra = _override_columns()
    updates: list[dict[str, Any]] = []
    changed: list[str] = []
    for chunk in chunks(sorted(set(customer_ids))):
        for row in conn.execute(select(c.id, c.tier, c.spend_12m_cents, c.tier_reviewed_at, *extra)
                                .where(c.id.in_(chunk))):
            override = (row[4], parse_time(row[5])) if extra else (None, None)
            decision = rules.decide_tier(row[1], spend[row[0]], now, parse_time(row[3]),
                                         override=override[0], override_until=override[1])
            if decision.tier == row[1] and spend[row[0]] == row[2] and not decision.reviewed:
                continue
            updates.append({"cid": row[0], "tier": decision.tier, "spend": spend[row[0]],
                            "reviewed": iso(now) if decision.reviewed else row[3]})
            if decision.tier != row[1] or spend[row[0]] != row[2]:
                changed.append(row[0])
    if updates:
        conn.execute(update(customers).where(c.id == bindparam("cid")).values(
            tier=bindparam("tier"), spend_12m_cents=bindparam("spend"), tier_reviewed_at=bindparam("reviewed")),
            updates)
    return changed


# ------------------------------------------------------------------------------------------- lots
def open_lots(conn: Connection, customer_id: str) -> list[dict[str, Any]]:
    """The customer's lots with points left (expired or not yet processed by the expiry job included),
    oldest first: the order burns take them in."""
    lc = point_lots.c
    rows = conn.execute(select(lc.lot_id, lc.remaining, lc.earned_at, lc.expires_at)
                        .where(lc.customer_id == customer_id, lc.remaining > 0, lc.expired_at.is_(None))
                        .order_by(lc.earned_at, lc.lot_id))
    return [{"lot_id": r[0], "customer_id": customer_id, "remaining": int(r[1]), "earned_at": r[2],
             "expires_at": r[3], "expired_at": None} for r in rows]


def points_summaries(conn: Connection, customer_ids: Sequence[str], now: datetime | None = None
                     ) -> dict[str, dict[str, Any]]:
    """``points_summary`` of many customers with three statements per ``CHUNK`` of ids (a pull page names
    dozens of changed members): customer id -> summary document; a customer with no ledger reads all zero."""
    now = now or datetime.now(UTC)
    lg, lc = ledger.c, point_lots.c
    expiry = func.coalesce(lg.source, "").like("expiry:%")
    totals = {cid: (0, 0, 0) for cid in customer_ids}
    locked: dict[str, list[dict[str, Any]]] = {cid: [] for cid in customer_ids}
    expiries: dict[str, dict[str, int]] = {cid: {} for cid in customer_ids}
    for chunk in chunks(sorted(totals)):
        for cid, earned, spent, expired in conn.execute(select(
                lg.customer_id,
                func.coalesce(func.sum(lg.points).filter(lg.kind == "earn"), 0),
                func.coalesce(func.sum(lg.points).filter(lg.kind == "burn", ~expiry), 0),
                func.coalesce(func.sum(lg.points).filter(lg.kind == "burn", expiry), 0),
        ).where(lg.customer_id.in_(chunk)).group_by(lg.customer_id)):
            totals[cid] = (int(earned), int(spent), int(expired))
        live = (lc.customer_id.in_(chunk), lc.remaining > 0, lc.expired_at.is_(None))
        for cid, remaining, until in conn.execute(select(lc.customer_id, lc.remaining, lc.available_at)
                                                  .where(*live, lc.available_at > iso(now))
                                                  .order_by(lc.customer_id, lc.available_at)):
            if len(locked[cid]) < 100:
                locked[cid].append({"points": int(remaining), "until": until})
        for cid, remaining, expires_at in conn.execute(select(lc.customer_id, lc.remaining, lc.expires_at)
                                                       .where(*live, lc.expires_at.is_not(None))
                                                       .order_by(lc.customer_id, lc.expires_at)):
            days, day = expiries[cid], str(expires_at)[:10]
            if day in days or len(days) < 12:  # the next 12 expiry dates; rows come in date order
                days[day] = days.get(day, 0) + int(remaining)
    return {cid: PointsSummary.from_doc({
        "earned": totals[cid][0], "spent": totals[cid][1], "expired": totals[cid][2], "locked": locked[cid],
        "expiries": [{"points": p, "on": d} for d, p in expiries[cid].items()],
    }).to_doc() for cid in customer_ids}


def points_summary(conn: Connection, customer_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The points part of the profile (``edge.core.programme.PointsSummary`` as a document): lifetime earned,
    spent and expired from the ledger; lots still in their pending period (the first 100); the next 12 expiry
    dates with the points expiring on each."""
    return points_summaries(conn, [customer_id], now)[customer_id]
