"""The outbox state machine on a real SQLite file, and the protocol's parsers on bad input."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.db.connection import open_database
from sync import outbox, protocol
from sync.client import full_jitter, parse_retry_after


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    return open_database(tmp_path / "store.db")


def _fill(db, n: int, size: int = 10) -> None:  # type: ignore[no-untyped-def]
    with db.conn:
        for i in range(n):
            outbox.enqueue(db, "feedback.submitted", {"id": f"f{i}", "score": 7, "pad": "x" * size})


def test_states_move_pending_in_flight_acked_or_dead(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 5)
    batch = outbox.claim_batch(db, 3, 1_000_000)
    assert [r.seq for r in batch] == [1, 2, 3]
    st = outbox.stats(db)
    assert (st.pending, st.in_flight) == (2, 3)
    outbox.settle(db, [1, 3], [(2, "bad payload")])
    st = outbox.stats(db)
    assert (st.pending, st.in_flight, st.acked, st.dead) == (2, 0, 2, 1)
    assert st.dead_letters[0].reason == "bad payload"
    assert [r.seq for r in outbox.claim_batch(db, 10, 1_000_000)] == [4, 5]


def test_in_flight_rows_are_resumed_and_released_in_order(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 4)
    outbox.claim_batch(db, 2, 1_000_000)
    assert outbox.resume_in_flight(db) == 2  # as at start-up after a crash
    assert [r.seq for r in outbox.claim_batch(db, 2, 1_000_000)] == [1, 2]
    outbox.release(db, [1, 2], "connection broke")
    assert [r.seq for r in outbox.claim_batch(db, 4, 1_000_000)] == [1, 2, 3, 4]


def test_batches_are_bounded_by_bytes_but_never_empty(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 10, size=1000)
    assert len(outbox.claim_batch(db, 10, 3 * (1000 + outbox.EVENT_OVERHEAD_BYTES + 35))) == 3  # payload ~1032 B
    assert len(outbox.claim_batch(db, 10, 10)) == 1


def test_compaction_keeps_pending_and_dead(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 3)
    outbox.claim_batch(db, 3, 1_000_000)
    outbox.settle(db, [1], [(2, "no")])
    outbox.release(db, [3], "x")
    assert outbox.compact(db, 7) == 0
    assert outbox.compact(db, 7, now=datetime.now(UTC) + timedelta(days=8)) == 1
    st = outbox.stats(db)
    assert (st.acked, st.dead, st.pending) == (0, 1, 1)


def test_oldest_pending_age(db) -> None:  # type: ignore[no-untyped-def]
    assert outbox.stats(db).oldest_pending_age_s() is None
    _fill(db, 1)
    later = datetime.now(UTC) + timedelta(hours=2)
    age = outbox.stats(db).oldest_pending_age_s(later)
    assert age is not None and 7190 < age < 7210


def test_full_jitter_is_bounded_and_capped() -> None:
    rng = random.Random(1)
    samples = [full_jitter(a, 0.5, 30.0, rng) for a in range(20) for _ in range(50)]
    assert min(samples) >= 0 and max(samples) <= 30.0
    assert max(full_jitter(0, 0.5, 30.0, rng) for _ in range(100)) <= 0.5
    assert max(full_jitter(10, 0.5, 30.0, rng) for _ in range(200)) > 15  # grows to the cap


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    when = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    value = parse_retry_after(when)
    assert value is not None and 25 < value <= 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([], "JSON object"),
        ({"protocol": 2, "events": []}, "protocol version"),
        ({"protocol": 1, "events": {}}, "must be a list"),
    ],
)
def test_push_envelope_errors_are_sentences(body: object, needle: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=needle):
        protocol.parse_push(body)


def test_event_checks_reject_one_event_not_the_batch() -> None:
    good = {"id": "a", "device_id": "d", "store_id": "s", "seq": 1, "type": "x", "payload": {}, "device_time": "t"}
    assert protocol.check_event(good)[0] is not None
    assert protocol.check_event({**good, "seq": True})[1] == "'seq' has the wrong type (bool)"
    assert protocol.check_event({**good, "payload": None})[1] == "the event has no 'payload'"
    assert protocol.check_event("x")[1] == "an event must be a JSON object"
    ev, made = protocol.check_event(good)[0], protocol.Event(**good)  # type: ignore[arg-type]
    assert ev == made and vars(ev) == vars(made) and repr(ev) == repr(made)  # built without the dataclass __init__
    with pytest.raises(AttributeError):
        ev.seq = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"device_time": "2026-11-23T10:00:00.000+01:00 é"}, None),
        ({"seq": 2**63}, "'seq' must be at most 2^63-1, got 9223372036854775808"),
        ({"id": "x" * 65}, "the event's 'id' is too long"),
        ({"type": "ledger.earn\x00"}, "the event's 'type' contains a NUL character"),
        ({"device_time": "t\ud800"}, "the event's 'device_time' is not valid UTF-8 (a lone surrogate)"),
        ({"device_time": "t" * 41}, "the event's 'device_time' is too long"),
    ],
)
def test_the_hub_checks_the_envelope_it_stores(change: dict[str, object], problem: str | None) -> None:
    from sync.hub.ingest import _envelope_problem

    fields = {"id": "e1", "device_id": "d", "store_id": "s", "seq": 1, "type": "ledger.earn", "payload": {},
              "device_time": "2026-11-23T10:00:00.000Z", **change}
    assert _envelope_problem(protocol.Event(**fields)) == problem  # type: ignore[arg-type]


def test_bodies_decode_and_bounds_hold() -> None:
    raw = protocol.encode_push([], compress=True)
    assert protocol.decode_body(raw, "gzip") == {"protocol": 1, "events": []}
    with pytest.raises(protocol.ProtocolError, match="not valid gzip"):
        protocol.decode_body(b"nope", "gzip")
    with pytest.raises(protocol.ProtocolError, match="truncated|not valid gzip"):
        protocol.decode_body(gzip.compress(b"{}")[:-6], "gzip")
    with pytest.raises(protocol.ProtocolError, match="Content-Encoding"):
        protocol.decode_body(b"{}", "br")
    with pytest.raises(protocol.ProtocolError, match="cursor"):
        protocol.decode_cursor("c2.5")
    assert protocol.decode_cursor(protocol.encode_cursor(42)) == 42
    with pytest.raises(protocol.ProtocolError, match="malformed result"):
        protocol.parse_push_response({"results": [{"id": "a", "status": "maybe"}]})
