"""The outgoing notification queue (presence notifications for the webhook today; member notifications
later): claimed, delivered or failed, each sent once across hub processes.

``claim`` takes due rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's single writer
serialises claimers) and, in the same transaction, moves their ``next_attempt_at`` forward by a lease
(``lease_s``), so another process neither waits for them nor takes them until the lease runs out (a
deliverer killed mid-send is retried by another after the lease). ``delivered``/``failed`` then settle the
attempt. Times are ISO 8601 UTC text; ``attempts`` counts finished attempts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from sync.hub.common import now_iso
from sync.hub.ledger import add_exception
from sync.hub.tables import presence_notifications as pn

CLAIM_COLUMNS = ("event_id", "store_id", "device_id", "type", "payload", "received_at", "attempts")
LEASE_S = 60.0


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def claim(conn: Connection, limit: int, max_attempts: int, *, lease_s: float = LEASE_S) -> list[dict[str, Any]]:
    """Up to ``limit`` due notifications (oldest first) that no other process holds, leased for ``lease_s``
    seconds. Rows locked by a concurrent claimer are skipped, not waited for."""
    due = conn.execute(
        select(*(pn.c[c] for c in CLAIM_COLUMNS))
        .where(pn.c.delivered_at.is_(None), pn.c.attempts < max_attempts, pn.c.next_attempt_at <= now_iso())
        .order_by(pn.c.received_at).limit(limit).with_for_update(skip_locked=True)).all()
    if due:
        conn.execute(update(pn).where(pn.c.event_id.in_([r[0] for r in due])).values(next_attempt_at=_later(lease_s)))
    return [dict(r._mapping) for r in due]


def delivered(conn: Connection, event_id: str) -> None:
    conn.execute(update(pn).where(pn.c.event_id == event_id)
                 .values(delivered_at=now_iso(), attempts=pn.c.attempts + 1, last_error=None))


def failed(conn: Connection, event_id: str, error: str, retry_at: str, max_attempts: int | None = None) -> None:
    """Record a failed delivery, retried at ``retry_at``; the one that uses up ``max_attempts`` is reported as
    ``webhook_failed`` in the exceptions report."""
    conn.execute(update(pn).where(pn.c.event_id == event_id)
                 .values(attempts=pn.c.attempts + 1, last_error=error[:500], next_attempt_at=retry_at))
    row = conn.execute(select(pn.c.attempts, pn.c.store_id, pn.c.device_id, pn.c.type)
                       .where(pn.c.event_id == event_id)).first()
    if max_attempts is not None and row is not None and row[0] == max_attempts:
        # the deliverer stops here: without this row nobody would learn the notification was lost
        add_exception(conn, "webhook_failed", f"presence notification {event_id} ({row[3]}) was not delivered after "
                      f"{row[0]} attempts; last error: {error[:300]}", detected_at=now_iso(), store_id=row[1],
                      device_id=row[2])


def listing(conn: Connection) -> list[dict[str, Any]]:
    cols = ("event_id", "type", "attempts", "delivered_at", "last_error")
    return [dict(r._mapping) for r in conn.execute(select(*(pn.c[c] for c in cols)).order_by(pn.c.received_at))]
