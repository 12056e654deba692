"""install.sh into a throwaway root from an offline wheelhouse (twice: same result), and an upgrade whose
health check fails putting the previous release and database back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge.db import SCHEMA_VERSION, open_database
from edge.ops import releases

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def run_install(root: Path, wheelhouse: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--root", str(root), "--wheelhouse", str(wheelhouse),
                           "--python", sys.executable, *extra], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def manifest(root: Path) -> dict[str, str]:
    """Every path with its type, mode and content hash or link target (not times: a re-run may touch them)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                what = "link " + os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                what = "dir"
            else:
                what = "file " + hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            out[str(p.relative_to(root))] = f"{stat.S_IMODE(st.st_mode):04o} {what}"
    return out


@pytest.fixture(scope="module")
def installed_once(tmp_path_factory: pytest.TempPathFactory, project_wheelhouse: Path) -> Path:
    root = tmp_path_factory.mktemp("installed") / "root"
    run_install(root, project_wheelhouse, _release_env(), "--version", "1.0")
    return root


def _release_env() -> dict[str, str]:
    import sysconfig

    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORE_EDGE_", "PIP_", "VIRTUAL_ENV"))}
    env.update(PIP_NO_DEPS="1", PIP_NO_INDEX="1", PIP_IGNORE_INSTALLED="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONPATH=sysconfig.get_paths()["purelib"])
    return env


@pytest.fixture
def installed(tmp_path: Path, installed_once: Path) -> Path:
    """A fresh copy of one install per test (a venv works from a copy when run as bin/python -m ...)."""
    root = tmp_path / "root"
    shutil.copytree(installed_once, root, symlinks=True)
    return root


def test_install_layout_and_rerun_gives_the_same_result(installed: Path, project_wheelhouse: Path,
                                                        release_env: dict[str, str]) -> None:
    root = installed
    layout = releases.Layout(root)
    assert os.readlink(layout.current) == "releases/1.0"
    assert (layout.current / "bin/python").exists() and (layout.current / "RELEASE").is_file()
    assert stat.S_IMODE(layout.config.stat().st_mode) == 0o640
    assert stat.S_IMODE(layout.data_dir.stat().st_mode) == 0o750
    assert os.readlink(root / "usr/local/bin/store-edge") == "/opt/store-edge/current/bin/store-edge"
    for unit in ("till", "sync", "presence"):
        assert (root / f"etc/systemd/system/store-edge-{unit}.service").is_file()
    assert (root / "etc/udev/rules.d/70-store-edge.rules").is_file()
    assert (root / "etc/systemd/journald.conf.d/50-store-edge.conf").is_file()
    # the release runs its own copy of the code (not the checkout), and its version
    proc = subprocess.run([str(layout.current / "bin/python"), "-c", "import edge; print(edge.__file__)"],
                          capture_output=True, text=True, env=release_env, cwd=root)
    assert Path(proc.stdout.strip()).resolve().is_relative_to(layout.release_dir("1.0").resolve()), proc.stderr

    before = manifest(root)
    second = run_install(root, project_wheelhouse, release_env, "--version", "1.0")
    assert "already installed" in second.stdout
    assert manifest(root) == before


def test_a_technicians_config_survives_a_rerun(installed: Path, project_wheelhouse: Path,
                                               release_env: dict[str, str]) -> None:
    config = releases.Layout(installed).config
    config.write_text('[store]\nid = "store-0042"\n')
    run_install(installed, project_wheelhouse, release_env, "--version", "1.0")
    assert "store-0042" in config.read_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def seed(db_path: Path) -> None:
    db = open_database(db_path)
    db["products"].insert({"gtin": "08710000000017", "name": "Whole Milk 1L", "price_cents": 129,
                           "vat_rate_bp": 900, "category": "dairy"}, alter=True)
    db.close()


def test_failed_health_check_brings_back_the_previous_release_and_database(
        installed: Path, project_wheelhouse: Path, release_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    layout = releases.Layout(installed)
    seed(layout.database)
    monkeypatch.setenv("PIP_NO_DEPS", "1")  # install_release runs pip offline: no dependency wheels here
    monkeypatch.setenv("PIP_IGNORE_INSTALLED", "1")
    monkeypatch.setenv("PYTHONPATH", release_env["PYTHONPATH"])  # the new release migrates with its own code
    seen = {}

    def bad_release_check(release: Path) -> str | None:
        # what a broken release does: it is current, has migrated, then wrecks the schema and fails
        seen["current"] = releases.link_release(layout.current)
        conn = sqlite3.connect(layout.database)
        conn.execute("CREATE TABLE written_by_the_bad_release (x)")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        conn.commit()
        conn.close()
        return "store-edge-till.service failed"

    services = releases.NoServices()
    outcome = releases.upgrade(layout, project_wheelhouse, version="2.0", python=sys.executable,
                               services=services, health_check=bad_release_check)
    assert seen.get("current") == "2.0", outcome.message
    assert not outcome.ok and "release 1.0 and its database are back" in outcome.message
    assert releases.link_release(layout.current) == "1.0"
    assert services.calls == ["stop", "start", "stop", "start"]
    conn = sqlite3.connect(layout.database)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT name FROM products").fetchall() == [("Whole Milk 1L",)]
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'written_by_the_bad_release'").fetchall()
    conn.close()
    # ... and the old release runs against it: its own doctor passes the database check
    proc = subprocess.run([str(layout.current / "bin/python"), "-m", "edge.ops", "doctor", "--json", "--only",
                           "database", "--data-dir", str(layout.data_dir)], capture_output=True, text=True,
                          env=release_env, cwd=installed)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["checks"][0]["status"] == "PASS", proc.stdout + proc.stderr
    assert json.loads(layout.upgrade_record.read_text())["state"] == "rolled back"


def test_upgrade_through_install_sh_then_rollback_by_hand(installed: Path, project_wheelhouse: Path,
                                                          release_env: dict[str, str]) -> None:
    layout = releases.Layout(installed)
    seed(layout.database)
    proc = run_install(installed, project_wheelhouse, release_env, "--version", "2.0")
    assert "upgraded 1.0 -> 2.0; health check passed" in proc.stdout
    assert releases.link_release(layout.current) == "2.0"
    assert releases.link_release(layout.previous) == "1.0"
    backups = list(layout.backups.glob("store-1.0-*.db"))
    assert len(backups) == 1
    # the new release writes something; a rollback by hand returns to the pre-upgrade database
    conn = sqlite3.connect(layout.database)
    conn.execute("DELETE FROM products")
    conn.commit()
    conn.close()
    back = subprocess.run([str(layout.current / "bin/python"), "-m", "edge.ops", "rollback", "--root",
                           str(installed)], capture_output=True, text=True, env=release_env, cwd=installed)
    assert back.returncode == 0, back.stdout + back.stderr
    assert releases.link_release(layout.current) == "1.0"
    conn = sqlite3.connect(layout.database)
    assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 1
    conn.close()


def test_swap_symlink_is_a_rename(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    link = tmp_path / "current"
    releases.swap_symlink(link, "a")
    inode_dir = os.stat(tmp_path).st_ino
    releases.swap_symlink(link, "b")
    assert os.readlink(link) == "b" and os.stat(tmp_path).st_ino == inode_dir
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "current"]  # no temporary left behind


def test_interrupted_release_is_redone(tmp_path: Path, project_wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = releases.Layout(tmp_path)
    half = layout.release_dir("3.0")
    (half / "bin").mkdir(parents=True)  # a power cut during pip: no RELEASE file
    calls: list[list[str]] = []
    releases.install_release(layout, project_wheelhouse, "3.0", run=lambda argv: calls.append(list(argv)))
    assert calls[0][1:3] == ["-m", "venv"] and "--no-index" in calls[1] and "--no-index" not in calls[0]
    assert releases.is_complete(half) and not (half / "bin").exists()


# ------------------------------------------------------------------------------------------- re-runs on a live box
@pytest.fixture
def stand_ins(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """systemctl, udevadm and the run-as-user wrapper as scripts that log their arguments (one line each)."""
    log = tmp_path / "calls.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("systemctl", "udevadm", "runas"):
        script = bindir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        script.chmod(0o755)
    env = {"STORE_EDGE_SYSTEMCTL": str(bindir / "systemctl"), "STORE_EDGE_UDEVADM": str(bindir / "udevadm"),
           "STORE_EDGE_RUNAS": str(bindir / "runas")}
    return env, log


def calls(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_rerun_on_a_live_box_restarts_nothing_and_keeps_the_enrolment(
        installed: Path, project_wheelhouse: Path, release_env: dict[str, str],
        stand_ins: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    extra_env, log = stand_ins
    env = {**release_env, **extra_env}
    config = tmp_path / "store.toml"
    config.write_text('[store]\nid = "store-0042"\n[device]\nid = "till-1"\nrole = "till"\n')
    enrol = ("--hub", "https://hub.example", "--code", "ONE-TIME")
    run_install(installed, project_wheelhouse, env, "--version", "1.0", "--manage-services", "--config",
                str(config), *enrol)
    first = calls(log)
    assert "runas " + str(installed / "opt/store-edge/current/bin/store-edge") + \
        " enroll --hub https://hub.example --code ONE-TIME" in first
    assert "systemctl restart store-edge-till.service" in first  # the config changed
    assert "systemctl mask --quiet getty@tty1.service" in first
    assert "systemctl enable --quiet store-edge-resume.service store-edge-till.service" in first

    # enrolled now; the same command again (Ansible, a technician's shell history) during trading
    credential = releases.Layout(installed).data_dir / "device-credential.json"
    credential.write_text("{}")
    proc = run_install(installed, project_wheelhouse, env, "--version", "1.0", "--manage-services", "--config",
                       str(config), *enrol)
    second = calls(log)
    assert not [c for c in second if c.startswith("runas")], second
    assert "already enrolled" in proc.stdout
    assert not [c for c in second if "restart" in c or c.startswith("udevadm")], second
    assert "systemctl start store-edge-till.service" in second  # starts it if stopped, no restart
    assert "systemctl mask --quiet getty@tty1.service" in second

    run_install(installed, project_wheelhouse, env, "--version", "1.0", "--manage-services", "--config",
                str(config), *enrol, "--re-enroll")
    assert [c for c in calls(log) if c.startswith("runas")]


def test_help_and_an_old_python(tmp_path: Path, project_wheelhouse: Path, release_env: dict[str, str]) -> None:
    usage = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "--wheelhouse DIR" in usage.stdout
    assert "set -euo" not in usage.stdout and "#" not in usage.stdout
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\ncase "$*" in *version_info*) exit 1 ;; -V) echo "Python 3.9.2" ;; esac\n')
    old.chmod(0o755)
    proc = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--root", str(tmp_path / "root"), "--wheelhouse",
                           str(project_wheelhouse), "--python", str(old)], capture_output=True, text=True,
                          env=release_env)
    assert proc.returncode == 2 and "needs Python 3.11 or newer" in proc.stderr and "3.9.2" in proc.stderr
    assert not (tmp_path / "root/opt").exists()
