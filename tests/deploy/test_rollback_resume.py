"""Manual rollback only undoes a finished upgrade and never loses sales silently; an upgrade a power cut
interrupted is finished or undone at boot; release files reach the card before anything names them; the
health check sees a crash-looping unit. Releases here are directories with a RELEASE marker: the pip and
migrate commands go through the injected runner (the real install is covered by test_install_upgrade)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from edge.db import open_database
from edge.ops import releases
from edge.ops.releases import Layout, NoServices

PY = sys.executable


class PowerCut(BaseException):
    """Not an Exception: the upgrade's own error handling must not see it, as with a real power cut."""


def no_commands(argv: Sequence[str]) -> None:
    if "-m" in argv and "venv" in argv:  # what the venv step leaves behind
        target = Path(argv[-1])
        (target / "bin").mkdir(parents=True, exist_ok=True)


def healthy(_release: Path) -> str | None:
    return None


def unhealthy(_release: Path) -> str | None:
    return "store-edge-till.service is activating/auto-restart"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    lay = Layout(tmp_path / "root")
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "store_edge-1.0-py3-none-any.whl").write_bytes(b"")
    releases.install_release(lay, wheelhouse, "1.0", python=PY, run=no_commands)
    releases.swap_symlink(lay.current, "releases/1.0")
    db = open_database(lay.database)
    db.close()
    sell(lay, "sale-before-upgrade")
    return lay


@pytest.fixture
def wheelhouse(layout: Layout) -> Path:
    return layout.root.parent / "wheelhouse"


def sell(layout: Layout, sale_id: str, *, event_state: str = "pending") -> None:
    conn = sqlite3.connect(layout.database)
    with conn:
        conn.execute("INSERT INTO sales (id, created_at, subtotal_cents, discount_cents, total_cents, vat_cents, "
                     "payment_method, receipt) VALUES (?, '2025-01-01T10:00:00Z', 129, 0, 129, 11, 'cash', 'r')",
                     (sale_id,))
        conn.execute("INSERT INTO outbox (event_id, type, payload, device_time, state, updated_at) "
                     "VALUES (?, 'sale.completed', '{}', '2025-01-01T10:00:00Z', ?, '2025-01-01T10:00:00Z')",
                     (f"ev-{sale_id}", event_state))
    conn.close()


def sales(layout: Layout) -> list[str]:
    conn = sqlite3.connect(layout.database)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM sales ORDER BY id")]
    finally:
        conn.close()


