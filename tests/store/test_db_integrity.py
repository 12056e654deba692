"""Issue #12 item 5, the database at start: an empty or foreign store.db where this device's was is refused
(identity marker), a full disk is said as a full disk with the space needed, a damaged file in one line.
Real SQLite files, ``store-edge till`` / ``doctor`` / ``sync status`` as real processes, and a real small file
system (tmpfs with a size limit, in a private mount namespace) for the full disk."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge.db import identity
from edge.db.connection import DatabaseIdentityError, open_database
from sync import outbox

STORE_EDGE = str(Path(sys.executable).parent / "store-edge")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_EDGE_")}
    return subprocess.run([STORE_EDGE, *args], capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def till_with_sales(data_dir: Path, n: int = 3) -> None:
    """A till's database with ``n`` unsynced events, enrolled as till-1 of store s1."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "device-credential.json").write_text(json.dumps(
        {"hub_url": "http://127.0.0.1:9", "device_id": "till-1", "store_id": "s1", "token": "t",
         "enrolled_at": "2026-01-01T00:00:00Z"}))
    os.chmod(data_dir / "device-credential.json", 0o600)
    db = open_database(data_dir / "store.db")
    with db.conn:
        for i in range(n):
            outbox.enqueue(db, "feedback.submitted", {"id": f"f{i}", "sale_id": f"s{i}", "score": 9})
    db.conn.close()


def test_the_marker_is_written_0600_and_names_the_device(tmp_path: Path) -> None:
    till_with_sales(tmp_path)
    marker = identity.read_marker(tmp_path / "store.db")
    assert marker is not None and (marker.store_id, marker.device_id) == ("s1", "till-1")
    assert stat.S_IMODE(identity.marker_path(tmp_path / "store.db").stat().st_mode) == 0o600
    db = open_database(tmp_path / "store.db")  # its own database: accepted, same id
    assert identity.stored_database_id(db.conn) == marker.database_id


def test_an_empty_store_db_is_refused_never_recreated(tmp_path: Path) -> None:
    till_with_sales(tmp_path)
    db_path = tmp_path / "store.db"
    backup = tmp_path / "backup.db"
    shutil.copyfile(db_path, backup)
    db_path.write_bytes(b"")  # truncated to 0 bytes

    till = run_cli("till", "--data-dir", str(tmp_path))
    assert till.returncode == 2
    line = one_line(till)
    assert "store.db is empty (0 bytes)" in line and "device till-1 of store s1" in line
    assert "Restore the newest backup" in line and "store-edge till --accept-new-database" in line
    assert db_path.stat().st_size == 0  # not recreated
    status = run_cli("sync", "status", "--data-dir", str(tmp_path))
    assert status.returncode != 0 and "empty (0 bytes)" in one_line(status)
    doctor = run_cli("doctor", "--data-dir", str(tmp_path), "--only", "integrity")
    assert doctor.returncode == 1 and "FAIL  identity" in doctor.stdout and "--accept-new-database" in doctor.stdout

    # the advice works: the backup carries the same creation id, so it is accepted with its sales
    shutil.copyfile(backup, db_path)
    assert outbox.stats(open_database(db_path)).pending == 3
    ok = run_cli("doctor", "--data-dir", str(tmp_path), "--only", "integrity")
    assert ok.returncode == 0, ok.stdout
    assert "PASS  identity" in ok.stdout and "PASS  events" in ok.stdout


