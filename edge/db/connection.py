"""Opening the store database with the pragmas every writer relies on."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from edge.core.errors import CliError
from edge.db import files, identity
from edge.db.migrations import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)


class SchemaTooNewError(CliError, RuntimeError):
    """The database was written by a newer store-edge; we refuse to touch it."""


class DatabaseError(CliError, RuntimeError):
    """The database file cannot be used; the message says why in words a technician can act on.

    A ``CliError`` with exit status 1 (an unusable environment, not bad input): every command that opens the
    database says it in one line, no traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message, exit_code)


class DiskFullError(DatabaseError):
    """There is not enough free space to open the database; it is intact (do not restore a backup)."""


class DatabaseDamagedError(DatabaseError):
    """The file is not a readable SQLite database (SQLITE_CORRUPT, SQLITE_NOTADB)."""


class DatabaseIdentityError(DatabaseError):
    """The database is empty, missing or another device's where this device's was (``edge.db.identity``)."""


# SQLite's primary result codes (https://www.sqlite.org/rescode.html)
SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = (
    3, 8, 10, 11, 13, 14, 26)
MIN_FREE_BYTES = 16 * 1024 * 1024  # room for the write-ahead log between checkpoints (WAL_AUTOCHECKPOINT_PAGES)


def free_bytes(path: Path) -> int | None:
    """Free space for an unprivileged writer on the file system holding ``path`` (None when unknown)."""
    target = path
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        st = os.statvfs(target)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def space_needed(path: Path, migrating: bool) -> int:
    """Bytes a start needs: the write-ahead log, plus a copy of the database when migrations rewrite it."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return MIN_FREE_BYTES + (size if migrating else 0)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


def explain(path: Path, exc: sqlite3.Error, *, migrating: bool = False) -> DatabaseError:
    """One sentence for a failure to open ``path``, by SQLite's result code: a full disk is said as a full
    disk with the space needed (the data is intact: restoring a backup would lose unsynced sales); damage as
    damage; permissions as permissions. ``exc.sqlite_errorcode`` is the extended code (Python >= 3.11)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    name = getattr(exc, "sqlite_errorname", None) or "no SQLite code"
    free = free_bytes(path)
    needed = space_needed(path, migrating)
    if primary == SQLITE_FULL or (primary in (SQLITE_IOERR, SQLITE_CANTOPEN, None) and free is not None
                                  and free < needed):
        have = "no space" if not free else f"only {_mb(free)}"
        return DiskFullError(
            f"the disk holding {path} is full ({have} free, {name}): free at least {_mb(needed)} and start again "
            "('journalctl --vacuum-size=50M', old files in the backups dir). The database is intact: do NOT "
            "restore a backup, that would lose unsynced sales")
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return DatabaseDamagedError(
            f"the database {path} cannot be opened: it is damaged ({exc}, {name}); stop the till and restore the newest backup "
            f"(e.g. from {path.parent / 'backups'}); 'store-edge doctor' checks it")
    if primary in (SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN):
        return DatabaseError(
            f"the database {path} cannot be opened for writing ({exc}, {name}): check the owner and mode of "
            f"{path.parent} and the files in it (the service runs as user store-edge)")
    return DatabaseError(f"the database {path} cannot be opened ({exc}, {name}); 'store-edge doctor' says more")


def _is_empty(path: Path) -> bool:
    """Missing, or 0 bytes with no write-ahead log holding its pages."""
    try:
        if path.stat().st_size > 0:
            return False
    except FileNotFoundError:
        return True
    wal = path.with_name(path.name + "-wal")
    return not wal.exists() or wal.stat().st_size == 0


def open_database(path: Path | str, *, migrate: bool = True, readonly: bool = False) -> sqlite_utils.Database:
    """Open (and by default migrate) the store database.

    Every connection gets WAL, foreign keys and ``synchronous=FULL``: sales and ledger entries move money,
    so a commit must survive a power cut, and WAL keeps readers (the UI, the sync client) off the writer's back.

    A writer first checks the identity marker beside the file (``edge.db.identity``): an empty, missing or
    foreign database where this device's was is refused (``DatabaseIdentityError``), never recreated. Errors
    are ``DatabaseError`` subclasses with one sentence each: ``DiskFullError``, ``DatabaseDamagedError``,
    ``DatabaseIdentityError``, ``SchemaTooNewError``.
    """
    path = Path(path)
    empty = not readonly and _is_empty(path)
    if empty:
        problem = identity.check(path, None, empty=True)
        if problem:
            raise DatabaseIdentityError(problem)
    if not readonly:
        try:
            files.create_private(path)  # 0600 in a 0700 directory before SQLite creates anything
        except OSError:
            path.parent.mkdir(parents=True, exist_ok=True)  # the error is SQLite's to word, below
    conn: sqlite3.Connection | None = None
    version = SCHEMA_VERSION
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        else:
            conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        db = sqlite_utils.Database(conn)
        # refuse a newer schema before anything writes: switching to WAL rewrites the file header
        version = check_version(db, path)
        if not readonly and not empty:
            problem = identity.check(path, conn, empty=False)
            if problem:
                raise DatabaseIdentityError(problem)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=FULL")
        # checkpoint less often than the default 1,000 pages; the till checkpoints when idle (see checkpoint())
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        if migrate and not readonly:
            apply_migrations(db, path)
            identity.ensure(path, conn)
            for said in files.make_private(path):
                log.warning("made private: %s", said)
        else:
            check_version(db, path)
    except (DatabaseError, SchemaTooNewError):
        if conn is not None:
            conn.close()
        raise
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise explain(path, exc, migrating=migrate and version < SCHEMA_VERSION) from exc
    except OSError as exc:  # the identity marker could not be written
        if conn is not None:
            conn.close()
        if exc.errno == errno.ENOSPC:
            raise explain(path, sqlite3.OperationalError(f"{exc.strerror} writing the identity marker")) from exc
        raise DatabaseError(f"the identity marker beside {path} cannot be written ({exc.strerror}): check the "
                            f"owner and mode of {path.parent}") from exc
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
