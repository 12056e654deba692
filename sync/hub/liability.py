"""Points liability: the points members hold and what they are worth, per store, and when they expire.

From the hub ledger alone: per customer, each earn row is a lot of points dated by the row's ``created_at``
(else ``applied_at``) and attributed to the row's store (``web`` for web orders without a store, ``hub`` for
admin corrections); burns (spending, reversals, expiry) use up the oldest points first (FIFO, as the programme's
expiry does). What remains of each lot is outstanding; a lot expires ``expiry_months`` after it was earned
(the programme's rule, ``hub programme set expiry_months=N``, default 24; 0: never), and "expiring in N days" counts the outstanding points whose
expiry date is on or before now + N days (overdue ones included, until an expiry run removes them). A burn with
no points left to use is an overdraft: it is counted apart, never against another store.

The value of a point is the redemption value the tills use (``LoyaltyRules.point_value_cents``,
``edge.core.loyalty.points_value_cents``, rounded down to the cent per figure). ``expiring_lots`` is the one
place that turns the ledger into lots: when the hub keeps point lots itself, it reads them instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from edge.core.loyalty import points_value_cents
from edge.core.programme import add_months
from sync.hub.orders import loyalty_rules
from sync.hub.programme import get_rules
from sync.hub.tables import config, customers, ledger

WINDOWS_DAYS = (30, 60, 90)
NEVER = datetime.max.replace(tzinfo=UTC)  # the expiry of points in a programme whose points never expire
PROGRAMME_CONFIG_KEY = "programme_name"
DEFAULT_PROGRAMME = "loyalty"


@dataclass
class Lot:
    """Points still held from one earn: the store they count for and the day they expire (UTC)."""

    store_id: str
    expires_at: datetime
    points: int


def _when(created: str | None, applied: str) -> datetime:
    for text in (created, applied):
        try:
            parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def expiring_lots(rows: Iterable[Any], months: int) -> Iterator[Lot | int]:
    """The outstanding lots of ledger ``rows`` (customer_id, kind, points, store_id, created_at, applied_at),
    ordered by customer then time; yields each customer's remaining ``Lot``s and, for a customer whose burns
    outran their earns, the overdrawn points as an ``int``."""
    customer: str | None = None
    lots: deque[Lot] = deque()
    overdrawn = 0
    for cid, kind, points, store_id, created, applied in rows:
        if cid != customer:
            yield from lots
            if overdrawn:
                yield overdrawn
            customer, lots, overdrawn = cid, deque(), 0
        if kind == "earn":
            earned = _when(created, applied)
            lots.append(Lot(store_id, add_months(earned, months) if months > 0 else NEVER, int(points)))
            continue
        left = int(points)
        while left and lots:
            used = min(left, lots[0].points)
            lots[0].points -= used
            left -= used
            if not lots[0].points:
                lots.popleft()
        overdrawn += left
    yield from lots
    if overdrawn:
        yield overdrawn


def report(conn: Connection, at: str) -> dict[str, Any]:
    """The liability as of ``at`` (ISO UTC): ``{programme, as_of, point_value_cents, expiry_months,
    stores: [{store_id, points, value_cents, expiring: {"30": points, ...}, expiring_value_cents: {...}}],
    total: {same figures}, overdrawn_points, balances_points}``. ``balances_points`` (the sum of the members'
    balances) equals ``total.points - overdrawn_points`` when every balance came through the ledger."""
    rules = loyalty_rules(conn)
    months = get_rules(conn).expiry_months  # the programme's (hub programme set expiry_months=N; 0: never)
    now = _when(at, at)
    limits = {str(d): now + timedelta(days=d) for d in WINDOWS_DAYS}
    lc = ledger.c
    rows = conn.execute(select(lc.customer_id, lc.kind, lc.points, lc.store_id, lc.created_at, lc.applied_at)
                        .order_by(lc.customer_id, lc.created_at, lc.applied_at, lc.entry_id))
    per_store: dict[str, dict[str, Any]] = {}
    overdrawn = 0
    for lot in expiring_lots(rows, months):
        if isinstance(lot, int):
            overdrawn += lot
            continue
        figures = per_store.setdefault(lot.store_id, {"points": 0, "expiring": dict.fromkeys(limits, 0)})
        figures["points"] += lot.points
        for days, limit in limits.items():
            if lot.expires_at <= limit:
                figures["expiring"][days] += lot.points
    total = {"points": sum(f["points"] for f in per_store.values()),
             "expiring": {d: sum(f["expiring"][d] for f in per_store.values()) for d in limits}}
    balances = conn.execute(select(func.coalesce(func.sum(customers.c.balance), 0))).scalar()
    programme = conn.execute(select(config.c.value).where(config.c.key == PROGRAMME_CONFIG_KEY)).scalar()

    def valued(figures: dict[str, Any]) -> dict[str, Any]:
        return {**figures, "value_cents": points_value_cents(figures["points"], rules),
                "expiring_value_cents": {d: points_value_cents(p, rules) for d, p in figures["expiring"].items()}}

    return {"programme": programme or DEFAULT_PROGRAMME, "as_of": at, "point_value_cents": rules.point_value_cents,
            "expiry_months": months,
            "stores": [{"store_id": sid, **valued(f)} for sid, f in sorted(per_store.items())],
            "total": valued(total), "overdrawn_points": overdrawn, "balances_points": int(balances or 0)}
