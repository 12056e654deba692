"""What is wrong with a damaged ``store.db``, and what a technician does about it (``store-edge doctor``).

``diagnose(path)`` reads the file itself, never through the till's migrations: its size, the SQLite header
(https://www.sqlite.org/fileformat2.html#the_database_header: the magic string ``SQLite format 3\\0``, the page
size at offset 16, the page count at offset 28) and ``PRAGMA integrity_check``. It tells apart a file that is
empty, one that is not a database at all, one cut short of the size its header declares (a copy or a disk that
stopped half way), and one whose pages fail the integrity check; None when SQLite reads it whole.

``advice(path, damage)`` is the way out, in order: stop the services, keep the damaged file (and its ``-wal``,
which may hold the last sales) for support, restore the newest backup of ``backups/`` beside it, or - when there
is none worth restoring - ``store-edge till --accept-new-database``, which starts empty and takes the catalogue,
customers and balances from the hub again (sales the hub never received are lost then, so support first).
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
TILL_UNITS = "store-edge-till store-edge-sync store-edge-presence"


@dataclass(frozen=True)
class Damage:
    """``kind``: ``empty``, ``not_sqlite``, ``truncated`` or ``corrupt``; ``what``: one sentence naming the file
    and the evidence (sizes in bytes, SQLite's own words)."""

    kind: str
    what: str


def _header(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(HEADER_BYTES)


def _declared_bytes(header: bytes) -> int | None:
    """Page size x page count from the header (None when the header does not say: an old writer, or zero)."""
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65_536 if page_size == 1 else page_size
    pages = struct.unpack(">I", header[28:32])[0]
    return page_size * pages if page_size and pages else None


def _sqlite_problem(path: Path) -> str | None:
    """SQLite's own words about the file (read-only), None when it reads every page."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)").fetchall()]
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    return None if problems == ["ok"] else "; ".join(problems)[:200]


def diagnose(path: Path) -> Damage | None:
    """The damage of the database file at ``path`` (which exists), or None when SQLite reads it whole.
    ``OSError`` reading it is the caller's (a permission or a disk problem, not damage)."""
    size = path.stat().st_size
    if size == 0:
        return Damage("empty", f"{path} is empty (0 bytes): it was truncated or replaced; the sales, points and "
                               "unsynced events it held are not in it")
    header = _header(path)
    if not header.startswith(MAGIC):
        return Damage("not_sqlite", f"{path} is not an SQLite database ({size:,} bytes that do not start with "
                                    "'SQLite format 3'): it was overwritten or is another file")
    problem = _sqlite_problem(path)
    declared = _declared_bytes(header) if len(header) == HEADER_BYTES else None
    if declared is not None and size < declared:
        said = f"; SQLite says: {problem}" if problem else ""
        return Damage("truncated", f"{path} is cut short: {size:,} bytes of the {declared:,} its header declares "
                                   f"(a copy or a disk that stopped half way){said}")
    if problem is not None:
        return Damage("corrupt", f"{path} is damaged: SQLite says: {problem}")
    return None


def newest_backup(path: Path) -> Path | None:
    """The newest ``backups/store-*.db`` beside the database (``store-edge upgrade`` writes them)."""
    backups = sorted((path.parent / "backups").glob("store-*.db"), key=lambda p: p.stat().st_mtime)
    return backups[-1] if backups else None


def advice(path: Path, damage: Damage) -> list[str]:
    """The steps, one line each, for a technician standing at the till."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    keep = path.parent / f"damaged-{stamp}"
    wal = path.with_name(path.name + "-wal")
    wal_note = ""
    with contextlib.suppress(OSError):
        if wal.stat().st_size:
            wal_note = f" and {wal.name} ({wal.stat().st_size:,} bytes: it may hold the last sales)"
    backup = newest_backup(path)
    if backup is not None:
        when = datetime.fromtimestamp(backup.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
        restore = (f"restore the newest backup, {backup} ({when}): 'cp -p {backup} {path} && rm -f {path}-wal "
                   f"{path}-shm'; the till then sends what the hub lacks and pulls the rest")
    else:
        restore = f"there is no backup in {path.parent / 'backups'} to restore"
    steps = [f"stop the services: 'systemctl stop {TILL_UNITS}'"]
    if damage.kind != "empty" or wal_note:
        steps.append(f"keep the damaged file{wal_note} for support: 'mkdir {keep} && cp -p {path}* {keep}/'; if the "
                     "till sold while it could not reach the hub, those sales are only in it: send it before going on")
    steps += [restore, "with no usable backup: 'store-edge till --accept-new-database' starts an empty database and "
              "takes the catalogue, customers and balances from the hub again; sales the hub never received are lost"]
    return [f"{i}. {step}" for i, step in enumerate(steps, 1)]
