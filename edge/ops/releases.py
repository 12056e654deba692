"""Releases side by side, an atomic ``current`` switch, database backups, upgrade and rollback.

Layout under a root prefix (``/`` on a device, a temporary directory in tests)::

    opt/store-edge/releases/<version>/   a complete venv; its RELEASE file is written last
    opt/store-edge/current -> releases/<version>      what the services run (ExecStart goes through it)
    opt/store-edge/previous -> releases/<version>     what ``rollback`` returns to
    var/lib/store-edge/store.db, backups/, upgrade.json

Power-cut safety: at every instant ``current`` names a complete release and the database is one that release
can open. The order that keeps this true is: install the new release beside the old (no RELEASE file until
pip finished) -> back up the database (SQLite online backup) -> switch ``current`` (symlink renamed over the
old one: atomic) -> migrate with the new code (the new code would also migrate on its own at start) ->
restart -> health check. Rolling back restores the database *before* switching ``current`` back, because the
old code refuses a schema newer than it knows, while the new code accepts the old schema and migrates it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

RELEASE_MARKER = "RELEASE"
KEEP_BACKUPS = 5
SERVICE_UNITS = ("store-edge-till.service", "store-edge-sync.service", "store-edge-presence.service")


class ReleaseError(Exception):
    """An install, upgrade or rollback step failed; ``str()`` says which and what to do."""


@dataclass(frozen=True)
class Layout:
    root: Path = Path("/")

    @property
    def base(self) -> Path:
        return self.root / "opt/store-edge"

    @property
    def releases(self) -> Path:
        return self.base / "releases"

    @property
    def current(self) -> Path:
        return self.base / "current"

    @property
    def previous(self) -> Path:
        return self.base / "previous"

    @property
    def config(self) -> Path:
        return self.root / "etc/store-edge/config.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "var/lib/store-edge"

    @property
    def database(self) -> Path:
        return self.data_dir / "store.db"

    @property
    def backups(self) -> Path:
        return self.data_dir / "backups"

    @property
    def upgrade_record(self) -> Path:
        return self.data_dir / "upgrade.json"

    def release_dir(self, version: str) -> Path:
        return self.releases / version


# ------------------------------------------------------------------------------------------- small pieces
def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.write(fd, text.encode())
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def swap_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically: a new symlink renamed over the old one (rename(2) is atomic)."""
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def link_release(link: Path) -> str | None:
    """The release name a ``current``/``previous`` link points at (None when absent)."""
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name


def is_complete(release_dir: Path) -> bool:
    return (release_dir / RELEASE_MARKER).is_file()


def installed_releases(layout: Layout) -> list[str]:
    if not layout.releases.is_dir():
        return []
    return sorted(p.name for p in layout.releases.iterdir() if is_complete(p))


def wheel_version(wheelhouse: Path) -> str:
    """The version of the store-edge wheel in ``wheelhouse`` (the newest when there are several)."""
    versions = [w.name.split("-")[1] for w in wheelhouse.glob("store_edge-*.whl")]
    if not versions:
        raise ReleaseError(f"no store_edge-*.whl in {wheelhouse}; build it with 'make wheelhouse'")

    def key(v: str) -> tuple[int | str, ...]:
        return tuple(int(x) if x.isdigit() else x for x in v.replace("+", ".").split("."))

    return sorted(versions, key=key)[-1]


Runner = Callable[[Sequence[str]], None]


def run_command(argv: Sequence[str]) -> None:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ReleaseError(f"'{' '.join(argv[:3])} ...' failed (exit {proc.returncode}): {' | '.join(tail)}")


def install_release(layout: Layout, wheelhouse: Path, version: str, *, python: str = "/usr/bin/python3",
                    run: Runner = run_command) -> Path:
    """Create ``releases/<version>`` as its own venv from the wheelhouse, offline. Safe to repeat.

    A directory without its RELEASE file is a release a power cut interrupted: it is removed and redone.
    """
    target = layout.release_dir(version)
    if is_complete(target):
        return target
    if target.exists():
        shutil.rmtree(target)
    layout.releases.mkdir(parents=True, exist_ok=True)
    pip = ["install", "--quiet", "--no-index", "--disable-pip-version-check", "--find-links", str(wheelhouse),
           f"store-edge=={wheel_version(wheelhouse)}"]
    if _has_pip_python_option(python):
        # the system pip installs into a pip-less venv: much faster than bootstrapping pip (ensurepip) per release
        run([python, "-m", "venv", "--without-pip", str(target)])
        run([python, "-m", "pip", "--python", str(target / "bin/python"), *pip])
    else:
        run([python, "-m", "venv", str(target)])
        run([str(target / "bin/python"), "-m", "pip", *pip])
    write_atomic(target / RELEASE_MARKER, json.dumps({"version": version, "installed_at": _now()}) + "\n")
    return target


