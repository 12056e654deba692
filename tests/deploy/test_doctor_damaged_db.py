"""``store-edge doctor`` on a damaged ``store.db`` (issue 12 item 5): a real till database cut short, a file of
garbage, an empty file, damaged pages. Each gives a diagnosis of several lines - what is wrong with which file,
with the evidence (sizes, SQLite's words) - and the way out (stop, keep the file for support, restore the newest
backup, or ``till --accept-new-database``), the other database checks say "not checked" instead of crashing,
and the exit status is 1. Run through the real console script once."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.db import open_database
from edge.ops import db_damage
from edge.ops.cli import cmd_doctor
from tests.deploy.test_doctor import quiet_probes


def _real_till_db(data: Path) -> bytes:
    """A till database with some weight (its identity marker beside it), checkpointed: its bytes."""
    db = open_database(data / "store.db")
    db["filler"].insert_all(({"id": i, "text": "x" * 200} for i in range(2_000)), pk="id")
    db.conn.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return (data / "store.db").read_bytes()


def _doctor(data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args = argparse.Namespace(config=None, data_dir=str(data), json=False, only="database,integrity,outbox")
    status = cmd_doctor(args, quiet_probes())
    return status, capsys.readouterr().out


def test_a_truncated_database_is_diagnosed_with_the_way_out(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    whole = _real_till_db(data)
    (data / "store.db").write_bytes(whole[: len(whole) // 2])  # a copy that stopped half way
    status, out = _doctor(data, capsys)
    assert status == 1
    lines = out.splitlines()
    first = lines[0]
    assert first.startswith("FAIL  database") and str(data / "store.db") in first
    assert f"is cut short: {len(whole) // 2:,} bytes of the {len(whole):,} its header declares" in first
    assert "database disk image is malformed" in first  # SQLite's own words
    steps = [line for line in lines if line.startswith("      -> ")]
    assert [s.split()[1] for s in steps[:4]] == ["1.", "2.", "3.", "4."]
    assert "systemctl stop store-edge-till" in steps[0]
    assert f"cp -p {data / 'store.db'}*" in steps[1] and "support" in steps[1]
    assert f"there is no backup in {data / 'backups'}" in steps[2]
    assert "store-edge till --accept-new-database" in steps[3] and "from the hub" in steps[3]
    assert "FAIL  identity  not checked: store.db cannot be read" in out
    assert "FAIL  outbox    not checked: store.db cannot be read" in out
    assert "Traceback" not in out


def test_the_newest_backup_is_named_with_the_command_to_restore_it(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    whole = _real_till_db(data)
    (data / "backups").mkdir()
    old, new = data / "backups" / "store-0.1-a.db", data / "backups" / "store-0.2-b.db"
    old.write_bytes(whole)
    new.write_bytes(whole)
    os.utime(old, (1_700_000_000, 1_700_000_000))
    (data / "store.db").write_bytes(whole[:8192])
    status, out = _doctor(data, capsys)
    assert status == 1
    assert f"restore the newest backup, {new}" in out and f"'cp -p {new} {data / 'store.db'} && rm -f" in out
    assert str(old) not in out


def test_a_file_of_garbage_is_not_a_database(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    _real_till_db(data)
    (data / "store.db").write_bytes(os.urandom(20_000))
    status, out = _doctor(data, capsys)
    assert status == 1
    assert f"{data / 'store.db'} is not an SQLite database (20,000 bytes that do not start with" in out
    assert "--accept-new-database" in out and "not checked" in out and "Traceback" not in out


def test_an_empty_file_says_empty_and_skips_keeping_nothing(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    _real_till_db(data)
    (data / "store.db").write_bytes(b"")
    status, out = _doctor(data, capsys)
    assert status == 1
    assert "is empty (0 bytes)" in out
    assert "keep the damaged file" not in out  # nothing in it to keep
    assert "store.db.identity says the database of this device" in out  # the marker line names what was there


def test_damaged_pages_of_a_whole_file_are_corrupt_not_truncated(tmp_path: Path) -> None:
    data = tmp_path / "data"
    raw = bytearray(_real_till_db(data))
    for offset in range(len(raw) - 40 * 4096, len(raw) - 20 * 4096):
        raw[offset] = 0x5A
    (data / "store.db").write_bytes(bytes(raw))
    damage = db_damage.diagnose(data / "store.db")
    assert damage is not None and damage.kind == "corrupt" and "SQLite says" in damage.what
    healthy = tmp_path / "ok"
    _real_till_db(healthy)
    assert db_damage.diagnose(healthy / "store.db") is None


def test_the_console_script_prints_the_diagnosis_and_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    whole = _real_till_db(data)
    (data / "store.db").write_bytes(whole[: len(whole) // 3])
    run = subprocess.run([sys.executable, "-m", "edge.cli", "doctor", "--data-dir", str(data),
                          "--only", "database,integrity,outbox"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 1, run.stderr
    assert "is cut short" in run.stdout and "--accept-new-database" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
