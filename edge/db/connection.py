"""Opening the store database with the pragmas every writer relies on."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from edge.db.migrations import MIGRATIONS, SCHEMA_VERSION


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer store-edge; we refuse to touch it."""


class DatabaseError(RuntimeError):
    """The database file cannot be used; the message says why in words a technician can act on."""


def open_database(path: Path | str, *, migrate: bool = True, readonly: bool = False) -> sqlite_utils.Database:
    """Open (and by default migrate) the store database.

    Every connection gets WAL, foreign keys and ``synchronous=FULL``: sales and ledger entries move money,
    so a commit must survive a power cut, and WAL keeps readers (the UI, the sync client) off the writer's back.
    """
    path = Path(path)
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        else:
            conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        db = sqlite_utils.Database(conn)
        # refuse a newer schema before anything writes: switching to WAL rewrites the file header
        check_version(db, path)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=FULL")
        # checkpoint less often than the default 1,000 pages; the till checkpoints when idle (see checkpoint())
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    except SchemaTooNewError:
        conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"the database {path} cannot be opened ({exc}); restore it from a backup") from exc
    if migrate and not readonly:
        apply_migrations(db, path)
    else:
        check_version(db, path)
    return db


WAL_AUTOCHECKPOINT_PAGES = 4000


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock at BEGIN (``BEGIN IMMEDIATE``).

    A deferred BEGIN that reads and then writes can fail at once with "database is locked" when another
    writer got in between (the busy timeout cannot help an upgrade); taking the lock first waits instead.
    Nested use becomes a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        db.conn.rollback()
        raise


def checkpoint(db: sqlite_utils.Database) -> None:
    """Fold the WAL back into the database without waiting for readers (run when the till is idle)."""
    db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def check_version(db: sqlite_utils.Database, path: Path) -> int:
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the database {path} has schema version {version}, but this store-edge only knows up to "
            f"{SCHEMA_VERSION}; it was written by a newer release. Upgrade store-edge (or roll back the "
            "database backup) - it was not changed."
        )
    return version


def apply_migrations(db: sqlite_utils.Database, path: Path) -> int:
    version = check_version(db, path)
    for target, script in MIGRATIONS:
        if target <= version:
            continue
        # executescript would commit implicitly; run statement by statement inside one transaction so a
        # failed migration leaves the previous version intact.
        with db.atomic():
            for statement in _split(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version={target}")
        version = target
    return version


def _split(script: str) -> list[str]:
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