def _has_pip_python_option(python: str) -> bool:
    """pip >= 22.3 can install into another interpreter's environment (``pip --python``)."""
    proc = subprocess.run([python, "-m", "pip", "--python", python, "--version"], capture_output=True)
    return proc.returncode == 0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backup_database(db_path: Path, dest: Path) -> Path:
    """A consistent copy through SQLite's online backup API (safe while the till writes), fsynced."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


def restore_database(backup: Path, db_path: Path) -> None:
    """Copy ``backup`` into the live database through the backup API: one journaled write transaction, so a
    power cut leaves either the old or the restored content, and the live file's WAL stays consistent."""
    if not backup.is_file():
        raise ReleaseError(f"the database backup {backup} is missing; restore by hand from {backup.parent}")
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(db_path, timeout=30)
    try:
        dst.execute("PRAGMA synchronous=FULL")
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def prune_backups(backups: Path, keep: int = KEEP_BACKUPS) -> None:
    files = sorted(backups.glob("store-*.db"), key=lambda p: p.stat().st_mtime)
    for old in files[:-keep] if keep else files:
        old.unlink(missing_ok=True)


def prune_releases(layout: Layout) -> list[str]:
    """Remove releases other than current and previous (SD cards are small); returns what was removed."""
    keep = {link_release(layout.current), link_release(layout.previous)}
    removed = []
    if layout.releases.is_dir():
        for p in layout.releases.iterdir():
            if p.name not in keep and p.is_dir():
                shutil.rmtree(p)
                removed.append(p.name)
    return removed


# ------------------------------------------------------------------------------------------- services
class Services(Protocol):
    def stop(self) -> None: ...

    def start(self) -> None: ...


@dataclass
class SystemdServices:
    """The store-edge units that are enabled on this device."""

    units: Sequence[str] = SERVICE_UNITS

    def _enabled(self) -> list[str]:
        out = []
        for unit in self.units:
            proc = subprocess.run(["systemctl", "is-enabled", "--quiet", unit], capture_output=True)
            if proc.returncode == 0:
                out.append(unit)
        return out

    def stop(self) -> None:
        subprocess.run(["systemctl", "stop", *self.units], capture_output=True)

    def start(self) -> None:
        enabled = self._enabled()
        if enabled:
            subprocess.run(["systemctl", "daemon-reload"], capture_output=True)
            run_command(["systemctl", "restart", *enabled])


@dataclass
class NoServices:
    """For a root prefix (tests, image building): nothing runs there. Records what would have happened."""

    calls: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.calls.append("stop")

    def start(self) -> None:
        self.calls.append("start")


HealthCheck = Callable[[Path], str | None]  # release dir -> None when healthy, else why not


def doctor_health_check(layout: Layout, checks: str = "config,database,disk,service",
                        settle_s: float = 5.0) -> HealthCheck:
    """Run the new release's own ``store-edge doctor`` against the installed config and data."""

    def check(release: Path) -> str | None:
        time.sleep(settle_s)  # let systemd start the services (a crash loop shows up as not active)
        argv = [str(release / "bin/python"), "-m", "edge.ops"]
        if layout.config.exists():
            argv += ["--config", str(layout.config)]
        argv += ["doctor", "--json", "--data-dir", str(layout.data_dir), "--only", checks]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if proc.returncode == 0:
            return None
        try:
            doc = json.loads(proc.stdout.strip().splitlines()[-1])
            return "; ".join(f"{c['name']}: {c['summary']}" for c in doc["checks"] if c["status"] == "FAIL")
        except (ValueError, KeyError, IndexError):
            return f"doctor exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-200:]}"

    return check


def migrate_with(release: Path, db_path: Path, run: Runner = run_command) -> None:
    """Apply the new release's migrations using the new release's own code."""
    if db_path.exists():
        run([str(release / "bin/python"), "-m", "edge.ops.releases", "migrate", str(db_path)])


# ------------------------------------------------------------------------------------------- upgrade / rollback
@dataclass
class Outcome:
    ok: bool
    message: str
    release: str | None = None


