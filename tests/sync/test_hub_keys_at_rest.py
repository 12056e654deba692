"""Hub files private (issue 12 item 4): ``hub.db`` (and SQLite's -wal/-shm beside it) created 0600, and an
existing world-readable one tightened when the hub opens it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sync.hub.storage import HubStorage


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_hub_db_is_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        storage = HubStorage.open(tmp_path / "hub.db")
        storage.create_store("s1")
        storage.ensure_signing_key()
    finally:
        os.umask(old)
    try:
        made = [p for p in tmp_path.iterdir() if p.name.startswith("hub.db")]
        assert {p.name for p in made} >= {"hub.db"}
        assert {p.name: _mode(p) for p in made} == {p.name: 0o600 for p in made}
    finally:
        storage.close()


def test_an_existing_readable_hub_db_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    HubStorage.open(path).close()
    path.chmod(0o644)
    HubStorage.open(path).close()
    assert _mode(path) == 0o600
