"""The till's files are private (issue 12 item 4): store.db 0600 in a 0700 data directory whatever the umask,
the marker and credential 0600; looser ones are tightened at the next start and by ``doctor``, which says so."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edge.db import files
from edge.db.connection import open_database
from edge.ops.doctor import PASS, WARN, check_private_files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_db_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = open_database(tmp_path / "data" / "store.db")
        db.execute("CREATE TABLE IF NOT EXISTS t (x)")
        db.conn.close()
    finally:
        os.umask(old)
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    made = {p.name: _mode(p) for p in data.iterdir()}
    assert "store.db" in made and "store.db.identity" in made
    assert set(made.values()) == {0o600}, made


def test_looser_files_are_tightened_at_start_and_doctor_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_database(data / "store.db").conn.close()
    cred = data / "device-credential.json"
    cred.write_text("{}")
    for path, mode in ((data, 0o755), (data / "store.db", 0o644), (cred, 0o640)):
        path.chmod(mode)
    result = check_private_files(data / "store.db")
    assert result.status == WARN
    assert "store.db was 644, now 600" in result.summary and "was 755, now 700" in result.summary
    assert "device-credential.json was 640, now 600" in result.summary
    assert (_mode(data), _mode(data / "store.db"), _mode(cred)) == (0o700, 0o600, 0o600)
    assert check_private_files(data / "store.db").status == PASS
    (data / "store.db").chmod(0o644)
    open_database(data / "store.db").conn.close()  # the next start tightens it too
    assert _mode(data / "store.db") == 0o600
    assert files.tighten(data / "missing", 0o600) is None
