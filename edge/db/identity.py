"""The identity marker beside the store database: which database belongs in this data dir.

``store.db.identity`` (JSON, mode 0600) holds the database's creation id (a UUID also kept in the database's
``sync_state`` table under ``database_id``), the device and store it was enrolled as (from the device
credential beside it, once there is one) and when the database was created. It is written when the database
is created, and refreshed when the device's enrolment changes.

Why: a ``store.db`` truncated to 0 bytes, deleted, or replaced by another device's copy would otherwise be
opened as a new, empty database - the unsynced sales it held silently gone. With a marker present, such a
database is refused in one sentence that says what happened and what to do: restore the newest backup (a
backup carries the same creation id, so it is accepted), or, once nothing unsynced can be recovered,
``store-edge till --accept-new-database``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sync.credentials import credential_path

MARKER_SUFFIX = ".identity"
DATABASE_ID_KEY = "database_id"
ACCEPT_FLAG = "--accept-new-database"


@dataclass(frozen=True)
class Identity:
    """What the marker says. ``store_id``/``device_id`` are None until the device is enrolled."""

    database_id: str
    created_at: str
    store_id: str | None = None
    device_id: str | None = None
    # the event id of the first outbox row when the marker was made (a UUIDv7: unique to this database's
    # history), so that a backup from before the marker existed - an upgrade's pre-migration backup,
    # restored by a rollback - is still recognised as this device's
    fingerprint: str | None = None

    def describe(self) -> str:
        who = (f"device {self.device_id} of store {self.store_id}" if self.device_id
               else "this device (not enrolled then)")
        return f"the database of {who}, created {self.created_at}"


def marker_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + MARKER_SUFFIX)


def read_marker(db_path: Path) -> Identity | None:
    """The marker beside ``db_path``; None when there is none. A damaged marker reads as an identity with an
    unknown id, so that any database is refused until a person looks (never a silent pass)."""
    path = marker_path(db_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return Identity(database_id="(unreadable marker)", created_at="at an unknown time")
    try:
        doc = json.loads(text)
        return Identity(str(doc["database_id"]), str(doc["created_at"]),
                        _opt(doc.get("store_id")), _opt(doc.get("device_id")), _opt(doc.get("fingerprint")))
    except (ValueError, KeyError, TypeError):
        return Identity(database_id="(damaged marker)", created_at="at an unknown time")


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def write_marker(db_path: Path, identity: Identity) -> None:
    """Atomically replace the marker, created 0600 (it names the device), flushed before it counts."""
    path = marker_path(db_path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by umask and ignored for an existing file
        os.write(fd, json.dumps(asdict(identity), indent=2).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def stored_database_id(conn: sqlite3.Connection) -> str | None:
    """The creation id kept in the database, None when it has none (new, empty, or from before markers)."""
    try:
        row = conn.execute("SELECT value FROM sync_state WHERE key = ?", [DATABASE_ID_KEY]).fetchone()
    except sqlite3.OperationalError:  # no sync_state table: an empty or foreign database
        return None
    return None if row is None else str(row[0])


_HISTORY = (("outbox", "SELECT CAST(event_id AS BLOB) FROM outbox ORDER BY seq LIMIT 1"),
            ("sale", "SELECT CAST(id AS BLOB) FROM sales ORDER BY rowid LIMIT 1"),
            ("ledger", "SELECT CAST(entry_id AS BLOB) FROM ledger ORDER BY rowid LIMIT 1"))


def fingerprint(conn: sqlite3.Connection) -> str | None:
    """Where the database's history starts: its first outbox event id (else first sale, else first ledger
    entry; UUIDv7 ids, unique to this database), None when it has no history (or no such tables)."""
    for kind, sql in _HISTORY:
        try:
            row = conn.execute(sql).fetchone()
        except sqlite3.OperationalError:
            return None
        if row is not None and row[0] is not None:
            return f"{kind}:{bytes(row[0]).decode('utf-8', 'replace')}"
    return None


def _from_before_the_marker(conn: sqlite3.Connection, marker: Identity) -> bool:
    """A database without a creation id whose history starts where the marker's did: this device's own,
    from before the marker was written (a pre-upgrade backup)."""
    return marker.fingerprint is not None and fingerprint(conn) == marker.fingerprint


def enrolment(db_path: Path) -> tuple[str | None, str | None]:
    """(store_id, device_id) from the device credential beside the database; (None, None) without one."""
    try:
        doc = json.loads(credential_path(db_path.parent).read_text(encoding="utf-8"))
        return _opt(doc.get("store_id")), _opt(doc.get("device_id"))
    except (OSError, ValueError, AttributeError):
        return None, None


def refusal(db_path: Path, marker: Identity, found_id: str | None, *, empty: bool) -> str:
    """The one sentence said when ``db_path`` is not the database the marker names."""
    if marker.database_id.startswith("("):  # read_marker: the marker itself is damaged
        return (f"the identity marker {marker_path(db_path)} is damaged, so it cannot be told whether {db_path} "
                "is this device's database; nothing was opened or changed. Check that the database holds this "
                f"till's recent sales ('store-edge sync status'), then start once with 'store-edge till {ACCEPT_FLAG}'")
    if empty:
        what = f"{db_path} is {'missing' if not db_path.exists() else 'empty (0 bytes)'}"
    elif found_id is None:
        what = f"{db_path} is a database without this device's identity (another device's, or a new one)"
    else:
        what = f"{db_path} is another database (creation id {found_id})"
    return (f"{what}, but {marker_path(db_path).name} says {marker.describe()} was here; its unsynced sales "
            "may be lost. Nothing was opened or changed. Restore the newest backup "
            f"(e.g. from {db_path.parent / 'backups'}), or, once you are sure nothing unsynced is left "
            f"('store-edge sync status' on the old database), start once with 'store-edge till {ACCEPT_FLAG}'")


def check(db_path: Path, conn: sqlite3.Connection | None, *, empty: bool) -> str | None:
    """None when the database at ``db_path`` may be used (no marker, or the marker names it), else why not.
    ``conn``: the open database (None when the file is missing or empty)."""
    marker = read_marker(db_path)
    if marker is None:
        return None
    found = None if conn is None or empty else stored_database_id(conn)
    if found is not None and found == marker.database_id:
        return None
    if found is None and conn is not None and not empty and _from_before_the_marker(conn, marker):
        return None
    return refusal(db_path, marker, found, empty=empty or conn is None)


def ensure(db_path: Path, conn: sqlite3.Connection) -> Identity:
    """After a successful open (migrated): give the database a creation id if it has none, and write or
    refresh the marker (the enrolment it names follows the credential). Returns the marker's identity."""
    found = stored_database_id(conn)
    marker = read_marker(db_path)
    if found is None:
        adopted = marker is not None and _from_before_the_marker(conn, marker)
        found = marker.database_id if marker is not None and adopted else str(uuid.uuid4())
        with conn:
            conn.execute("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)", [DATABASE_ID_KEY, found])
    same = marker is not None and marker.database_id == found
    created = marker.created_at if marker is not None and same else _now()
    store_id, device_id = enrolment(db_path)
    if store_id is None and marker is not None and same:
        store_id, device_id = marker.store_id, marker.device_id
    first = marker.fingerprint if marker is not None and same else fingerprint(conn)
    wanted = Identity(found, created, store_id, device_id, first)
    if wanted != marker:
        write_marker(db_path, wanted)
    return wanted


def accept_new_database(db_path: Path) -> Path | None:
    """The technician's decision that the database now at ``db_path`` (or a new one) is this device's: the old
    marker is kept as ``store.db.identity.replaced-<time>`` and the next open writes a new one. Returns the
    kept marker's path, None when there was no marker."""
    path = marker_path(db_path)
    if not path.exists():
        return None
    kept = path.with_name(f"{path.name}.replaced-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    os.replace(path, kept)
    return kept


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
