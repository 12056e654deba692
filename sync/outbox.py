"""The durable outbox: every change that must reach the hub is written here in the caller's transaction.

States: pending -> in_flight -> acked, or dead (rejected by the hub, with the reason kept). ``seq`` is the
per-device sequence number; events are pushed in ``seq`` order, one batch at a time, so the hub sees each
device's events in order. A batch whose answer never arrived goes back to pending (``release`` or, after a
crash, ``resume_in_flight``) and is sent again; the hub's idempotency makes the repeat harmless.
"""

from __future__ import annotations

import contextlib
import json
import logging

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson = None  # type: ignore[assignment]
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from edge.core.contract import EventType, check_event_payload
from sync.ids import uuid7

log = logging.getLogger(__name__)

PENDING, IN_FLIGHT, ACKED, DEAD = "pending", "in_flight", "acked", "dead"
# the bytes an event adds to a push body beyond its payload (ids, type, time, JSON punctuation)
EVENT_OVERHEAD_BYTES = 220
# a dead letter buried by this till (not refused by the hub) starts with this; ``doctor`` looks for it
UNREADABLE = "unreadable on this till: "
# a dead letter the till refused to send when it was written (``enqueue``: outside the contract's ranges)
REFUSED_HERE = "not sent, refused on this till: "
_KNOWN_TYPES = frozenset(t.value for t in EventType)


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
    """Append one event. Call inside the transaction that makes the change, so both commit or neither does.

    The payload is checked against the contract first (``edge.core.contract.check_event_payload``: declared
    ranges, finite numbers, clean text). One that fails is written straight to the dead letters with the
    reason (``REFUSED_HERE``): it never leaves the till, the change it belongs to still commits (the customer
    has left with the goods), and ``doctor`` and ``sync status`` show it for a technician."""
    event_id = event_id or uuid7()
    now = utc_now_iso()
    problem = check_event_payload(type_, payload)
    state, error = PENDING, None
    if problem is not None:
        state, error = DEAD, f"{REFUSED_HERE}{problem}; the change is kept on this till, report it to support"
        log.warning("outbox: event %s (%s) not sent: %s", event_id, type_, problem)
    db.execute(
        "INSERT INTO outbox (event_id, type, payload, device_time, state, last_error, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [event_id, type_, _payload_json(payload), now, state, error, now],
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
        try:
            then = datetime.fromisoformat(self.oldest_pending_time.replace("Z", "+00:00"))
        except ValueError:  # a damaged row: its age is unknown (the claim sends it to the dead letters)
            return None
        if then.tzinfo is None:
            then = then.replace(tzinfo=UTC)
        return max(0.0, ((now or datetime.now(UTC)) - then).total_seconds())


def _immediate(db: sqlite_utils.Database) -> None:
    # take the write lock up front: a claim must not interleave with another claimer's
    if not db.conn.in_transaction:
        db.conn.execute("BEGIN IMMEDIATE")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (RFC 8259)")


def _utf8(name: str, raw: object) -> str:
    """The column's text; ValueError naming the first bad byte (a flipped byte on disk lands here)."""
    if raw is None:
        raise ValueError(f"the {name} is missing")
    data = raw if isinstance(raw, bytes) else str(raw).encode()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the {name} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _check_payload(payload: bytes) -> None:
    """ValueError unless ``payload`` is one JSON object as RFC 8259 defines it (no NaN, no Infinity)."""
    value: Any = None
    parsed = False
    if _orjson is not None:
        # integers beyond 64 bits, or not JSON: orjson refuses, the stdlib decides and words the error
        with contextlib.suppress(_orjson.JSONDecodeError):
            value, parsed = _orjson.loads(payload), True
    if not parsed:
        try:
            value = json.loads(payload, parse_constant=_refuse_constant)
        except RecursionError:
            raise ValueError("the payload is nested too deeply to be read") from None
        except ValueError as exc:
            raise ValueError(f"the payload is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"the payload is a JSON {type(value).__name__}, not an object")


def read_row(seq: int, event_id: object, type_: object, payload: object, device_time: object) -> OutboxRow:
    """An outbox row as raw column values (bytes, as ``CAST(... AS BLOB)`` reads them) checked to be sendable:
    valid UTF-8, a payload that is a JSON object, an event type the protocol knows (``edge.core.contract``).
    Raises ValueError with the reason otherwise: one unreadable row must not make the hub refuse a batch."""
    text_id = _utf8("event id", event_id)
    text_type = _utf8("event type", type_)
    text_time = _utf8("device time", device_time)
    raw_payload = payload if isinstance(payload, bytes) else _utf8("payload", payload).encode()
    text_payload = _utf8("payload", raw_payload)
    if text_type not in _KNOWN_TYPES:
        raise ValueError(f"the event type {text_type[:40]!r} is not one the sync protocol knows")
    _check_payload(raw_payload)
    return OutboxRow(seq, text_id, text_type, text_payload, text_time)


_RAW_ROWS = ("SELECT seq, CAST(event_id AS BLOB), CAST(type AS BLOB), CAST(payload AS BLOB), "
             "CAST(device_time AS BLOB) FROM outbox")


def unreadable_rows(db: sqlite_utils.Database, limit: int = 20) -> list[tuple[int, str, str]]:
    """(seq, state, reason) of rows not yet acked that cannot be sent as they are (``read_row``), and of rows
    whose state is not one of the four (a damaged row the claim would never see). For ``doctor``."""
    out: list[tuple[int, str, str]] = []
    for seq, state in db.conn.execute(
        "SELECT seq, CAST(state AS BLOB) FROM outbox WHERE state NOT IN (?, ?, ?, ?) ORDER BY seq LIMIT ?",
        [PENDING, IN_FLIGHT, ACKED, DEAD, limit],
    ).fetchall():
        out.append((int(seq), bytes(state).decode("utf-8", "replace"), "its state is not one the outbox knows"))
    rows = db.conn.execute(_RAW_ROWS + " WHERE state IN (?, ?, ?) ORDER BY seq", [PENDING, IN_FLIGHT, DEAD])
    for seq, event_id, type_, payload, device_time in rows:
        if len(out) >= limit:
            break
        try:
            read_row(int(seq), event_id, type_, payload, device_time)
        except ValueError as exc:
            state = db.conn.execute("SELECT state FROM outbox WHERE seq = ?", [seq]).fetchone()[0]
            out.append((int(seq), str(state), str(exc)))
    return out


def claim_batch(db: sqlite_utils.Database, max_events: int, max_bytes: int) -> list[OutboxRow]:
    """Move the oldest pending events (by ``seq``) to in_flight and return them.

    Bounded by count and by approximate encoded size; at least one event is returned when any is pending,
    so a single oversized event cannot wedge the queue (the hub then rejects it with a reason). A row that
    cannot be read (``read_row``: a damaged byte, bad JSON, an unknown type) goes to the dead letters with
    the reason, in the same transaction, and the rows after it are claimed as usual.
    """
    with db.conn:
        _immediate(db)
        rows = db.conn.execute(
            _RAW_ROWS + " WHERE state = ? ORDER BY seq LIMIT ?", [PENDING, max(1, max_events)]
        ).fetchall()
        batch: list[OutboxRow] = []
        unreadable: list[tuple[str, str, str, int]] = []
        size = 0
        for seq, event_id, type_, payload, device_time in rows:
            size += len(payload or b"") + EVENT_OVERHEAD_BYTES
            if (batch or unreadable) and size > max_bytes:
                break
            try:
                batch.append(read_row(seq, event_id, type_, payload, device_time))
            except ValueError as exc:
                unreadable.append((DEAD, f"{UNREADABLE}row {seq}: {exc}", utc_now_iso(), seq))
        if unreadable:
            db.conn.executemany("UPDATE outbox SET state = ?, last_error = ?, updated_at = ? WHERE seq = ?",
                                unreadable)
        if batch:
            # no pending row lies between the first and last claimed seq (unreadable ones are dead by now), so a
            # range update claims exactly these
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


def bury(db: sqlite_utils.Database, seq: int, reason: str) -> None:
    """One event the hub refused on its own (a pending or in-flight row) goes to the dead letters."""
    with db.conn:
        _immediate(db)
        db.conn.execute(
            "UPDATE outbox SET state = ?, last_error = ?, updated_at = ? WHERE seq = ? AND state IN (?, ?)",
            [DEAD, reason, utc_now_iso(), seq, PENDING, IN_FLIGHT],
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
        "SELECT CAST(device_time AS BLOB) FROM outbox WHERE state IN (?, ?) ORDER BY seq LIMIT 1",
        [PENDING, IN_FLIGHT],
    ).fetchone()
    # read as bytes: a dead letter may be one whose text columns are damaged (see ``claim_batch``)
    dead = [
        DeadLetter(int(seq), *(bytes(v or b"").decode("utf-8", "replace") for v in rest))
        for seq, *rest in db.execute(
            "SELECT seq, CAST(event_id AS BLOB), CAST(type AS BLOB), "
            "CAST(coalesce(last_error, 'no reason recorded') AS BLOB), CAST(updated_at AS BLOB) FROM outbox "
            "WHERE state = ? ORDER BY seq LIMIT ?",
            [DEAD, dead_limit],
        ).fetchall()
    ]
    return OutboxStats(
        pending=int(counts.get(PENDING, 0)),
        in_flight=int(counts.get(IN_FLIGHT, 0)),
        acked=int(counts.get(ACKED, 0)),
        dead=int(counts.get(DEAD, 0)),
        oldest_pending_time=bytes(oldest[0] or b"").decode("utf-8", "replace") if oldest else None,
        dead_letters=dead,
    )
