"""The demo's set-up (what `make run` does before the till starts), against a real data dir."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.demo.runner import prepare_demo, with_presence
from edge.settings import load_settings


def test_demo_store_is_seeded_and_its_floor_is_open_all_day(tmp_path: Path) -> None:
    settings = prepare_demo(load_settings(environ={}), tmp_path / "demo")
    demo = with_presence(settings)
    db = sqlite3.connect(demo.database_path)
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] >= 200
    assert db.execute("SELECT count(*) FROM customers").fetchone()[0] >= 50
    kinds = {r[0] for r in db.execute("SELECT kind FROM offers")}
    assert kinds == {"percent_off", "amount_off_basket", "buy_x_get_y", "points_multiplier"}
    assert db.execute("SELECT count(*) FROM presence_identities").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM presence_rules").fetchone()[0] > 0
    # the recorded walk is replayed in real time and offers are given whatever the hour the demo runs at
    assert demo.ble.replay.endswith("demo_walk.jsonl@1") and Path(demo.ble.replay[:-2]).exists()
    assert demo.store.opening_hours == "00:00-23:59"


def test_offline_demo_keeps_existing_data(tmp_path: Path) -> None:
    settings = prepare_demo(load_settings(environ={}), tmp_path / "demo")
    db = sqlite3.connect(settings.database_path)
    db.execute("DELETE FROM products WHERE category = 'Deli'")
    db.commit()
    prepare_demo(load_settings(environ={}), tmp_path / "demo")  # a second start does not reseed over sales
    assert sqlite3.connect(settings.database_path).execute(
        "SELECT count(*) FROM products WHERE category = 'Deli'"
    ).fetchone()[0] == 0


def test_demo_start_says_in_words_what_the_first_sync_did(tmp_path: Path, capsys) -> None:
    from edge.demo.runner import start_hub_and_sync

    settings = prepare_demo(load_settings(environ={}), tmp_path / "demo", offline_seed=False)
    hub = start_hub_and_sync(settings)
    try:
        err = capsys.readouterr().err
    finally:
        hub.stop()
    assert "SyncReport(" not in err
    line = next(line for line in err.splitlines() if line.startswith("first sync: "))
    assert line.startswith("first sync: sent 0 new, 0 already on the hub, 0 rejected; received ")
    assert int(line.rsplit("received ", 1)[1].split()[0]) > 200  # the store's catalogue, customers, offers


def test_make_run_says_where_the_demo_data_lives(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "demo", "--no-hub", "--data-dir", str(data)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # said before the till takes the terminal
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert first.strip() == f"demo data in {data} ('store-edge demo --fresh' starts again from fresh data)"
