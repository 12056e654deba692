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

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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
    # pip's files sit in the page cache: without this a power cut can leave a RELEASE marker beside
    # zero-length modules, a "complete" release that cannot start
    os.sync()
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
Systemctl = Callable[[Sequence[str]], str]  # argv after "systemctl" -> its stdout


def run_systemctl(args: Sequence[str]) -> str:
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=30)
    return proc.stdout


@dataclass(frozen=True)
class UnitState:
    unit: str
    active: str
    sub: str
    restarts: int
    enabled: bool

    def describe(self) -> str:
        return f"{self.unit} {self.active}/{self.sub}, {self.restarts} restart(s)"


def unit_states(units: Sequence[str], systemctl: Systemctl = run_systemctl) -> list[UnitState]:
    """``systemctl show`` for each unit: one block of KEY=VALUE lines per unit, blocks split by a blank line."""
    out = systemctl(["show", "-p", "Id,ActiveState,SubState,NRestarts,UnitFileState", *units])
    states = []
    for block in out.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if not props.get("Id"):
            continue
        try:
            restarts = int(props.get("NRestarts") or 0)
        except ValueError:
            restarts = 0
        states.append(UnitState(props["Id"], props.get("ActiveState", "unknown"), props.get("SubState", "unknown"),
                                restarts, props.get("UnitFileState") in ("enabled", "enabled-runtime")))
    return states


def crash_loop_problem(before: Sequence[UnitState], after: Sequence[UnitState]) -> str | None:
    """Why the enabled units are not steadily running, or None. With ``Restart=always`` a unit that crashes
    after READY spends most of its time in activating/auto-restart, which a single look calls "starting":
    it must be active/running at the end and must not have restarted while we waited."""
    earlier = {s.unit: s for s in before}
    problems = []
    for now in after:
        if not now.enabled:
            continue
        if (now.active, now.sub) != ("active", "running"):
            problems.append(f"{now.unit} is {now.active}/{now.sub}")
        elif now.unit in earlier and now.restarts != earlier[now.unit].restarts:
            problems.append(f"{now.unit} restarted {now.restarts - earlier[now.unit].restarts} time(s) "
                            "while being checked (crash loop)")
    return "; ".join(problems) or None


def doctor_health_check(layout: Layout, checks: str = "config,database,disk",
                        settle_s: float = 5.0, *, units: Sequence[str] = SERVICE_UNITS,
                        systemctl: Systemctl | None = run_systemctl,
                        sleep: Callable[[float], None] = time.sleep) -> HealthCheck:
    """The enabled units stay active/running through the settle time without restarting (``systemctl`` is
    None where nothing runs: a root prefix, the boot-time resume), then the new release's own
    ``store-edge doctor`` passes against the installed config and data."""

    def check(release: Path) -> str | None:
        before = unit_states(units, systemctl) if systemctl is not None else []
        sleep(settle_s)
        if systemctl is not None:
            problem = crash_loop_problem(before, unit_states(units, systemctl))
            if problem:
                return problem
        argv = [str(release / "bin/python"), "-m", "edge.ops"]
        if layout.config.exists():
            argv += ["--config", str(layout.config)]
        argv += ["doctor", "--json", "--data-dir", str(layout.data_dir), "--only", checks]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if proc.returncode == 0:
            return None
        try:
            doc = json.loads(proc.stdout.strip().splitlines()[-1])
            # a device not set up yet (not enrolled, no database, default store id) was so before the upgrade
            fails = [c for c in doc["checks"] if c["status"] == "FAIL" and not c.get("setup")]
            return "; ".join(f"{c['name']}: {c['summary']}" for c in fails) or None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
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


@contextlib.contextmanager
def exclusive(layout: Layout) -> Iterator[None]:
    """One upgrade, rollback or resume at a time (the boot-time resume must never judge a running upgrade)."""
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.data_dir / ".upgrade.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReleaseError("another upgrade, rollback or resume is running; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


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
        os.sync()  # the release and the backup are on the card before ``current`` can name the release
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


