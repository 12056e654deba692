"""Loyalty app codes seen at this store's tills: the store layer writes them (and their outbox event)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils

from edge.core.contract import EventType
from edge.db.connection import immediate
from sync.outbox import enqueue


def record_token_sighting(
    db: sqlite_utils.Database,
    *,
    token_id: str,
    customer_id: str,
    till_id: str,
    now: datetime,
    expires_at: float | None,
) -> bool:
    """Remember that ``till_id`` saw the code ``token_id`` (a hash, never the code) at ``now``; one row per
    code and till, plus a ``loyalty.token_seen`` outbox event, in one transaction.

    ``expires_at``: the code's expiry in Unix seconds (None: now). Returns True when another till saw the same
    code within its validity window - a possible copy of the customer's code.
    """
    expires = datetime.fromtimestamp(expires_at or now.timestamp(), UTC).isoformat()
    seen = now.isoformat()
    with immediate(db):  # reads then writes: take the write lock first (edge.db.connection.immediate)
        seen_elsewhere = db.execute(
            "SELECT count(*) FROM token_sightings WHERE token_hash = ? AND till_id != ? AND expires_at > ?",
            [token_id, till_id, seen],
        ).fetchone()[0]
        db.execute(
            "INSERT OR REPLACE INTO token_sightings (token_hash, till_id, customer_id, seen_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [token_id, till_id, customer_id, seen, expires],
        )
        enqueue(db, EventType.LOYALTY_TOKEN_SEEN, {"token_hash": token_id, "till_id": till_id,
                                                   "customer_id": customer_id, "seen_at": seen,
                                                   "expires_at": expires})  # fmt: skip
    return bool(seen_elsewhere)