def outbox(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT event_id, state FROM outbox ORDER BY seq"))
    finally:
        conn.close()


def upgrade(layout: Layout, wheelhouse: Path, check: releases.HealthCheck) -> releases.Outcome:
    return releases.upgrade(layout, wheelhouse, version="2.0", python=PY, services=NoServices(),
                            health_check=check, run=no_commands)


# ------------------------------------------------------------------------------------------- manual rollback
def test_rollback_after_an_automatic_rollback_is_refused_and_keeps_the_new_sales(layout: Layout,
                                                                                 wheelhouse: Path) -> None:
    assert not upgrade(layout, wheelhouse, unhealthy).ok
    assert releases.link_release(layout.current) == "1.0"
    assert releases.read_record(layout)["state"] == "rolled back"
    sell(layout, "sale-after-the-automatic-rollback")
    outcome = releases.rollback(layout, services=NoServices(), discard_since_upgrade=True)
    assert not outcome.ok and "already rolled back" in outcome.message
    assert releases.link_release(layout.current) == "1.0"  # never back onto the release that failed
    assert sales(layout) == ["sale-after-the-automatic-rollback", "sale-before-upgrade"]


def test_rollback_after_a_good_upgrade_refuses_to_lose_sales_unless_told(layout: Layout, wheelhouse: Path) -> None:
    assert upgrade(layout, wheelhouse, healthy).ok
    sell(layout, "sale-on-2.0", event_state="pending")
    sell(layout, "sale-on-2.0-synced", event_state="acked")
    services = NoServices()
    refused = releases.rollback(layout, services=services)
    assert not refused.ok and "2 sale(s)" in refused.message and "--discard-since-upgrade" in refused.message
    assert releases.link_release(layout.current) == "2.0" and services.calls == []
    assert len(sales(layout)) == 3

    done = releases.rollback(layout, services=services, discard_since_upgrade=True)
    assert done.ok, done.message
    assert releases.link_release(layout.current) == "1.0"
    assert sales(layout) == ["sale-before-upgrade"]
    # the unsynced event still goes to the hub; the acknowledged one is not sent twice
    assert outbox(layout.database) == [("ev-sale-before-upgrade", "pending"), ("ev-sale-on-2.0", "pending")]
    assert "1 unsynced event(s)" in done.message
    kept = list(layout.backups.glob("discarded-2.0-*.db"))
    assert len(kept) == 1 and len(outbox(kept[0])) == 3  # the live database as it was, kept
    assert releases.read_record(layout)["state"] == "rolled back"
    assert not releases.rollback(layout, services=services, discard_since_upgrade=True).ok  # not twice


def test_rollback_with_nothing_new_needs_no_flag(layout: Layout, wheelhouse: Path) -> None:
    assert upgrade(layout, wheelhouse, healthy).ok
    outcome = releases.rollback(layout, services=NoServices())
    assert outcome.ok and releases.link_release(layout.current) == "1.0"
    assert sales(layout) == ["sale-before-upgrade"]


def test_rollback_refuses_when_current_moved_on(layout: Layout, wheelhouse: Path) -> None:
    assert upgrade(layout, wheelhouse, healthy).ok
    releases.swap_symlink(layout.current, "releases/1.0")  # someone switched by hand
    outcome = releases.rollback(layout, services=NoServices())
    assert not outcome.ok and "release 1.0 is current, not 2.0" in outcome.message


# ------------------------------------------------------------------------------------------- power cuts
def test_interrupted_upgrade_that_is_healthy_is_kept_at_boot(layout: Layout, wheelhouse: Path) -> None:
    def cut(_release: Path) -> str | None:
        raise PowerCut

    with pytest.raises(PowerCut):
        upgrade(layout, wheelhouse, cut)
    assert releases.read_record(layout)["state"] == "switching"
    outcome = releases.resume(layout, health_check=healthy, run=no_commands)
    assert outcome.ok and "kept" in outcome.message
    assert releases.link_release(layout.current) == "2.0"
    assert releases.read_record(layout)["state"] == "done"
    assert releases.resume(layout, health_check=unhealthy, run=no_commands).message == "no interrupted upgrade"


def test_interrupted_upgrade_that_is_unhealthy_is_undone_at_boot(layout: Layout, wheelhouse: Path) -> None:
    def migrate_then_cut(_release: Path) -> str | None:
        conn = sqlite3.connect(layout.database)
        conn.execute("CREATE TABLE written_by_2_0 (x)")
        conn.commit()
        conn.close()
        raise PowerCut

    with pytest.raises(PowerCut):
        upgrade(layout, wheelhouse, migrate_then_cut)
    outcome = releases.resume(layout, health_check=unhealthy, run=no_commands)
    assert outcome.ok and "release 1.0 and its database are back" in outcome.message
    assert releases.link_release(layout.current) == "1.0"
    assert releases.read_record(layout)["state"] == "rolled back"
    conn = sqlite3.connect(layout.database)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'written_by_2_0'").fetchall()
    conn.close()


def test_interrupted_before_the_switch_is_abandoned(layout: Layout, wheelhouse: Path) -> None:
    releases.install_release(layout, wheelhouse, "2.0", python=PY, run=no_commands)
    layout.upgrade_record.write_text(json.dumps({"from_release": "1.0", "to_release": "2.0", "backup": None,
                                                 "state": "switching"}))
    outcome = releases.resume(layout, health_check=unhealthy, run=no_commands)
    assert outcome.ok and releases.link_release(layout.current) == "1.0"
    assert releases.read_record(layout)["state"] == "abandoned"
    assert sales(layout) == ["sale-before-upgrade"]


def test_release_files_are_flushed_before_anything_names_them(layout: Layout, wheelhouse: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bool, str | None]] = []
    real_sync = os.sync

    def sync() -> None:
        seen.append((releases.is_complete(layout.release_dir("2.0")), releases.link_release(layout.current)))
        real_sync()

    monkeypatch.setattr(os, "sync", sync)
    assert upgrade(layout, wheelhouse, healthy).ok
    assert (False, "1.0") in seen  # after pip, before the RELEASE marker
    assert (True, "1.0") in seen  # the release complete, before current names it