def _roll_back(layout: Layout, *, to: str, backup: Path | None, services: Services, log: Log,
               after_restore: Callable[[], int] | None = None) -> Outcome:
    if not is_complete(layout.release_dir(to)):
        return Outcome(False, f"release {to} is not installed completely; cannot roll back to it")
    services.stop()
    carried = 0
    if backup is not None:
        restore_database(backup, layout.database)
        log(f"database restored from {backup}")
        if after_restore is not None:
            carried = after_restore()
            log(f"{carried} unsynced sync event(s) carried over into the restored database")
    left = link_release(layout.current)
    os.sync()
    swap_symlink(layout.current, f"releases/{to}")
    if left and left != to:
        swap_symlink(layout.previous, f"releases/{left}")
    _record(layout, from_release=left, to_release=to, backup=str(backup) if backup else None,
            finished_at=_now(), state="rolled back")
    services.start()
    kept = f"; {carried} unsynced event(s) from since the upgrade will still be sent to the hub" if carried else ""
    return Outcome(True, f"release {to} and its database are back{kept}", to)


# what a manual rollback would throw away: rows the live database has that the pre-upgrade backup lacks
SINCE_UPGRADE_KEYS = (("sales", "id"), ("ledger", "entry_id"), ("outbox", "event_id"))
UNSYNCED = ("pending", "in_flight", "dead")


def rows_since_backup(db_path: Path, backup: Path) -> dict[str, int]:
    """Per table, how many rows exist in the live database and not in ``backup`` (matched by their keys)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("ATTACH DATABASE ? AS bk", (f"file:{backup}?mode=ro",))
        out = {}
        for table, key in SINCE_UPGRADE_KEYS:
            try:
                n = conn.execute(f"SELECT count(*) FROM main.{table} WHERE {key} NOT IN "  # noqa: S608 - constants
                                 f"(SELECT {key} FROM bk.{table})").fetchone()[0]
            except sqlite3.OperationalError:  # a table one side does not have: every live row is new
                n = conn.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0] if _has_table(
                    conn, "main", table) else 0
            out[table] = int(n)
        return out
    finally:
        conn.close()


def _has_table(conn: sqlite3.Connection, schema: str, table: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type='table' AND name=?",  # noqa: S608
                        (table,)).fetchone() is not None


def carry_unsynced_outbox(saved: Path, db_path: Path) -> int:
    """Copy the outbox events in ``saved`` that the hub has not acknowledged and ``db_path`` lacks into
    ``db_path`` as pending: the hub still receives the sales made since the upgrade even though this
    till forgets them. Only the columns both schemas share are copied."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        conn.execute("ATTACH DATABASE ? AS saved", (f"file:{saved}?mode=ro",))
        if not (_has_table(conn, "main", "outbox") and _has_table(conn, "saved", "outbox")):
            return 0
        live = [r[1] for r in conn.execute("PRAGMA main.table_info(outbox)")]
        old = {r[1] for r in conn.execute("PRAGMA saved.table_info(outbox)")}
        cols = [c for c in live if c in old and c not in ("seq", "state", "attempts")]
        if "event_id" not in cols:
            return 0
        names = ", ".join(cols)
        marks = ", ".join("?" * len(UNSYNCED))
        with conn:
            cur = conn.execute(
                f"INSERT INTO main.outbox ({names}, state, attempts) SELECT {names}, 'pending', 0 "  # noqa: S608
                f"FROM saved.outbox WHERE state IN ({marks}) AND event_id NOT IN "
                f"(SELECT event_id FROM main.outbox) ORDER BY seq", UNSYNCED)
        return cur.rowcount
    finally:
        conn.close()


def _host_path(layout: Layout, recorded: str) -> Path:
    path = Path(recorded)
    if layout.root != Path("/") and not path.is_relative_to(layout.root):
        path = layout.root / path.relative_to("/")
    return path


