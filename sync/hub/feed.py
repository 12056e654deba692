"""The change feed a till pulls (``GET /v1/changes``): ordered, resumable, never skipping a change.

Writers append ``(kind, key, store_id)`` rows (``sync.hub.changes``) without any lock between them, so on
PostgreSQL change rows become visible in commit order, not in ``version`` order: a transaction that wrote
version 10 may commit after one that wrote version 11. A cursor "after version 11" would then skip 10 forever.

The technique (PostgreSQL transaction-id snapshots, as used by transactional-outbox relays): each row records
the id of the transaction that wrote it (``txid``, ``pg_current_xact_id()``). A pull reads the oldest
transaction still running, ``pg_snapshot_xmin(pg_current_snapshot())``, and returns only rows with
``txid`` below it, in ``(txid, version)`` order. Every transaction below that horizon has ended, so no row can
appear later below it; every transaction still running, or yet to start, has a txid at or above it. The
cursor ``(txid, version)`` of the last row returned therefore only ever moves past rows that are final:
nothing is skipped and, the order being total, nothing is sent twice. Rows of a transaction that is still
open are held back (a pull waits up to ``wait_s`` for it, then answers without them; the next pull has them).

SQLite has one writer at a time, so versions commit in order there; ``txid`` stays 0 and the cursor is the
version alone. Cursors are opaque to the till: ``c1.<version>`` (SQLite, and every cursor issued before this
feed) or ``c2.<txid>.<version>``; a ``c1`` cursor reads as ``(0, version)``, so old cursors stay valid.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Text, cast, exists, func, or_, select, tuple_

from edge.core.contract import MAX_SAFE_INT, ChangeKind
from sync import protocol
from sync.hub import admin, members, offers, presence, programme, rewards
from sync.hub.common import DeviceAuth, now_iso
from sync.hub.db import POSTGRES, Database
from sync.hub.ledger import add_exception
from sync.hub.tables import changes, customer_stores, exceptions

_log = logging.getLogger(__name__)
_PERSONAL = (ChangeKind.OFFER, ChangeKind.COUPON)
PULL_SKIP = "pull_skip"  # the exceptions report's kind for a stored change a pull could not serve

HORIZON = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
_KIND_ORDER = {ChangeKind.STORE: 0, ChangeKind.CUSTOMER: 0, ChangeKind.PRODUCT: 1, ChangeKind.OFFER: 2, ChangeKind.COUPON: 3,
               ChangeKind.SIGNING_KEY: 4, ChangeKind.REVOCATION: 5, ChangeKind.STORE_BEACON: 6,
               ChangeKind.PRESENCE_IDENTITY: 6, ChangeKind.PRESENCE_RULE: 6, ChangeKind.SIGHTING: 7,
               ChangeKind.TOKEN_SIGHTING: 7, ChangeKind.PROGRAMME: -1, ChangeKind.REWARD: 3}
_SNAPSHOTS: dict[str, Any] = {
    ChangeKind.PRODUCT: offers.product_snapshot, ChangeKind.OFFER: offers.offer_snapshot,
    ChangeKind.COUPON: offers.coupon_snapshot, ChangeKind.SIGNING_KEY: admin.signing_key_snapshot,
    ChangeKind.REVOCATION: admin.revocation_snapshot, ChangeKind.CUSTOMER: members.snapshot,
    ChangeKind.PROGRAMME: programme.rules_snapshot,
    ChangeKind.STORE: admin.store_snapshot,
    ChangeKind.REWARD: rewards.snapshot,
}
Position = tuple[int, int]  # (txid, version)


def encode_cursor(position: Position) -> str:
    txid, version = position
    return protocol.encode_cursor(version) if txid == 0 else f"c2.{txid}.{version}"


def decode_cursor(cursor: str | None) -> Position:
    """A cursor this hub issued -> (txid, version); ``ProtocolError`` (400) for anything else."""
    if cursor and cursor.startswith("c2."):
        parts = cursor[3:].split(".")
        if len(cursor) <= 48 and len(parts) == 2 and all(p.isdigit() and len(p) <= 19 for p in parts):
            return int(parts[0]), int(parts[1])
        raise protocol.ProtocolError(f"the cursor {cursor[:40]!r} was not issued by this hub; pull again from the "
                                     "start")
    return 0, protocol.decode_cursor(cursor)


def _for_store(store_id: str) -> Any:
    return or_(changes.c.store_id.is_(None), changes.c.store_id == store_id)


def _page_rows(conn: Connection, store_id: str, after: Position, limit: int) -> tuple[Sequence[Any], bool]:
    """(rows of (txid, version, kind, key) up to ``limit + 1``, whether rows are held back behind an open
    transaction)."""
    c = changes.c
    if conn.dialect.name != POSTGRES:
        rows = conn.execute(select(c.txid, c.version, c.kind, c.key).where(c.version > after[1], _for_store(store_id))
                            .order_by(c.version).limit(limit + 1)).all()
        return rows, False
    horizon = int(conn.execute(select(HORIZON)).scalar_one())
    position = tuple_(c.txid, c.version) > tuple_(after[0], after[1])
    rows = conn.execute(select(c.txid, c.version, c.kind, c.key)
                        .where(position, c.txid < horizon, _for_store(store_id))
                        .order_by(c.txid, c.version).limit(limit + 1)).all()
    held = False
    if len(rows) <= limit:
        held = bool(conn.execute(select(exists().where(position, c.txid >= horizon, _for_store(store_id)))).scalar())
    return rows, held


def snapshot(conn: Connection, kind: str, key: str, store_id: str) -> dict[str, Any] | None:
    """The current state of one changed thing as ``store_id``'s tills receive it (None: delete it there).
    A personal offer or coupon of a customer not relevant to the store reads as None: it never reaches it."""
    fn = _SNAPSHOTS.get(kind)
    data = presence.snapshot(conn, kind, key, store_id) if fn is None else fn(conn, key, store_id)
    if kind in _PERSONAL and data is not None and isinstance(cid := data.get("customer_id"), str):
        scoped = conn.execute(select(customer_stores.c.customer_id).where(
            customer_stores.c.customer_id == cid, customer_stores.c.store_id == store_id)).first()
        return data if scoped is not None else None
    return data


def _unservable(value: Any) -> str | None:
    """Why ``value`` (nested dicts and lists, as decoded from the database) cannot go into a page, or None: an
    integer a till cannot keep exactly (beyond +-2^53), a number that is not finite, a string (value or key)
    that is not valid UTF-8 (a lone surrogate), a value of a type JSON does not have. One walk, in place of
    encoding each change before the page is encoded: ASCII strings, None, booleans and safe integers are passed
    over without a call (a profile holds thousands of entry ids)."""
    if value is None or value is True or value is False:
        return None
    if isinstance(value, str):
        return None if value.isascii() else _text_problem(value)
    if isinstance(value, int):
        return None if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else _beyond(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"the number {value!r} is not finite (JSON has no such number)"
        return _beyond(int(value)) if value.is_integer() and abs(value) > MAX_SAFE_INT else None
    if isinstance(value, dict):
        problem = _keys_problem(value)
        if problem:
            return problem
        items: Any = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return f"a value of type {type(value).__name__} is not JSON"
    for item in items:
        ti = type(item)
        if (ti is str and item.isascii()) or item is None or ti is bool or (ti is int and -MAX_SAFE_INT <= item <= MAX_SAFE_INT):
            continue
        found = _unservable(item)
        if found:
            return found
    return None


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a string is not valid UTF-8 (a lone surrogate)"
    return None


def _keys_problem(value: dict[Any, Any]) -> str | None:
    """The first object key of ``value`` JSON cannot carry (``_unservable`` of a text key, ``_key_problem``)."""
    return next((p for k in value if (p := _unservable(k) if isinstance(k, str) else _key_problem(k))), None)


def _key_problem(key: Any) -> str | None:
    """An object key JSON writes as text (numbers, booleans, None: as the stdlib encoder does), or why not."""
    return None if key is None or isinstance(key, int | float) else f"an object key of type {type(key).__name__}"


def _beyond(number: int) -> str:
    return f"the number {number} is beyond what a till keeps exactly (+-2^53)"


_MISSING = object()
# kinds whose snapshots a page reads together (the catalogue fan-out: hundreds of products per page; the members
# a busy push changed: dozens per page)
_BATCHED: dict[str, Any] = {ChangeKind.PRODUCT: offers.product_snapshots, ChangeKind.CUSTOMER: members.snapshots}


def _prefetch(conn: Connection, keys: Sequence[tuple[str, str]], store_id: str) -> dict[tuple[str, str], Any]:
    """The snapshots of a page's batched kinds, read together: (kind, key) -> data (None: gone).
    A stored value that cannot be read (the errors ``_served`` catches) leaves the kind out: its changes are
    then read one by one, so only the bad one is skipped."""
    out: dict[tuple[str, str], Any] = {}
    for kind, fn in _BATCHED.items():
        wanted = [key for k, key in keys if k == kind]
        try:
            found = fn(conn, wanted, store_id) if wanted else {}
        except (ValueError, TypeError, KeyError, OverflowError):
            continue
        out.update({(kind, key): data for key, data in found.items()})
    return out


def _served(conn: Connection, kind: str, key: str, device: DeviceAuth,
            skipped: list[tuple[str, str, str]], known: Any = _MISSING) -> protocol.Change | None:
    """One change as served, or None when what is stored cannot be served: logged and added to ``skipped``
    as (kind, key, reason) for the exceptions report (``pull``); the page goes on. ``known``: its snapshot
    when the page read it already (``_prefetch``)."""
    try:
        data = snapshot(conn, kind, key, device.store_id) if known is _MISSING else known
        if data is not None:
            # what the answer could not carry, stored before checks existed (the page is encoded once, later)
            problem = _unservable(data)
            if problem is not None:
                raise ValueError(problem)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        _log.error("change %s/%s cannot be served to store %s and was skipped: %s", kind, key, device.store_id, exc)
        skipped.append((kind, key, " ".join(str(exc).split())[:300]))
        return None
    return protocol.Change(kind, key, data)


def report_skips(conn: Connection, device: DeviceAuth, skipped: Sequence[tuple[str, str, str]]) -> None:
    """Each change a pull skipped, once per (change, store), as a ``pull_skip`` row of the exceptions report:
    the administrator fixes the stored row (the next change to it reaches the stores again)."""
    for kind, key, reason in skipped:
        ref = f"{kind}:{key}"[:200]
        seen = conn.execute(select(exceptions.c.id).where(
            exceptions.c.kind == PULL_SKIP, exceptions.c.entry_id == ref,
            exceptions.c.store_id == device.store_id).limit(1)).first()
        if seen is None:
            add_exception(conn, PULL_SKIP, f"{kind} {key} cannot be sent to store {device.store_id} and was "
                          f"skipped: {reason}; correct it at the hub", detected_at=now_iso(), entry_id=ref,
                          store_id=device.store_id, device_id=device.device_id,
                          customer_id=key if kind == ChangeKind.CUSTOMER else None)


def _page(conn: Connection, device: DeviceAuth, rows: Sequence[Any], limit: int, since: Position,
          skipped: list[tuple[str, str, str]]) -> protocol.ChangesPage:
    has_more = len(rows) > limit
    rows = rows[:limit]
    latest: dict[tuple[str, str], Position] = {}
    for txid, version, kind, key in rows:
        latest[(kind, key)] = (txid, version)
    ordered = sorted(latest.items(), key=lambda kv: (_KIND_ORDER.get(kv[0][0], 9), kv[1]))  # type: ignore[call-overload]
    known = _prefetch(conn, [k for k, _ in ordered], device.store_id)
    out = [c for (kind, key), _ in ordered
           if (c := _served(conn, kind, key, device, skipped, known.get((kind, key), _MISSING))) is not None]
    # a till's own code sightings are not sent back to it
    out = [c for c in out if not (c.kind == ChangeKind.TOKEN_SIGHTING and c.data is not None
                                  and c.data["till_id"] == device.device_id)]
    end = (int(rows[-1][0]), int(rows[-1][1])) if rows else since
    return protocol.ChangesPage(out, encode_cursor(end), has_more)


def _held_txid(conn: Connection, store_id: str, after: Position) -> int | None:
    """The newest transaction id among the store's committed rows after ``after`` that the horizon still holds
    back (PostgreSQL), or None when none is held."""
    c = changes.c
    position = tuple_(c.txid, c.version) > tuple_(after[0], after[1])
    found = conn.execute(select(func.max(c.txid)).where(position, c.txid >= HORIZON, _for_store(store_id))).scalar()
    return None if found is None else int(found)


def _await_horizon(db: Database, store_id: str, after: Position, deadline: float) -> None:
    """Wait until every transaction up to the newest one holding back the store's rows has ended, or the
    deadline. Only the horizon is read while waiting (one cheap statement), at growing intervals (5 ms doubling
    to 100 ms): a busy hub always has a transaction open, and a pull must not hammer it."""
    delay = 0.005
    with db.read() as conn:
        held = _held_txid(conn, store_id, after)
        while held is not None and time.monotonic() + delay < deadline:
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
            if int(conn.execute(select(HORIZON)).scalar_one()) > held:
                return


def pull(db: Database, device: DeviceAuth, cursor: str | None, limit: int, *, wait_s: float = 1.0) -> protocol.ChangesPage:
    """One page of changes for ``device``'s store after ``cursor`` (``limit`` 1..``MAX_PULL_LIMIT``, clamped).
    A change that cannot be served is left out of the page and reported (``report_skips``, after the read).
    Each (kind, key) appears once per page with its current data; customers first, so offers and coupons that
    name them apply. ``wait_s``: how long to wait for open transactions holding back committed rows
    (PostgreSQL; ``_await_horizon``); past it the page is answered without them and the next pull has them."""
    since = decode_cursor(cursor)
    limit = max(1, min(limit, protocol.MAX_PULL_LIMIT))
    deadline = time.monotonic() + wait_s
    skipped: list[tuple[str, str, str]] = []
    for attempt in (1, 2):
        with db.read() as conn:
            rows, held = _page_rows(conn, device.store_id, since, limit)
            if not held or attempt == 2 or time.monotonic() >= deadline:
                page = _page(conn, device, rows, limit, since, skipped)
                break
        _await_horizon(db, device.store_id, since, deadline)
    if skipped:
        with db.write() as conn:
            report_skips(conn, device, skipped)
    return page
