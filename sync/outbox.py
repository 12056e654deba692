"""The durable outbox: every change that must reach the hub is written here in the caller's transaction.

States: pending -> in_flight -> acked, or dead (rejected by the hub, with the reason kept). ``seq`` is the
per-device sequence number; events are pushed in ``seq`` order, one batch at a time, so the hub sees each
device's events in order. A batch whose answer never arrived goes back to pending (``release`` or, after a
crash, ``resume_in_flight``) and is sent again; the hub's idempotency makes the repeat harmless.
"""

from __future__ import annotations

import json

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson = None  # type: ignore[assignment]
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from sync.ids import uuid7

PENDING, IN_FLIGHT, ACKED, DEAD = "pending", "in_flight", "acked", "dead"
# the bytes an event adds to a push body beyond its payload (ids, type, time, JSON punctuation)
EVENT_OVERHEAD_BYTES = 220


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _payload_json(payload: dict[str, Any]) -> str:
    """Compact JSON with sorted keys; orjson (a sale is on the till's critical path) with the stdlib as fallback
    for what orjson refuses (integers beyond 64 bits, NaN)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(payload, option=_orjson.OPT_SORT_KEYS).decode()
        except (TypeError, _orjson.JSONEncodeError):
            pass
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def enqueue(db: sqlite_utils.Database, type_: str, payload: dict[str, Any], *, event_id: str | None = None) -> str:
    """Append one event. Call inside the transaction that makes the change, so both commit or neither does."""
    event_id = event_id or uuid7()
    now = utc_now_iso()
    db.execute(
        "INSERT INTO outbox (event_id, type, payload, device_time, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [event_id, type_, _payload_json(payload), now, PENDING, now],
    )
    return event_id


def pending_count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM outbox WHERE state IN (?, ?)", [PENDING, IN_FLIGHT]).fetchone()[0])


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    type: str
    payload: str  # JSON text, sent as is
    device_time: str


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    event_id: str
    type: str
    reason: str
    updated_at: str


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    in_flight: int
    acked: int
    dead: int
    oldest_pending_time: str | None
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def unsent(self) -> int:
        return self.pending + self.in_flight

    def oldest_pending_age_s(self, now: datetime | None = None) -> float | None:
        if self.oldest_pending_time is None:
            return None
        then = datetime.fromisoformat(self.oldest_pending_time.replace("Z", "+00:00"))
        return max(0.0, ((now or datetime.now(UTC)) - then).total_seconds())


def _immediate(db: sqlite_utils.Database) -> None:
    # take the write lock up front: a claim must not interleave with another claimer's
    if not db.conn.in_transaction:
        db.conn.execute("BEGIN IMMEDIATE")


def claim_batch(db: sqlite_utils.Database, max_events: int, max_bytes: int) -> list[OutboxRow]:
    """Move the oldest pending events (by ``seq``) to in_flight and return them.

    Bounded by count and by approximate encoded size; at least one event is returned when any is pending,
    so a single oversized event cannot wedge the queue (the hub then rejects it with a reason).
    """
    with db.conn:
        _immediate(db)
        rows = db.conn.execute(
            "SELECT seq, event_id, type, payload, device_time FROM outbox WHERE state = ? ORDER BY seq LIMIT ?",
            [PENDING, max(1, max_events)],
        ).fetchall()
        batch: list[OutboxRow] = []
        size = 0
        for seq, event_id, type_, payload, device_time in rows:
            size += len(payload) + EVENT_OVERHEAD_BYTES
            if batch and size > max_bytes:
                break
            batch.append(OutboxRow(seq, event_id, type_, payload, device_time))
        if batch:
            # no pending row lies between the first and last claimed seq, so a range update claims exactly these
            db.conn.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE state = ? AND seq BETWEEN ? AND ?",
                [IN_FLIGHT, utc_now_iso(), PENDING, batch[0].seq, batch[-1].seq],
            )
    return batch


def settle(db: sqlite_utils.Database, acked: list[int], dead: list[tuple[int, str]]) -> None:
    """Record the hub's answer: accepted and duplicate events are acked, rejected ones dead with the reason."""
    now = utc_now_iso()
    with db.conn:
        _immediate(db)
        if acked:
            if acked == list(range(acked[0], acked[0] + len(acked))):
                db.conn.execute(
                    "UPDATE outbox SET state = ?, acked_at = ?, updated_at = ?, last_error = NULL "
                    "WHERE seq BETWEEN ? AND ? AND state = ?",
                    [ACKED, now, now, acked[0], acked[-1], IN_FLIGHT],
                )
            else:
                db.conn.executemany(
                    "UPDATE outbox SET state = ?, acked_at = ?, updated_at = ?, last_error = NULL "
                    "WHERE seq = ? AND state = ?",
                    [(ACKED, now, now, s, IN_FLIGHT) for s in acked],
                )
        if dead:
            db.conn.executemany(
                "UPDATE outbox SET state = ?, last_error = ?, updated_at = ? WHERE seq = ? AND state = ?",
                [(DEAD, reason, now, s, IN_FLIGHT) for s, reason in dead],
            )


