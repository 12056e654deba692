"""The till's private files (issue 12 item 4): ``store.db`` (and SQLite's ``-wal``/``-shm`` beside it), the
identity marker and the device credential are 0600 in a 0700 data directory; anything found looser is tightened
(by ``open_database`` at every start, and by ``doctor``, which says so). The database holds customers' data and
the credential the device's token: no other local user may read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sync.credentials import CREDENTIAL_FILE

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_SIDE_FILES = ("-wal", "-shm", ".identity")


def tighten(path: Path, mode: int) -> int | None:
    """Take away any access beyond ``mode`` from ``path``; the previous mode when it was looser (and is now
    ``mode``), None when it was already private or does not exist. ``OSError`` when it cannot be changed (not
    the owner)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if not current & ~mode & 0o777:
        return None
    os.chmod(path, current & mode)
    return current


def private_files(db_path: Path) -> list[tuple[Path, int]]:
    """(path, mode) of everything that must be private around ``db_path``: the data directory, the database
    with its side files and marker, and the device credential."""
    out = [(db_path.parent, PRIVATE_DIR), (db_path, PRIVATE_FILE)]
    out += [(db_path.with_name(db_path.name + suffix), PRIVATE_FILE) for suffix in _SIDE_FILES]
    out.append((db_path.parent / CREDENTIAL_FILE, PRIVATE_FILE))
    return out


def make_private(db_path: Path) -> list[str]:
    """Tighten every file of ``private_files``; one sentence per file that was looser ("store.db was 0644, now
    0600"). Files this user cannot change are left (``doctor`` reports them)."""
    said = []
    for path, mode in private_files(db_path):
        try:
            before = tighten(path, mode)
        except OSError:
            continue
        if before is not None:
            said.append(f"{path} was {before:o}, now {before & mode:o}")
    return said


def create_private(db_path: Path) -> None:
    """Create the data directory 0700 and an empty ``db_path`` 0600 before SQLite does (its files take the
    database's mode), whatever the umask."""
    db_path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    fd = os.open(db_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
