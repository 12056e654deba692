"""The programme's periodic jobs: points expiry, tier evaluation and the birthday coupons due (``store-edge
hub run-jobs``, and every ``JOBS_INTERVAL_S`` inside ``hub serve``).

Both are idempotent and work in pages, one transaction each, so a run can stop anywhere and the next one
carries on: an expired lot is closed (``expired_at``) in the same transaction as its ledger row (entry id
``expiry:<lot>``, reason "points expired", source ``expiry:<lot>``); a tier review is marked on the member
(``tier_reviewed_at``) with the tier it decided. Members whose profile changed are re-sent to their stores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from edge.core.programme import iso
from sync.hub import members, programme
from sync.hub.ledger import Batch, existing_entries
from sync.hub.tables import customers, point_lots

JOBS_INTERVAL_S = 3600.0
PAGE = 1_000
EXPIRY_REASON = "points expired"


def expire_page(conn: Connection, now: datetime, page: int = PAGE) -> tuple[int, int]:
    """Expire up to ``page`` lots past their date that still hold points: (lots closed, points expired).
    A lot holding more than the balance (an overdraft took the points) expires only what the balance has."""
    lc = point_lots.c
    due = conn.execute(select(lc.lot_id, lc.customer_id, lc.remaining)
                       .where(lc.expires_at <= iso(now), lc.remaining > 0, lc.expired_at.is_(None))
                       .order_by(lc.customer_id, lc.expires_at, lc.lot_id).limit(page)).all()
    if not due:
        return 0, 0
    batch = Batch(iso(now))
    batch.applied_entries = existing_entries(conn, [f"expiry:{lot}" for lot, _, _ in due])
    expired = 0
    for lot_id, cid, remaining in due:
        source = f"expiry:{lot_id}"
        points = min(int(remaining), max(batch._balance(conn, cid), 0))
        if points <= 0 or source in batch.applied_entries:
            batch._burn_lots(conn, cid, 0, source)  # nothing left to take: the lot is just closed
            continue
        batch.ledger(conn, {"entry_id": source, "customer_id": cid, "kind": "burn", "points": points,
                            "sale_id": None, "reason": EXPIRY_REASON, "source": source, "store_id": "hub",
                            "device_id": "hub", "event_id": "hub", "created_at": iso(now)})
        expired += points
    batch.flush(conn)
    members.customers_changed(conn, sorted(batch.touched))
    return len(due), expired


def evaluate_page(conn: Connection, now: datetime, after: str, page: int = PAGE) -> tuple[str | None, int]:
    """Evaluate the tiers of up to ``page`` members with ids after ``after``: (the last id, or None when there
    were none; how many changed tier or spend)."""
    ids = [r[0] for r in conn.execute(select(customers.c.id).where(customers.c.id > after)
                                      .order_by(customers.c.id).limit(page))]
    if not ids:
        return None, 0
    changed = programme.refresh_tiers(conn, ids, now)
    members.customers_changed(conn, changed)
    return ids[-1], len(changed)


def birthday_coupons(conn: Connection, now: datetime) -> int:
    """Issue the birthday coupons due today under the programme's rules (``birthday_coupon_cents`` 0: none);
    idempotent per member per year (``personal_coupons.issue_birthday_coupons``). How many were issued."""
    from sync.hub import personal_coupons

    rules = programme.get_rules(conn)
    if rules.birthday_coupon_cents <= 0:
        return 0
    plan = personal_coupons.BirthdayPlan(rules.birthday_coupon_cents, rules.birthday_days_before,
                                         rules.birthday_valid_days)
    issued = personal_coupons.issue_birthday_coupons(conn, now.date(), plan)
    members.customers_changed(conn, [i["customer_id"] for i in issued])
    return len(issued)


def summary(expired_lots: int, expired_points: int, tiers_changed: int, birthday_coupons: int = 0
            ) -> dict[str, Any]:
    """What a run did, as ``hub run-jobs --json`` prints it."""
    return {"expired_lots": expired_lots, "expired_points": expired_points, "profiles_changed": tiers_changed,
            "birthday_coupons": birthday_coupons}