def rollback(layout: Layout, *, services: Services, log: Log = lambda _msg: None,
             discard_since_upgrade: bool = False) -> Outcome:
    """By hand: undo the last *successful* upgrade, with the database as it was before it.

    Refused when the last upgrade was already rolled back (``previous`` then names the failed release and the
    recorded backup is older than the sales made since), when it never finished, or when ``current`` has
    moved on since. Restoring the backup forgets the sales, points and events made since the upgrade: that
    needs ``discard_since_upgrade``; even then the live database is kept in the backups directory and its
    unsynced outbox events are carried over, so the hub still gets them.
    """
    current = link_release(layout.current)
    record = read_record(layout)
    state = record.get("state")
    if not record:
        return Outcome(False, "no upgrade has been recorded on this device; there is nothing to roll back")
    if state == "rolled back":
        return Outcome(False, f"the upgrade to {record.get('from_release')} was already rolled back; release "
                              f"{current} is current and has the newest data. Install a fixed release with "
                              "'store-edge upgrade' instead")
    if state != "done":
        return Outcome(False, f"the last upgrade ({record.get('from_release')} -> {record.get('to_release')}) is "
                              f"'{state}', not finished; run 'store-edge upgrade --resume' first")
    if record.get("to_release") != current:
        return Outcome(False, f"release {current} is current, not {record.get('to_release')} that the last upgrade "
                              "installed; nothing recorded to roll back to")
    target = str(record.get("from_release") or "")
    if not target or not is_complete(layout.release_dir(target)):
        return Outcome(False, f"release {target or '?'} is not installed completely; cannot roll back to it")
    backup = _host_path(layout, str(record["backup"])) if record.get("backup") else None
    saved: Path | None = None
    if backup is None:
        if layout.database.exists():
            log("no backup from the upgrade to this release: the database stays as it is")
    elif layout.database.exists():
        if not backup.is_file():
            raise ReleaseError(f"the database backup {backup} is missing; restore by hand from {backup.parent}")
        lost = rows_since_backup(layout.database, backup)
        if any(lost.values()) and not discard_since_upgrade:
            return Outcome(False, f"the database has {lost['sales']} sale(s), {lost['ledger']} points entry(ies) and "
                                  f"{lost['outbox']} sync event(s) made since the upgrade to {current}; rolling back "
                                  "restores the pre-upgrade database and loses them on this till. Re-run with "
                                  "--discard-since-upgrade to accept that (the live database is kept in "
                                  f"{layout.backups} and its unsynced events are still sent to the hub)")
        if any(lost.values()):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            services.stop()  # the copy must include the last sale
            saved = backup_database(layout.database, layout.backups / f"discarded-{current}-{stamp}.db")
            log(f"the live database is kept as {saved}")
    outcome = _roll_back(layout, to=target, backup=backup, services=services, log=log,
                         after_restore=(lambda: carry_unsynced_outbox(saved, layout.database)) if saved else None)
    return outcome


def resume(layout: Layout, *, health_check: HealthCheck, run: Runner = run_command,
           log: Log = lambda _msg: None) -> Outcome:
    """At boot, before the services start: finish or undo an upgrade a power cut (or a crash) interrupted.

    ``state == "switching"`` in upgrade.json means the upgrade never reached its verdict. If ``current``
    still names the old release, nothing was migrated: the upgrade is just abandoned. If it names the new
    release, migrate and health-check it; keep it when healthy, else restore the backup and switch back.
    The services are not touched: systemd starts them after this (the resume unit is ordered before them).
    """
    record = read_record(layout)
    if record.get("state") != "switching":
        return Outcome(True, "no interrupted upgrade", link_release(layout.current))
    old, new = str(record.get("from_release") or ""), str(record.get("to_release") or "")
    backup = _host_path(layout, str(record["backup"])) if record.get("backup") else None
    current = link_release(layout.current)
    idle = NoServices()
    if current == old:
        _record(layout, **{**record, "finished_at": _now(), "state": "abandoned"})
        return Outcome(True, f"the upgrade to {new} was interrupted before the switch; {old} stays current", old)
    problem: str | None
    if current == new and is_complete(layout.release_dir(new)):
        try:
            migrate_with(layout.release_dir(new), layout.database, run)
            problem = health_check(layout.release_dir(new))
        except Exception as exc:
            problem = str(exc) or type(exc).__name__
        if problem is None:
            _record(layout, **{**record, "finished_at": _now(), "state": "done"})
            return Outcome(True, f"the interrupted upgrade {old} -> {new} passed its health check; kept", new)
    else:
        problem = f"current is {current or 'missing'}, not a complete {new}"
    log(f"the interrupted upgrade to {new} is not healthy ({problem}); rolling back to {old}")
    back = _roll_back(layout, to=old, backup=backup, services=idle, log=log)
    return Outcome(back.ok, f"the interrupted upgrade to {new} failed ({problem}); {back.message}", back.release)


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
