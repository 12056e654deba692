"""The presence runner inside the till: real replay source, real SQLite file, the floor screen via Pilot."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from textual.widgets import DataTable, Sparkline, Static, TabbedContent

from edge.db import open_database
from edge.presence_runner import PresenceRunner
from edge.settings import Settings
from edge.store.presence_store import DEMO_FILE, NOTIFICATION_EVENT, seed_demo_presence
from edge.ui.app import TillApp, make_app
from edge.ui.messages import StatusChanged
from edge.ui.screens.floor import FloorScreen
from edge.ui.status import format_status
from tests.support.demo import FIXED_NOW

WALL0 = FIXED_NOW.timestamp()  # 10:30 UTC: inside the demo store's opening hours whatever the real time is


def wall_clock() -> Callable[[], float]:
    """Unix time that starts at FIXED_NOW and runs at real speed (offers' validity, visit timestamps)."""
    start = time.monotonic()
    return lambda: WALL0 + time.monotonic() - start


def walk_file(tmp_path: Path, *, corrupt: bool) -> Path:
    """The demo walk, plus C1002 back at the door at 600 s (so the first visits close and are counted),
    and optionally one corrupt line."""
    lines = DEMO_FILE.read_text(encoding="utf-8").splitlines()
    c1002 = next(json.loads(line) for line in lines if "D4:11:22:33:44:02" in line)  # C1002's iBeacon tag
    lines.append(json.dumps({**c1002, "time": 600.0, "rssi": -60}))
    if corrupt:
        lines.insert(5, '{"time": 3.0, "address": ')
    path = tmp_path / "walk.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def presence_settings(settings: Settings, replay: Path) -> Settings:
    db = open_database(settings.database_path)
    seed_demo_presence(db, now=WALL0)  # EID keys' clock offset is relative to this moment
    # C1002 (tag) Gold so the dwell rule applies too; C1003 has a tag but no location consent (demo seed)
    db.execute("UPDATE customers SET tier = 'Gold' WHERE id = 'C1002'")
    db.conn.commit()
    db.close()
    return settings.replace(ble=dataclasses.replace(settings.ble, replay=str(replay)))


async def until(pilot, condition: Callable[[], bool], what: str, limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def runner_for(
    app: TillApp, settings: Settings, clock: Callable[[], float], changes: list[int]
) -> PresenceRunner:
    """Wired the way the till wires it: status words into the status bar, changes counted."""

    def on_status(text: str) -> None:
        app.status_source.beacons = text
        app.post_message(StatusChanged(format_status(app.status_source.read())))

    return PresenceRunner(settings, settings.database_path, on_status, lambda: changes.append(1), clock=clock)


def finished(runner: PresenceRunner) -> bool:
    return runner.idle() and "finished" in runner.snapshot().status


async def test_walk_in_issues_offers_and_the_floor_screen_shows_them(
    demo_settings: Settings, tmp_path: Path
) -> None:
    settings = presence_settings(demo_settings, walk_file(tmp_path, corrupt=True))
    clock = wall_clock()
    changes: list[int] = []
    # the runner is driven by the test (its own clock); the app must not start a second one
    app = make_app(settings.replace(ble=dataclasses.replace(settings.ble, replay="")), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = runner_for(app, settings, clock, changes)
        await runner.start()
        try:
            await until(pilot, lambda: finished(runner), "the replay to be handled")
            snap = runner.snapshot()
            # the corrupt line is reported in words, and the rest of the walk was still handled
            assert snap.status == "replay of walk.jsonl finished; 1 bad line(s) skipped"
            assert "first: line 6" in snap.detail
            assert "1 bad line(s) skipped" in app.status_source.beacons
            assert snap.errors == 0 and snap.adverts_dropped == 0 and snap.adverts_handled > 300
            await until(pilot, lambda: bool(changes), "on_change")

            # the tag customer walked in (welcome) and dwelled as Gold (bakery); the app customer walked in
            db = sqlite3.connect(settings.database_path)
            offers = db.execute(
                "SELECT customer_id, name FROM offers WHERE source = 'presence' ORDER BY customer_id, name"
            ).fetchall()
            assert offers == [
                ("C1002", "Double points on bakery"),
                ("C1002", "Drinks 20% off today"),
                ("C1004", "Drinks 20% off today"),
            ]
            notes = [
                json.loads(p)
                for (p,) in db.execute(
                    "SELECT payload FROM outbox WHERE type = ?", [NOTIFICATION_EVENT]
                ).fetchall()
            ]
            assert sorted(n["customer_id"] for n in notes) == ["C1002", "C1002", "C1004"]
            # both first visits closed when C1002 came back at 600 s
            visits = db.execute(
                "SELECT customer_id, zone FROM presence_visits ORDER BY customer_id"
            ).fetchall()
            assert visits == [("C1002", "store"), ("C1004", "store")]
            c1003_name = db.execute("SELECT display_name FROM customers WHERE id = 'C1003'").fetchone()[0]
            c1002_name = db.execute("SELECT display_name FROM customers WHERE id = 'C1002'").fetchone()[0]
            for name in ("offers", "presence_offers_issued", "presence_visits", "outbox"):
                assert "C1003" not in str(db.execute(f"SELECT * FROM {name}").fetchall()), name
            db.close()
            assert [p["customer_id"] for p in snap.present] == ["C1002"]

            screen = FloorScreen(settings.database_path, settings, presence=runner.snapshot, clock=clock)
            await app.push_screen(screen)
            await until(pilot, lambda: screen.data is not None, "the floor screen to load")
            table = screen.query_one("#present", DataTable)
            cells = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
            text = "\n".join(cells)
            assert c1002_name in cells[0] and "Gold" in cells[0]
            assert "Drinks 20% off today (11:00)" in text  # 30-minute offer, store time UTC
            assert "Double points on bakery" in text
            assert c1003_name not in text
            assert "1 in store" in str(screen.query_one("#floor-head", Static).render())
            assert "first: line 6" in str(screen.query_one("#present-note", Static).render())

            await pilot.press("a")
            await pilot.pause()
            assert screen.query_one(TabbedContent).active == "analytics-tab"
            visits_text = str(screen.query_one("#visits-bars", Static).render())
            # two closed visits and C1002's visit in progress: the analytics agree with "In store now"
            assert "store" in visits_text and "█" in visits_text and visits_text.rstrip().endswith("3")
            assert "1 still in store" in visits_text
            dwell_text = str(screen.query_one("#dwell-bars", Static).render())
            assert "█" in dwell_text
            offers_text = str(screen.query_one("#offers-bars", Static).render())
            assert "issued" in offers_text and "3" in offers_text and "conversion 0%" in offers_text
            anonymous_text = str(screen.query_one("#anonymous-bars", Static).render())
            assert "store now" in anonymous_text and "█" in anonymous_text
            hourly = screen.query_one("#hourly", Sparkline).data
            assert hourly is not None and sum(hourly) == 3

            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, FloorScreen)
        finally:
            await runner.stop()
    assert runner.snapshot().running is False


async def test_a_full_buffer_drops_the_oldest_and_counts(demo_settings: Settings, tmp_path: Path) -> None:
    settings = presence_settings(demo_settings, walk_file(tmp_path, corrupt=False))
    statuses: list[str] = []
    runner = PresenceRunner(
        settings, settings.database_path, statuses.append, lambda: None, clock=wall_clock(), queue_size=2
    )
    await runner.start()
    try:
        deadline = time.monotonic() + 10
        while not finished(runner):
            assert time.monotonic() < deadline, "replay not handled"
            await asyncio.sleep(0.02)
        snap = runner.snapshot()
        lines = len(DEMO_FILE.read_text(encoding="utf-8").splitlines()) + 1
        assert snap.adverts_received == lines
        assert snap.adverts_handled + snap.adverts_dropped == lines
        assert snap.adverts_dropped > 0  # the replay bursts 256 adverts per loop turn into a 2-slot buffer
        assert statuses[0] == "replaying walk.jsonl"
    finally:
        await runner.stop()


async def test_a_missing_replay_file_is_a_status_not_a_crash(demo_settings: Settings, tmp_path: Path) -> None:
    settings = presence_settings(demo_settings, tmp_path / "nowhere.jsonl")
    statuses: list[str] = []
    runner = PresenceRunner(settings, settings.database_path, statuses.append, lambda: None)
    await runner.start()
    await runner.stop()
    assert statuses == [f"BLE not started - replay file {tmp_path / 'nowhere.jsonl'} does not exist"]
    assert runner.snapshot().running is False


async def test_floor_screen_without_presence_fits_and_says_so(demo_settings: Settings) -> None:
    app = make_app(demo_settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = FloorScreen(demo_settings.database_path, demo_settings)
        await app.push_screen(screen)
        await until(pilot, lambda: screen.data is not None, "the floor screen to load")
        assert "Presence is off" in str(screen.query_one("#floor-head", Static).render())
        assert screen.query_one("#present", DataTable).row_count == 0
        assert screen.size.width <= 80 and screen.size.height <= 24


async def test_the_till_starts_presence_from_its_settings_and_shows_the_floor(
    demo_settings: Settings, tmp_path: Path
) -> None:
    """As `make run` does: ble.replay set -> the app runs its own PresenceRunner, the status bar says so,
    and F11 opens the floor screen fed by that runner."""
    settings = presence_settings(demo_settings, walk_file(tmp_path, corrupt=False))
    app = make_app(settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.presence is not None
        await until(pilot, lambda: "walk.jsonl" in app.status_source.beacons, "the beacon status")
        await until(pilot, lambda: app.presence.snapshot().adverts_handled > 0, "adverts to be handled")
        await pilot.press("f11")
        await pilot.pause()
        assert isinstance(app.screen, FloorScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FloorScreen)
