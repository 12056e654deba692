"""The hub's database: a SQLAlchemy 2 engine over SQLite (the embedded default) or PostgreSQL (psycopg 3).

``open_database(target)`` takes a SQLite file path or a ``postgresql://`` DSN. ``Database.write()`` is one
write transaction (on SQLite ``BEGIN IMMEDIATE``: the single writer is taken at the start, so a transaction
never fails half-way on a lock upgrade), ``Database.read()`` a read-only one; both yield a
``sqlalchemy.Connection`` that the storage modules' functions take. Pooling is SQLAlchemy's.

Errors: a database that cannot be reached or opened raises the driver's own exception
(``psycopg.OperationalError``, ``sqlite3.OperationalError``) so the command line reports it in one line.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

POSTGRES, SQLITE = "postgresql", "sqlite"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def is_postgres_target(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


class Database:
    """One hub database. ``dialect`` is ``"sqlite"`` or ``"postgresql"``; ``schema`` a PostgreSQL schema that
    isolates a test run (``None`` in production)."""

    def __init__(self, engine: Engine, *, dsn: str | None = None, schema: str | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.dsn, self.schema = dsn, schema
        # SQLite has one writer: this process's writers queue here in order instead of polling SQLite's busy
        # handler (which starves some of them under load); readers run in parallel (WAL)
        self._writer: Any = threading.RLock() if self.dialect == SQLITE else contextlib.nullcontext()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on an exception."""
        with self._writer, _driver_errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only transaction (SQLite: deferred ``BEGIN``, readers never wait for the writer)."""
        with _driver_errors(), self.engine.connect() as conn:
            conn = conn.execution_options(hub_read=True)
            with conn.begin():
                yield conn

    def insert(self, table: Table) -> Any:
        """The dialect's ``INSERT`` (it has ``on_conflict_do_nothing``/``on_conflict_do_update``)."""
        return insert_for(self.dialect, table)

    def close(self) -> None:
        self.engine.dispose()

    def drop_schema(self) -> None:
        """Tests: drop this run's PostgreSQL schema with everything in it; closes the pool."""
        if not self.schema:
            self.close()
            return
        self.engine.dispose()
        import psycopg

        with psycopg.connect(_plain_dsn(self.dsn or ""), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def insert_for(dialect: str, table: Table) -> Any:
    return (postgresql.insert if dialect == POSTGRES else sqlite.insert)(table)


def insert(conn: Connection, table: Table) -> Any:
    """``INSERT`` for the connection's dialect, with ``ON CONFLICT`` support."""
    return insert_for(conn.dialect.name, table)


_COMPILED: dict[tuple[str, str, tuple[str, ...], bool], tuple[str, tuple[str, ...] | None] | None] = {}


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
                on_conflict_do_nothing: bool = False) -> None:
    """``conn.execute(insert(table), rows)`` for a bulk write (a push's events, ledger rows, lots, sales):
    the statement is compiled by SQLAlchemy Core once per (dialect, table, columns) and the rows go to the
    driver's ``executemany`` as they are, without SQLAlchemy's per-row parameter processing (about a fifth
    of a 5,000-event push on SQLite). Every row must hold the same keys, plain values of the columns' types.
    A statement that needs more than the rows give (a column default computed in Python) goes the ordinary
    way. ``on_conflict_do_nothing``: a row whose key exists is skipped (``INSERT ... ON CONFLICT DO
    NOTHING``, both engines)."""
    if not rows:
        return
    columns = tuple(rows[0])
    key = (conn.dialect.name, table.name, columns, on_conflict_do_nothing)
    if key not in _COMPILED:
        stmt = insert(conn, table)
        stmt = stmt.on_conflict_do_nothing() if on_conflict_do_nothing else stmt
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        _COMPILED[key] = (compiled.string, names if compiled.positional else None) if set(names) <= set(columns) \
            else None
    found = _COMPILED[key]
    if found is None:
        stmt = insert(conn, table)
        conn.execute(stmt.on_conflict_do_nothing() if on_conflict_do_nothing else stmt, list(rows))
        return
    sql, order = found
    params: Any = [tuple(row[k] for k in order) for row in rows] if order is not None else list(rows)
    conn.exec_driver_sql(sql, params)


@contextmanager
def _driver_errors() -> Iterator[None]:
    """A connection that cannot be made surfaces as the driver's own error, with its own message."""
    try:
        yield
    except exc.OperationalError as e:
        if e.connection_invalidated or _is_connect_failure(e):
            raise e.orig from None  # type: ignore[misc]
        raise


def _is_connect_failure(e: exc.OperationalError) -> bool:
    text = str(e.orig).lower()
    return "connection" in text and ("refused" in text or "failed" in text) or "unable to open" in text


def _plain_dsn(dsn: str) -> str:
    return dsn.replace("postgresql+psycopg://", "postgresql://", 1)


def open_database(target: str | Path, *, schema: str | None = None, pool_size: int = 8) -> Database:
    """``postgresql://...`` (or ``postgres://``) opens PostgreSQL through psycopg 3; anything else is a SQLite
    file path (its directory is created). ``schema`` (PostgreSQL) is created if missing and put first on the
    search path."""
    text = str(target)
    if is_postgres_target(text):
        return _open_postgres(text, schema, pool_size)
    return _open_sqlite(text)


def _open_postgres(dsn: str, schema: str | None, pool_size: int) -> Database:
    plain = "postgresql://" + dsn.split("://", 1)[1]
    url = make_url(plain).set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if schema:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"{schema!r} is not a plain PostgreSQL schema name")
        connect_args["options"] = f"-c search_path={schema}"
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                           connect_args=connect_args)
    db = Database(engine, dsn=plain, schema=schema)
    if schema:
        with db.write() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return db


def _private_file(path: str) -> None:
    """Create ``path`` 0600 when missing, or take group/other access away from an existing one: the hub
    database holds the ledger and the keys. SQLite gives its ``-wal`` and ``-shm`` files the database
    file's mode."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # O_CREAT's mode is ignored for an existing file
    finally:
        os.close(fd)


def _open_sqlite(path: str) -> Database:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _private_file(path)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, not by the sqlite3 module
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # the hub is the ledger's source of truth: a commit must survive a power cut
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("hub_read") else "BEGIN IMMEDIATE")

    return Database(engine)