Log = Callable[[str], None]


def _record(layout: Layout, **doc: str | None) -> None:
    write_atomic(layout.upgrade_record, json.dumps(doc, indent=2) + "\n", 0o640)


def read_record(layout: Layout) -> dict[str, str | None]:
    try:
        doc = json.loads(layout.upgrade_record.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def upgrade(layout: Layout, wheelhouse: Path, *, version: str | None = None, python: str = "/usr/bin/python3",
            services: Services, health_check: HealthCheck, run: Runner = run_command,
            log: Log = lambda _msg: None) -> Outcome:
    """Install, back up, switch, migrate, restart, check; on a failed check, roll back by itself."""
    new = version or wheel_version(wheelhouse)
    old = link_release(layout.current)
    if old == new and is_complete(layout.release_dir(new)):
        return Outcome(True, f"release {new} is already current; nothing to do", new)
    log(f"installing release {new} beside {old or 'nothing'}")
    release = install_release(layout, wheelhouse, new, python=python, run=run)
    if old is None:
        swap_symlink(layout.current, f"releases/{new}")
        return Outcome(True, f"release {new} installed (first install)", new)
    backup: Path | None = None
    log("stopping the services")
    services.stop()
    try:
        if layout.database.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            backup = backup_database(layout.database, layout.backups / f"store-{old}-{stamp}.db")
            log(f"database backed up to {backup}")
        _record(layout, from_release=old, to_release=new, backup=str(backup) if backup else None,
                started_at=_now(), state="switching")
        swap_symlink(layout.previous, f"releases/{old}")
        swap_symlink(layout.current, f"releases/{new}")
        log("migrating the database with the new release")
        migrate_with(release, layout.database, run)
        services.start()
        log("checking the new release's health")
        problem = health_check(release)
    except Exception as exc:  # any failure after the switch must end in a rollback, never half-way
        problem = str(exc) or type(exc).__name__
    if problem is None:
        _record(layout, from_release=old, to_release=new, backup=str(backup) if backup else None,
                finished_at=_now(), state="done")
        prune_backups(layout.backups)
        prune_releases(layout)  # keeps current and previous: SD cards are small
        return Outcome(True, f"upgraded {old} -> {new}; health check passed", new)
    log(f"health check failed: {problem}; rolling back to {old}")
    back = _roll_back(layout, to=old, backup=backup, services=services, log=log)
    return Outcome(False, f"the upgrade to {new} failed its health check ({problem}); {back.message}", old)


def _roll_back(layout: Layout, *, to: str, backup: Path | None, services: Services, log: Log) -> Outcome:
    if not is_complete(layout.release_dir(to)):
        return Outcome(False, f"release {to} is not installed completely; cannot roll back to it")
    services.stop()
    if backup is not None:
        restore_database(backup, layout.database)
        log(f"database restored from {backup}")
    left = link_release(layout.current)
    swap_symlink(layout.current, f"releases/{to}")
    if left and left != to:
        swap_symlink(layout.previous, f"releases/{left}")
    _record(layout, from_release=left, to_release=to, backup=str(backup) if backup else None,
            finished_at=_now(), state="rolled back")
    services.start()
    return Outcome(True, f"release {to} and its database are back", to)


def rollback(layout: Layout, *, services: Services, log: Log = lambda _msg: None) -> Outcome:
    """By hand: back to ``previous``, with the database as it was before the upgrade that left it."""
    target = link_release(layout.previous)
    current = link_release(layout.current)
    if target is None or target == current:
        return Outcome(False, "there is no previous release to roll back to")
    record = read_record(layout)
    backup: Path | None = None
    if record.get("from_release") == target and record.get("to_release") == current and record.get("backup"):
        backup = Path(str(record["backup"]))
        if layout.root != Path("/") and not backup.is_relative_to(layout.root):
            backup = layout.root / backup.relative_to("/")
    elif layout.database.exists():
        log("no backup from the upgrade to this release: the database stays as it is")
    return _roll_back(layout, to=target, backup=backup, services=services, log=log)


def _main(argv: Sequence[str]) -> int:
    """``python -m edge.ops.releases migrate DB``: run by the *new* release during an upgrade."""
    if len(argv) == 2 and argv[0] == "migrate":
        from edge.db.connection import open_database

        open_database(Path(argv[1])).close()
        return 0
    print("usage: python -m edge.ops.releases migrate DATABASE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