def test_a_deleted_or_foreign_database_is_refused_until_a_person_accepts_it(tmp_path: Path) -> None:
    till_with_sales(tmp_path / "a")
    till_with_sales(tmp_path / "b", n=1)
    db_path = tmp_path / "a" / "store.db"
    old_id = identity.read_marker(db_path).database_id  # type: ignore[union-attr]
    shutil.copyfile(tmp_path / "b" / "store.db", db_path)  # another device's database
    with pytest.raises(DatabaseIdentityError, match="is another database"):
        open_database(db_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with sqlite3.connect(fresh / "store.db") as conn:  # a database that never had an identity
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    shutil.copyfile(fresh / "store.db", db_path)
    line = one_line(run_cli("till", "--data-dir", str(tmp_path / "a")))
    assert "a database without this device's identity" in line
    db_path.unlink()
    with pytest.raises(DatabaseIdentityError, match="store.db is missing"):
        open_database(db_path)

    kept = identity.accept_new_database(db_path)  # what --accept-new-database does first
    assert kept is not None and kept.name.startswith("store.db.identity.replaced-")
    db = open_database(db_path)
    new = identity.read_marker(db_path)
    assert new is not None and new.database_id != old_id and new.device_id == "till-1"
    assert outbox.stats(db).pending == 0


def test_a_damaged_database_is_said_in_one_line(tmp_path: Path) -> None:
    till_with_sales(tmp_path)
    db_path = tmp_path / "store.db"
    with open(db_path, "r+b") as f:
        f.write(b"this is not a database, it was overwritten" * 3)  # the header and more
    proc = run_cli("till", "--data-dir", str(tmp_path))
    assert proc.returncode == 2
    line = one_line(proc)
    assert "is damaged" in line and "restore the newest backup" in line and "SQLITE_NOTADB" in line


def test_a_full_disk_at_start_is_said_as_a_full_disk(tmp_path: Path) -> None:
    till_with_sales(tmp_path / "src", n=5)
    out = tmp_path / "out"
    out.mkdir()
    mnt = tmp_path / "small"
    mnt.mkdir()
    script = textwrap.dedent(f"""\
        set -u
        mount -t tmpfs -o size=4m tmpfs {mnt}
        cp -p {tmp_path / 'src'}/store.db {tmp_path / 'src'}/store.db.identity \\
              {tmp_path / 'src'}/device-credential.json {mnt}/
        dd if=/dev/zero of={mnt}/filler bs=4096 2>/dev/null
        df -B1 --output=avail {mnt} | tail -1 > {out}/avail
        {STORE_EDGE} till --data-dir {mnt} > {out}/till.out 2> {out}/till.err < /dev/null
        echo $? > {out}/till.rc
        rm {mnt}/filler
        {STORE_EDGE} sync status --data-dir {mnt} --json > {out}/status.json 2> {out}/status.err
        """)
    prefix = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--mount"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_EDGE_")}
    done = subprocess.run([*prefix, "bash", "-c", script], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    assert int((out / "avail").read_text()) == 0  # the file system really was full
    assert (out / "till.rc").read_text().strip() == "2"
    err = (out / "till.err").read_text()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "is full (no space free" in err and "free at least 16.0 MB" in err
    assert "do NOT restore a backup" in err and "damaged" not in err
    # the database was intact all along: once space was freed, all five unsynced events are there
    assert json.loads((out / "status.json").read_text())["pending"] == 5, (out / "status.err").read_text()


def test_a_backup_from_before_the_marker_is_still_this_devices(tmp_path: Path) -> None:
    """An upgrade backs the database up before the new release first opens it (and writes the marker); a
    rollback restores that backup, which has no creation id: it must be recognised, not refused."""
    till_with_sales(tmp_path / "a")
    till_with_sales(tmp_path / "b")
    db_path = tmp_path / "a" / "store.db"
    for path in (db_path, tmp_path / "b" / "store.db"):  # as written by a release without markers
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM sync_state WHERE key = ?", [identity.DATABASE_ID_KEY])
        conn.close()
        identity.marker_path(path).unlink()
    backup = tmp_path / "pre-upgrade.db"
    shutil.copyfile(db_path, backup)
    open_database(db_path).conn.close()  # the new release's first open: a creation id and a marker
    marker = identity.read_marker(db_path)
    assert marker is not None and marker.fingerprint is not None and marker.fingerprint.startswith("outbox:")

    shutil.copyfile(backup, db_path)  # the rollback
    db = open_database(db_path)
    assert identity.stored_database_id(db.conn) == marker.database_id  # adopted under the same id
    assert outbox.stats(db).pending == 3
    db.conn.close()
    shutil.copyfile(tmp_path / "b" / "store.db", db_path)  # another device's, also without an id: refused
    with pytest.raises(DatabaseIdentityError, match="a database without this device's identity"):
        open_database(db_path)


def test_accept_new_database_starts_the_till_on_a_new_database(tmp_path: Path) -> None:
    """``store-edge till --accept-new-database`` in a terminal (a pty): the old marker is kept aside, the
    till starts on a new database and writes a new marker."""
    import pty
    import signal
    import time

    till_with_sales(tmp_path)
    db_path = tmp_path / "store.db"
    old = identity.read_marker(db_path)
    db_path.write_bytes(b"")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_EDGE_")}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="30", STORE_EDGE_HUB__URL="")
    proc = subprocess.Popen([STORE_EDGE, "till", "--data-dir", str(tmp_path), "--accept-new-database"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    os.set_blocking(master, False)
    try:
        deadline = time.monotonic() + 60
        while True:
            new = identity.read_marker(db_path)
            if new is not None and old is not None and new.database_id != old.database_id:
                break
            assert proc.poll() is None, f"the till exited with {proc.returncode}"
            assert time.monotonic() < deadline, "no new marker"
            with contextlib.suppress(OSError):  # nothing to read yet (or the till closed it)
                os.read(master, 65536)  # keep the terminal drained
            time.sleep(0.1)
        assert proc.poll() is None  # the till runs
        assert list(tmp_path.glob("store.db.identity.replaced-*"))
        assert db_path.stat().st_size > 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        os.close(master)


def test_a_damaged_marker_is_said_as_such(tmp_path: Path) -> None:
    till_with_sales(tmp_path)
    identity.marker_path(tmp_path / "store.db").write_text("{not json")
    with pytest.raises(DatabaseIdentityError, match=r"store.db.identity is damaged, so it cannot be told whether"):
        open_database(tmp_path / "store.db")
    identity.accept_new_database(tmp_path / "store.db")
    assert outbox.stats(open_database(tmp_path / "store.db")).pending == 3  # same database, accepted with its events