# ------------------------------------------------------------------------------------------- health check
def show(*units: tuple[str, str, str, int, str]) -> str:
    return "\n\n".join(f"Id={u}\nActiveState={a}\nSubState={s}\nNRestarts={n}\nUnitFileState={e}"
                       for u, a, s, n, e in units) + "\n"


def systemctl_answers(*answers: str):  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []
    queue = list(answers)

    def systemctl(args: Sequence[str]) -> str:
        calls.append(list(args))
        return queue.pop(0)

    return systemctl, calls


TILL = "store-edge-till.service"
SYNC = "store-edge-sync.service"


@pytest.fixture
def fake_release(tmp_path: Path) -> Path:
    """A release whose bin/python is this interpreter (the doctor part of the check then really runs)."""
    release = tmp_path / "release"
    (release / "bin").mkdir(parents=True)
    script = release / "bin/python"
    script.write_text(f'#!/bin/sh\nexec "{PY}" "$@"\n')
    script.chmod(0o755)
    return release


def test_health_check_fails_a_unit_stuck_in_auto_restart(tmp_path: Path, fake_release: Path) -> None:
    systemctl, calls = systemctl_answers(
        show((TILL, "active", "running", 0, "enabled"), (SYNC, "inactive", "dead", 0, "disabled")),
        show((TILL, "activating", "auto-restart", 1, "enabled"), (SYNC, "inactive", "dead", 0, "disabled")))
    check = releases.doctor_health_check(Layout(tmp_path), settle_s=7, systemctl=systemctl, sleep=lambda s: None)
    problem = check(fake_release)
    assert problem == f"{TILL} is activating/auto-restart"
    assert calls[0][:3] == ["show", "-p", "Id,ActiveState,SubState,NRestarts,UnitFileState"]
    assert len(calls) == 2  # before and after the settle time


def test_health_check_fails_a_unit_that_restarted_while_waiting(tmp_path: Path, fake_release: Path) -> None:
    systemctl, _ = systemctl_answers(show((TILL, "active", "running", 3, "enabled")),
                                     show((TILL, "active", "running", 5, "enabled")))
    check = releases.doctor_health_check(Layout(tmp_path), systemctl=systemctl, sleep=lambda s: None)
    assert "restarted 2 time(s)" in (check(fake_release) or "")


def test_health_check_passes_steady_units_then_runs_the_doctor(tmp_path: Path, fake_release: Path) -> None:
    steady = show((TILL, "active", "running", 1, "enabled"), (SYNC, "inactive", "dead", 0, "disabled"))
    systemctl, _ = systemctl_answers(steady, steady)
    layout = Layout(tmp_path)
    check = releases.doctor_health_check(layout, systemctl=systemctl, sleep=lambda s: None)
    assert check(fake_release) is None
    # the doctor part is real: a damaged database fails the same check
    layout.data_dir.mkdir(parents=True)
    layout.database.write_bytes(b"not a database" * 100)
    systemctl, _ = systemctl_answers(steady, steady)
    check = releases.doctor_health_check(layout, systemctl=systemctl, sleep=lambda s: None)
    assert "database" in (check(fake_release) or "")


def test_health_check_looks_past_a_device_that_was_never_set_up(tmp_path: Path, fake_release: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed but not enrolled, default store id, no database yet: the doctor FAILs (setup), the upgrade
    does not roll back for it; a damaged database still fails the check."""
    monkeypatch.setenv("STORE_EDGE_PRODUCTION", "1")  # the doctor subprocess runs as on an installed device
    layout = Layout(tmp_path)
    proc = subprocess.run([str(fake_release / "bin/python"), "-m", "edge.ops", "doctor", "--json", "--data-dir",
                           str(layout.data_dir), "--only", "config,database,disk"], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["ok"] is False
    # never started: no data dir either (install.sh makes it; the till's first start too)
    assert {c["name"] for c in doc["checks"] if c["status"] == "FAIL" and c["setup"]} == {"config", "database", "disk"}
    check = releases.doctor_health_check(layout, systemctl=None, sleep=lambda s: None)
    assert check(fake_release) is None
    layout.data_dir.mkdir(parents=True)
    layout.database.write_bytes(b"not a database" * 100)
    assert "database" in (check(fake_release) or "")
