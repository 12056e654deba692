"""One SQL layer over two engines: SQLite (the embedded default) and PostgreSQL (production).

Statements are written once with ``?`` placeholders; the PostgreSQL side rewrites them to ``%s``. So no
statement may contain a literal percent sign.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = tuple[Any, ...]


class Tx:
    """A transaction handle: ``exe`` runs one statement, ``all``/``one`` fetch."""

    def __init__(self, cur: Any, dialect: str) -> None:
        self._cur = cur
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def exe(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cur.execute(self._sql(sql), tuple(params))
        return int(self._cur.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cur.execute(self._sql(sql), tuple(params))
        return [tuple(r) for r in self._cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._cur.execute(self._sql(sql), tuple(params))
        row = self._cur.fetchone()
        return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]


class Engine:
    dialect: str

    @contextmanager
    def tx(self, *, write: bool = True) -> Iterator[Tx]:  # pragma: no cover - interface
        raise NotImplementedError
        yield

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class SqliteEngine(Engine):
    """One connection behind a lock: SQLite serialises writers anyway, and the hub's reads are short."""

    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # the hub is the ledger's source of truth: a commit must survive a power cut
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._lock = threading.RLock()

    @contextmanager
    def tx(self, *, write: bool = True) -> Iterator[Tx]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(cur, self.dialect)
            except BaseException:
                self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cur.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresEngine(Engine):
    """A small fixed pool (psycopg_pool is not a dependency). ``schema`` isolates a test run."""

    dialect = "postgres"

    def __init__(self, dsn: str, *, schema: str | None = None, pool_size: int = 8) -> None:
        import psycopg

        self._psycopg = psycopg
        self.dsn, self.schema = dsn, schema
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._size = pool_size
        self._created = 0
        self._lock = threading.Lock()
        if schema:
            with self._connect() as conn:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                conn.commit()

    def _connect(self) -> Any:
        kwargs: dict[str, Any] = {}
        if self.schema:
            kwargs["options"] = f"-c search_path={self.schema}"
        return self._psycopg.connect(self.dsn, **kwargs)

    def _get(self) -> Any:
        with self._lock:
            if self._pool.empty() and self._created < self._size:
                self._created += 1
                return self._connect()
        return self._pool.get()

    def _put(self, conn: Any) -> None:
        if conn.closed:
            with self._lock:
                self._created -= 1
            return
        self._pool.put(conn)

    @contextmanager
    def tx(self, *, write: bool = True) -> Iterator[Tx]:
        conn = self._get()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield Tx(cur, self.dialect)
        except self._psycopg.OperationalError:
            conn.close()
            raise
        finally:
            self._put(conn)

    def drop_schema(self) -> None:
        if self.schema:
            self.close()
            with self._psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        while not self._pool.empty():
            self._pool.get().close()
        self._created = 0


def open_engine(target: str | Path, *, schema: str | None = None) -> Engine:
    """``postgresql://...`` (or ``postgres://``) opens PostgreSQL; anything else is a SQLite file path."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(text, schema=schema)
    return SqliteEngine(text)
