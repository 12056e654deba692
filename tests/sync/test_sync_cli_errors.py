"""Sync and hub commands fail in one line with the right exit status: an unreachable hub database, a corrupt
store.db, a broken or missing config file, a data dir without a database (never created by the command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync import credentials
from sync.credentials import Credential
from tests.support.cli import one_line, run_cli

pytestmark = pytest.mark.usefixtures("no_store_edge_env")


def test_hub_serve_with_an_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    code, _, err = run_cli(["hub", "serve", "--db", "postgresql://nouser@127.0.0.1:1/x"])
    assert code == 1
    line = one_line(err)
    assert line.startswith("store-edge: cannot use the hub database:") and "127.0.0.1" in line


@pytest.mark.parametrize("command", ["status", "once", "retry-dead"])
def test_sync_commands_on_a_corrupt_store_db_are_one_line(tmp_path: Path, command: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "store.db").write_bytes(b"this is not a database" * 100)
    credentials.save(data, Credential("http://127.0.0.1:1", "till-1", "s1", "dt_x", "2026-01-01T00:00:00Z"))
    code, _, err = run_cli(["sync", command, "--data-dir", str(data)])
    assert code == 1
    assert "cannot be opened" in one_line(err) and str(data / "store.db") in err


@pytest.mark.parametrize("command", ["status", "once", "retry-dead", "run"])
def test_config_errors_exit_2_naming_file_key_and_problem(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\nbackoff_cap_s = 'soon'\n")
    code, _, err = run_cli(["sync", command, "--config", str(bad), "--data-dir", str(tmp_path)])
    assert code == 2
    line = one_line(err)
    assert str(bad) in line and "backoff_cap_s" in line


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run_cli(["sync", "retry-dead", "--config", str(tmp_path / "nope.toml")])
    assert code == 2 and "nope.toml" in one_line(err)


def test_sync_status_refuses_a_data_dir_without_a_database(tmp_path: Path) -> None:
    data = tmp_path / "typo"
    code, _, err = run_cli(["sync", "status", "--data-dir", str(data)])
    assert code == 1
    assert f"no database at {data / 'store.db'}; is this the data dir?" in one_line(err)
    assert not (data / "store.db").exists() and not data.exists()
    code, _, err = run_cli(["sync", "retry-dead", "--data-dir", str(data)])
    assert code == 1 and not data.exists()
