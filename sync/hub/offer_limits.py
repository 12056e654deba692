"""Usage limits on offers (issue 15 item 3): per member per period and a total budget (``contract.
offer_limits_problem``), counted at the hub from the pushed sales.

A use is one sale the offer gave a discount to (``sale.completed`` ``discounts``), recorded once per (offer,
sale) in ``offer_redemptions``. The tills enforce what they know offline (the hub's counts, sent as the
offer's ``used_total`` and the member's ``offer_uses``, plus their own sales not yet sent); a use past a limit
can still happen (two tills offline at once), and the hub reports it: ``offer_limit_exceeded`` (a member over
``per_customer`` in ``period_days``) or ``offer_budget_exceeded`` (over ``total``). The sale stands.
Functions take the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from edge.core.contract import ChangeKind
from sync.hub.changes import record_scoped
from sync.hub.common import chunks
from sync.hub.db import insert
from sync.hub.ledger import Batch
from sync.hub.tables import offer_redemptions, offers

_COUNT: Any = {"preserve_rowcount": True}


def limited_offers(conn: Connection) -> dict[str, dict[str, Any]]:
    """offer id -> (limits, customer_id) of every offer with limits (few: read once per push)."""
    out: dict[str, dict[str, Any]] = {}
    for oid, data in conn.execute(select(offers.c.id, offers.c.data).where(offers.c.data.like('%"limits": {"%'))):
        doc = json.loads(data)
        if isinstance(doc.get("limits"), dict) and doc["limits"]:
            out[oid] = {"limits": doc["limits"], "customer_id": doc.get("customer_id")}
    return out


def _since(at: str, days: int) -> str:
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (moment - timedelta(days=days)).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def used_total(conn: Connection, offer_id: str) -> int:
    return int(conn.execute(select(func.count()).select_from(offer_redemptions)
                            .where(offer_redemptions.c.offer_id == offer_id)).scalar() or 0)


def _member_uses(conn: Connection, offer_id: str, customer_id: str, since: str) -> int:
    r = offer_redemptions.c
    return int(conn.execute(select(func.count()).select_from(offer_redemptions).where(
        r.offer_id == offer_id, r.customer_id == customer_id, r.redeemed_at >= since)).scalar() or 0)


def count_sale(conn: Connection, batch: Batch, payload: dict[str, Any], *, sale_id: str, customer_id: str | None,
               store_id: str, device_id: str, at: str) -> None:
    """Count the sale's uses of limited offers (once per offer and sale) and report any limit it passes. The
    limited offers are read once per push, and only once a sale names an offer."""
    discounts = payload.get("discounts")
    used = {d.get("offer_id") for d in discounts if isinstance(d, dict)} if isinstance(discounts, list) else set()
    if not used:
        return
    if "limited_offers" not in batch.context:
        batch.context["limited_offers"] = limited_offers(conn)
    limited: dict[str, dict[str, Any]] = batch.context["limited_offers"]
    for offer_id in sorted(o for o in used if isinstance(o, str) and o in limited):
        added = conn.execute(insert(conn, offer_redemptions).values(
            offer_id=offer_id, sale_id=sale_id, customer_id=customer_id, store_id=store_id, redeemed_at=at)
            .on_conflict_do_nothing(), execution_options=_COUNT).rowcount
        if not added:
            continue
        limits = limited[offer_id]["limits"]
        where = dict(entry_id=sale_id, customer_id=customer_id, store_id=store_id, device_id=device_id)
        total = used_total(conn, offer_id)
        if "total" in limits and total > int(limits["total"]):
            batch.report("offer_budget_exceeded", f"offer {offer_id} was used {total} times, over its budget of "
                         f"{limits['total']}: sale {sale_id} in store {store_id}", **where)
        if "per_customer" in limits and customer_id is not None:
            n = _member_uses(conn, offer_id, customer_id, _since(at, int(limits["period_days"])))
            if n > int(limits["per_customer"]):
                batch.report("offer_limit_exceeded", f"customer {customer_id} used offer {offer_id} {n} times in "
                             f"{limits['period_days']} days, over the limit of {limits['per_customer']}: sale "
                             f"{sale_id} in store {store_id}", **where)
        if "total" in limits:  # the tills re-read how much of the budget is left
            record_scoped(conn, ChangeKind.OFFER, offer_id, limited[offer_id]["customer_id"])


def customers_uses(conn: Connection, customer_ids: Sequence[str], now: str | None = None) -> dict[str, dict[str, int]]:
    """``customer_uses`` of many members: one count per limited offer and ``CHUNK`` of ids (a pull page names
    dozens of changed members); customer id -> {offer id: uses} (offers with no use left out)."""
    now = now or datetime.now(UTC).isoformat()
    out: dict[str, dict[str, int]] = {cid: {} for cid in customer_ids}
    r = offer_redemptions.c
    for offer_id, doc in limited_offers(conn).items():
        limits = doc["limits"]
        if "per_customer" not in limits:
            continue
        since = _since(now, int(limits["period_days"]))
        for chunk in chunks(sorted(out)):
            for cid, uses in conn.execute(select(r.customer_id, func.count()).where(
                    r.offer_id == offer_id, r.customer_id.in_(chunk), r.redeemed_at >= since).group_by(r.customer_id)):
                if uses:
                    out[cid][offer_id] = int(uses)
    return out


def customer_uses(conn: Connection, customer_id: str, now: str | None = None) -> dict[str, int]:
    """offer id -> the member's uses within the offer's ``period_days`` up to ``now``, for offers with a
    per-member limit (what the member's profile tells the tills)."""
    return customers_uses(conn, [customer_id], now)[customer_id]
