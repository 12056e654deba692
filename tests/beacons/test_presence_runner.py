"""The presence worker's periodic jobs: each runs when due, and one that fails is logged and counted while
presence carries on (a real store database, a real replay source, the real worker thread)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from edge import presence_runner
from edge.db import open_database
from edge.demo.seed import seed_demo
from edge.presence_runner import PeriodicJob, PresenceRunner
from edge.settings import load_settings
from edge.store.presence_store import seed_demo_presence


def test_a_job_runs_only_when_due_and_its_failures_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    ran: list[float] = []

    def flaky(state: presence_runner._WorkState, at: float) -> None:
        ran.append(at)
        if len(ran) == 2:
            raise RuntimeError("database is locked")

    job = PeriodicJob("reload", 10.0, flaky, clock=lambda: now[0])
    state = presence_runner._WorkState(service=None)  # type: ignore[arg-type]
    job.start()
    job.run_if_due(state)
    assert ran == []  # not due yet
    for t in (110.0, 115.0, 120.0, 130.0):
        now[0] = t
        with caplog.at_level(logging.ERROR, logger="edge.presence_runner"):
            job.run_if_due(state)
    assert ran == [110.0, 120.0, 130.0]  # 115 was too soon; the failure at 120 did not stop the next run
    assert (job.errors, state.errors) == (1, 1)
    assert "presence reload failed" in caplog.text and "database is locked" in caplog.text


async def test_a_failing_reload_is_logged_and_counted_and_presence_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(presence_runner, "RELOAD_EVERY_S", 0.05)
    settings = load_settings(environ={}).replace(data_dir=tmp_path / "till")
    db = open_database(settings.database_path)
    seed_demo(db)
    seed_demo_presence(db)
    db.close()
    empty = tmp_path / "no-adverts.jsonl"
    empty.write_text("")
    settings = settings.replace(ble=dataclasses.replace(settings.ble, replay=str(empty)))
    runner = PresenceRunner(settings, settings.database_path, lambda _s: None, lambda: None)
    with caplog.at_level(logging.ERROR, logger="edge.presence_runner"):
        await runner.start()
        try:
            deadline = time.monotonic() + 10
            while not runner.snapshot().running and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            with sqlite3.connect(settings.database_path) as conn:  # the rules table is gone: reload fails
                conn.execute("DROP TABLE presence_rules")
            while runner.snapshot().job_errors.get("reload", 0) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            snap = runner.snapshot()
        finally:
            await runner.stop()
    assert snap.job_errors["reload"] >= 2 and snap.errors >= snap.job_errors["reload"]
    assert snap.running  # still running after the failures
    assert "presence reload failed" in caplog.text and "presence_rules" in caplog.text
