"""Appending to the change feed: every hub write that a till must learn about adds ``(kind, key, store_id)``.

``store_id`` None means "every store". Rows carry the writing transaction's id on PostgreSQL
(``pg_current_xact_id()``), so writers need no lock between them; ``sync.hub.feed`` explains how pulls use it.
All functions run inside the caller's write transaction (``conn``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Connection, Text, cast, func, select

from sync.hub.db import POSTGRES, insert
from sync.hub.tables import changes, customer_stores

# the transaction id as a plain number (xid8 -> text -> bigint; 64-bit, epoch included, never wraps)
CURRENT_TXID = cast(cast(func.pg_current_xact_id(), Text), BigInteger)

Change = tuple[str, str, str | None]  # kind, key, store_id (None: every store)


def record(conn: Connection, kind: str, key: str, store_id: str | None = None) -> None:
    """One change: the tills of ``store_id`` (or of every store) re-read ``kind``/``key`` at their next pull."""
    record_many(conn, [(kind, key, store_id)])


def record_many(conn: Connection, rows: Iterable[Change]) -> None:
    """Many changes in one statement (executemany)."""
    params = [{"kind": kind, "key": key, "store_id": store_id} for kind, key, store_id in rows]
    if not params:
        return
    stmt: Any = insert(conn, changes)
    if conn.dialect.name == POSTGRES:
        stmt = stmt.values(txid=CURRENT_TXID)
    conn.execute(stmt, params)


def relevant_stores(conn: Connection, customer_id: str) -> list[str]:
    """The stores a customer is relevant to (they receive the profile, personal offers and coupons)."""
    rows = conn.execute(select(customer_stores.c.store_id).where(customer_stores.c.customer_id == customer_id))
    return [r[0] for r in rows]


def record_scoped(conn: Connection, kind: str, key: str, customer_id: str | None) -> None:
    """A change to something that may be personal: to every store when ``customer_id`` is None, else only to
    the stores that customer is relevant to."""
    if customer_id is None:
        record(conn, kind, key)
    else:
        record_many(conn, [(kind, key, store_id) for store_id in relevant_stores(conn, customer_id)])