def release(db: sqlite_utils.Database, seqs: list[int], error: str) -> None:
    """The batch's fate is unknown (no answer): back to pending, to be sent again in order."""
    if not seqs:
        return
    with db.conn:
        _immediate(db)
        db.conn.execute(
            "UPDATE outbox SET state = ?, last_error = ?, updated_at = ? WHERE state = ? AND seq BETWEEN ? AND ?",
            [PENDING, error, utc_now_iso(), IN_FLIGHT, min(seqs), max(seqs)],
        )


def resume_in_flight(db: sqlite_utils.Database) -> int:
    """At start-up: batches in flight when the process died are sent again."""
    with db.conn:
        cur = db.conn.execute(
            "UPDATE outbox SET state = ?, updated_at = ? WHERE state = ?", [PENDING, utc_now_iso(), IN_FLIGHT]
        )
    return int(cur.rowcount)


def retry_dead(db: sqlite_utils.Database) -> int:
    """Dead letters go back to pending (after the cause was fixed on the hub)."""
    with db.conn:
        cur = db.conn.execute(
            "UPDATE outbox SET state = ?, attempts = 0, updated_at = ? WHERE state = ?", [PENDING, utc_now_iso(), DEAD]
        )
    return int(cur.rowcount)


def compact(db: sqlite_utils.Database, retention_days: float, *, now: datetime | None = None) -> int:
    """Delete acked events older than the retention period; pending and dead rows are never compacted."""
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=retention_days)).isoformat(timespec="milliseconds")
    with db.conn:
        cur = db.conn.execute(
            "DELETE FROM outbox WHERE state = ? AND acked_at < ?", [ACKED, cutoff.replace("+00:00", "Z")]
        )
    return int(cur.rowcount)


def stats(db: sqlite_utils.Database, *, dead_limit: int = 50) -> OutboxStats:
    counts = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    oldest = db.execute(
        "SELECT device_time FROM outbox WHERE state IN (?, ?) ORDER BY seq LIMIT 1", [PENDING, IN_FLIGHT]
    ).fetchone()
    dead = [
        DeadLetter(*r)
        for r in db.execute(
            "SELECT seq, event_id, type, coalesce(last_error, 'no reason recorded'), updated_at FROM outbox "
            "WHERE state = ? ORDER BY seq LIMIT ?",
            [DEAD, dead_limit],
        ).fetchall()
    ]
    return OutboxStats(
        pending=int(counts.get(PENDING, 0)),
        in_flight=int(counts.get(IN_FLIGHT, 0)),
        acked=int(counts.get(ACKED, 0)),
        dead=int(counts.get(DEAD, 0)),
        oldest_pending_time=oldest[0] if oldest else None,
        dead_letters=dead,
    )
