"""``store-edge doctor``: what is wrong with this till, in lines a technician can act on.

Each check is a pure function from facts to a ``CheckResult``; the facts come from ``Probes`` (the disk,
the clock, the hub, serial ports, BlueZ, systemd), which tests replace one at a time. No check raises: a
probe that fails becomes a FAIL line with its reason.

On an installed device (``Probes.installed``: deploy/install.sh has run, see :func:`installed_device`) a
device that is not set up yet is not ready: not enrolled, no database, or ``store.id`` still at its default
are FAIL lines marked ``setup`` (the upgrade's health check looks past those, they are not the new release's
doing). On a developer's machine and in the demo the same facts are WARN. WARN is for what a working store
can live with (a clock a few seconds off, a backlog of an hour, a schema the till migrates at start).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import grp
import json
import os
import pwd
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from edge import paths
from edge.core.i18n import ENGLISH, N_, Number, Text, Translator
from edge.ops import db_damage
from edge.settings import ConfigError, Settings, StoreSettings

Status = Literal["PASS", "WARN", "FAIL"]
PASS: Status = "PASS"
WARN: Status = "WARN"
FAIL: Status = "FAIL"

SERVICE_USER = "store-edge"
UNITS = {"till": "store-edge-till.service", "sync": "store-edge-sync.service", "presence": "store-edge-presence.service"}

DISK_FAIL_BYTES = 100 * 1024 * 1024
DISK_WARN_BYTES = 500 * 1024 * 1024
DISK_WARN_SHARE = 0.10
SKEW_WARN_S = 5.0
SKEW_FAIL_S = 60.0  # signed QR tokens allow 30 s of skew (barcode.token_skew_s); a minute breaks them
BACKLOG_WARN_S = 3600.0
BACKLOG_FAIL_S = 24 * 3600.0
DEFAULT_STORE = StoreSettings().id  # "demo-store": what a config that was never filled in says
NO_HUB = N_("no hub configured")
ENROL = N_("run 'store-edge enroll --hub URL --code CODE'")


DEMO_HUB_DIR = "hub"  # a data dir with hub/hub.db beside store.db is the demo's (edge/demo/runner.py)
NAME_WIDTH = 9  # the name column's least width (English names fit; a longer translated one widens it)


@dataclass(frozen=True)
class CheckResult:
    """One line of the report. ``setup``: a FAIL that says the device is not set up yet (not enrolled, no
    database, default store id) rather than that something broke."""

    name: str
    status: Status
    summary: str
    hint: str = ""
    setup: bool = False

    def line(self, tr: Translator = ENGLISH, name_width: int = NAME_WIDTH) -> str:
        """``STATUS  name      summary`` in ``tr``'s language (the name, summary and advice; PASS/WARN/FAIL stay
        codes) and, unless it passed, the hint: one ``->`` line per line of it. ``name_width``: the name
        column's width in characters (:func:`report_text` gives the longest translated name's)."""
        text = f"{self.status:4}  {tr.text(CHECK_NAMES.get(self.name, self.name)):{name_width}} {tr.text(self.summary)}"
        if not self.hint or self.status == PASS:
            return text
        return "\n".join([text, *(f"      -> {part}" for part in tr.text(self.hint).splitlines())])


# the check names as a technician reads them (the JSON report keeps the English names as keys)
CHECK_NAMES = {
    "config": N_("config"), "database": N_("database"), "disk": N_("disk"), "hub": N_("hub"), "clock": N_("clock"),
    "outbox": N_("outbox"), "scanner": N_("scanner"), "ble": N_("ble"), "service": N_("service"),
    "identity": N_("identity"), "events": N_("events"), "files": N_("files"),
}  # fmt: skip


@dataclass(frozen=True)
class DiskUsage:
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class HubAnswer:
    """What one authenticated request to the hub gave: an HTTP status, the hub's clock, or why it failed."""

    status_code: int | None  # None: no answer at all
    error_code: str | None = None
    message: str | None = None
    server_time: datetime | None = None
    failure: str | None = None  # why there was no answer


def _as_text(message: str) -> str:
    """``message`` as a :class:`Text` (a marked constant or a ``Text`` already), so a translator says it."""
    return message if getattr(message, "template", None) is not None else Text(message)


# ------------------------------------------------------------------------------------------- pure checks
def check_config(settings: Settings | None, error: str | None, config_path: Path | None,
                 mode: int | None, group: str | None, installed: bool = False) -> CheckResult:
    """``installed``: a store id left at its default is a FAIL (the hub would file sales under the demo)."""
    if error is not None or settings is None:
        return CheckResult("config", FAIL, error or Text(N_("the settings could not be read")),
                           Text(N_("fix the named key in the config file (see README, Configuration)")))
    where = str(config_path) if config_path else Text(N_("defaults and environment (no config file)"))
    if config_path is not None and mode is not None:
        if mode & 0o007:
            return CheckResult("config", FAIL, Text(N_("{path} is readable by every user (mode {mode})"),
                                                           path=config_path, mode=f"{mode:04o}"),
                               f"chmod 0640 {config_path}; chgrp {SERVICE_USER} {config_path}")
        if group not in (None, SERVICE_USER) and _user_exists(SERVICE_USER):
            return CheckResult("config", WARN, Text(N_("{path} belongs to group {group}, so the service cannot read it"),
                                                           path=config_path, group=group),
                               f"chgrp {SERVICE_USER} {config_path}")
    if settings.store.id == DEFAULT_STORE:
        hint = Text(N_("set [store] id and [device] id to what the hub administrator gave you"))
        if installed:
            return CheckResult("config", FAIL, Text(N_("valid ({where}), but store.id is still the default "
                                                       "'{store}': this device is not set up for a store"),
                                                    where=where, store=DEFAULT_STORE),
                               Text(N_("{hint} in {path}, then restart the services"), hint=hint,
                                    path=config_path or paths.SYSTEM_CONFIG), setup=True)
        return CheckResult("config", WARN, Text(N_("valid ({where}), but store.id is still '{store}'"),
                                                where=where, store=DEFAULT_STORE), hint)
    return CheckResult("config", PASS, Text(N_("valid ({where}); store {store}, device {device}"), where=where,
                                            store=settings.store.id, device=settings.device.id))


def check_database(path: Path, installed: bool = False) -> CheckResult:
    """``installed``: no database is a FAIL (nothing can be sold or synced until the service has made it)."""
    from edge.db.migrations import SCHEMA_VERSION

    if not path.exists():
        if installed:
            return CheckResult("database", FAIL, Text(N_("{path} does not exist: the services have never started "
                                                         "here, or cannot write their data directory"), path=path),
                               Text(N_("'systemctl start {unit}' (or the sync/presence service) creates it; "
                                       "check that {dir} belongs to {user}"), unit=UNITS["till"], dir=path.parent,
                                    user=SERVICE_USER), setup=True)
        return CheckResult("database", WARN, Text(N_("{path} does not exist yet"), path=path),
                           Text(N_("start the till once (it creates the database), or run 'store-edge enroll'")))
    try:
        damage = db_damage.diagnose(path)
    except OSError as exc:
        return CheckResult("database", FAIL, Text(N_("{path} cannot be read ({problem})"), path=path,
                                                  problem=str(exc.strerror or exc)),
                           Text(N_("check its owner and mode, and the disk ('dmesg')")))
    if damage is not None:
        return CheckResult("database", FAIL, damage.what, "\n".join(db_damage.advice(path, damage)))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return CheckResult("database", FAIL, Text(N_("{path} cannot be opened ({problem})"), path=path, problem=str(exc)),
                           Text(N_("check its owner and mode")))
    if version > SCHEMA_VERSION:
        return CheckResult("database", FAIL, Text(N_("schema {version} is newer than this release knows ({known})"),
                                                       version=version, known=SCHEMA_VERSION),
                           Text(N_("upgrade store-edge, or 'store-edge rollback' to restore the pre-upgrade database")))
    if version < SCHEMA_VERSION:
        return CheckResult("database", WARN, Text(N_("integrity ok; schema {version}, this release migrates it to {known}"),
                                                       version=version, known=SCHEMA_VERSION),
                           Text(N_("start the till (or 'store-edge upgrade') to apply the migrations")))
    return CheckResult("database", PASS, Text(N_("integrity ok, schema {version}"), version=version))


def check_disk(path: Path, usage: DiskUsage | None, failure: str | None = None, exists: bool = True) -> CheckResult:
    """Free space where the data dir is. ``exists`` False: the data dir is not there at all - a wrong
    --data-dir or [paths] setting, or a till that never started (install.sh and the till's first start create
    it) - which is a FAIL however much room its file system has."""
    if not exists:
        return CheckResult("disk", FAIL, Text(N_("the data dir {path} does not exist"), path=path),
                           Text(N_("check --data-dir (or [paths] data_dir); a new till creates it at its first start")),
                           setup=True)  # a device never started: set-up, not something an upgrade broke
    if usage is None:
        return CheckResult("disk", FAIL, Text(N_("free space on {path} unknown ({problem})"), path=path, problem=failure),
                           Text(N_("check that the data dir exists")))
    free_mb = usage.free_bytes / 1024 / 1024
    share = usage.free_bytes / usage.total_bytes if usage.total_bytes else 0.0
    text = Text(N_("{mb} MB free ({share}) on {path}"), mb=Number(free_mb), share=Number(share, percent=True),
                path=path)
    if usage.free_bytes < DISK_FAIL_BYTES:
        return CheckResult("disk", FAIL, Text(N_("{usage}: sales cannot be saved safely"), usage=text),
                           Text(N_("free space: 'journalctl --vacuum-size=50M', remove old files in the backups dir")))
    if usage.free_bytes < DISK_WARN_BYTES or share < DISK_WARN_SHARE:
        return CheckResult("disk", WARN, text,
                           Text(N_("free space soon: 'journalctl --vacuum-size=50M', old backups")))
    return CheckResult("disk", PASS, text)


def check_clock(answer: HubAnswer | None, local_now: datetime, why_not: str = NO_HUB) -> CheckResult:
    if answer is None:
        return CheckResult("clock", WARN, Text(N_("not compared: {why}"), why=_as_text(why_not)),
                           Text(N_("enrol the device to compare clocks")))
    if answer.server_time is None:
        return CheckResult("clock", WARN, Text(N_("not compared: the hub did not answer with its time")),
                           Text(N_("fix the hub connection first (see 'hub' above)")))
    skew = (local_now - answer.server_time).total_seconds()
    seconds = Number(abs(skew))
    text = (Text(N_("{seconds} s ahead of the hub"), seconds=seconds) if skew > 0
            else Text(N_("{seconds} s behind the hub"), seconds=seconds))
    if abs(skew) >= SKEW_FAIL_S:
        return CheckResult("clock", FAIL, Text(N_("{skew}: signed loyalty QR codes will be refused"), skew=text),
                           Text(N_("enable time sync: 'timedatectl set-ntp true' (and allow NTP through the "
                                   "store firewall)")))
    if abs(skew) >= SKEW_WARN_S:
        return CheckResult("clock", WARN, text, Text(N_("check 'timedatectl status' (NTP synchronised: yes)")))
    return CheckResult("clock", PASS, text)


def check_hub(hub_url: str, answer: HubAnswer | None, enrolled: bool, credential_error: str | None,
              installed: bool = False, demo_hub: Path | None = None) -> CheckResult:
    """``installed``: not enrolled is a FAIL (no sale, customer or offer would ever reach the hub). ``demo_hub``: the
    data dir is ``store-edge demo``'s, whose hub keeps its data in that directory: a hub not answering is a WARN that says
    the demo's hub runs only while the demo is open."""
    if not hub_url and not enrolled:
        if installed:
            return CheckResult("hub", FAIL, Text(N_("this device is not enrolled with a hub: nothing it sells is "
                                                    "synced and no customer or offer reaches it")),
                               Text(N_("ask the hub administrator for an enrolment code, then "
                                       "'sudo -u store-edge store-edge enroll --hub URL --code CODE'")), setup=True)
        return CheckResult("hub", WARN, Text(N_("no hub configured: the till runs offline and nothing is synced")),
                           Text(ENROL))
    if credential_error is not None:
        return CheckResult("hub", FAIL, credential_error, Text(ENROL), setup=not enrolled)
    if answer is None or answer.status_code is None:
        why = answer.failure if answer and answer.failure else Text(N_("{url} cannot be reached (not tried)"),
                                                                      url=hub_url)
        if demo_hub is not None:
            return CheckResult("hub", WARN, Text(N_("{why}: this is the demo's data, and the demo's hub runs only "
                                                    "while 'store-edge demo' is open"), why=why),
                               Text(N_("start 'store-edge demo' (or serve its hub: 'store-edge hub serve --data-dir "
                                       "{dir} --port 8700') and run doctor again"), dir=demo_hub))
        return CheckResult("hub", FAIL, why,
                           Text(N_("check the network cable/Wi-Fi, DNS and that the store firewall allows the hub")))
    if answer.status_code == 200:
        return CheckResult("hub", PASS, Text(N_("{url} reachable, device credential accepted"), url=hub_url))
    from sync.http_errors import status_problem

    problem = status_problem(answer.status_code, answer.error_code, answer.message)
    hints = {"revoked": N_("ask the hub administrator for a new code, then 'store-edge enroll --hub URL --code CODE'"),
             "unknown_device": N_("re-enrol: 'store-edge enroll --hub URL --code CODE'")}
    return CheckResult("hub", FAIL, problem.message,
                       Text(hints.get(problem.kind, N_("check the hub's status with its administrator"))))


def check_outbox(pending: int, oldest_age_s: float | None, dead: int) -> CheckResult:
    if oldest_age_s:
        text = Text(N_("{pending} event(s) waiting, oldest {hours} h old, {dead} dead letter(s)"), pending=pending,
                    hours=Number(oldest_age_s / 3600, digits=1), dead=dead)
    else:
        text = Text(N_("{pending} event(s) waiting, {dead} dead letter(s)"), pending=pending, dead=dead)
    if dead:
        return CheckResult("outbox", FAIL, Text(N_("{outbox}: the hub refused some events"), outbox=text),
                           Text(N_("'store-edge sync status' shows why; fix it, then 'store-edge sync retry-dead'")))
    if oldest_age_s is not None and oldest_age_s >= BACKLOG_FAIL_S:
        return CheckResult("outbox", FAIL, text, Text(N_("the sync has not worked for a day: fix the hub connection")))
    if oldest_age_s is not None and oldest_age_s >= BACKLOG_WARN_S:
        return CheckResult("outbox", WARN, text, Text(N_("'store-edge sync once' shows why the sync is behind")))
    return CheckResult("outbox", PASS, text)


def check_serial_scanner(port: str, failure: str | None, group: str | None = None,
                         groups: set[str] | None = None) -> CheckResult:
    if failure is None:
        # the doctor usually runs as root, which opens anything: what counts is the service user's groups
        if group is not None and groups is not None and group not in groups:
            return CheckResult("scanner", FAIL, Text(N_("serial scanner {port} belongs to group {group}, "
                                                        "which {user} is not in"), port=port, group=group,
                                                     user=SERVICE_USER),
                               Text(N_("'usermod -aG {group} {user}' and restart the services (or check the udev "
                                       "rule in /etc/udev/rules.d/70-store-edge.rules)"), group=group,
                                    user=SERVICE_USER))
        return CheckResult("scanner", PASS, Text(N_("serial scanner {port} present and openable"), port=port))
    if "No such file" in failure or "not found" in failure:
        return CheckResult("scanner", FAIL, Text(N_("serial scanner {port} is not connected"), port=port),
                           Text(N_("plug the scanner in (USB); 'store-edge devices list' shows what is connected")))
    return CheckResult("scanner", FAIL, Text(N_("serial scanner {port} cannot be opened ({problem})"), port=port,
                                             problem=failure),
                       Text(N_("the service user needs the dialout group: 'usermod -aG dialout {user}'"),
                            user=SERVICE_USER))


def check_evdev_scanner(wanted: str, node: str | None, *, found: bool = True, node_present: bool = True,
                        group: str | None = None, groups: set[str] | None = None,
                        open_failure: str | None = None) -> CheckResult:
    """``found``: /proc/bus/input lists it; ``node``: its /dev/input/event* node; the node must exist and be
    readable by the service user (its group among the user's groups; where that user does not exist, e.g.
    a laptop, openable by whoever runs the doctor)."""
    if not found:
        return CheckResult("scanner", FAIL, Text(N_("input scanner {name} is not connected"), name=repr(wanted)),
                           Text(N_("plug it in; 'store-edge devices list' shows the input devices and their names")))
    if node is None or not node_present:
        return CheckResult("scanner", FAIL, Text(N_("input scanner {name} has no device node ({node})"),
                                                 name=repr(wanted), node=node or Text(N_("no event handler"))),
                           Text(N_("check that udev runs ('systemctl status systemd-udevd') and replug the scanner")))
    if groups is not None:
        if group not in groups:
            return CheckResult("scanner", FAIL, Text(N_("input scanner {name} at {node} belongs to group {group}, "
                                                        "which {user} is not in"), name=repr(wanted), node=node,
                                                     group=group, user=SERVICE_USER),
                               Text(N_("'usermod -aG {group} {user}' and restart the services"),
                                    group=group or "input", user=SERVICE_USER))
    elif open_failure is not None:
        return CheckResult("scanner", FAIL, Text(N_("input scanner {name} at {node} cannot be opened ({problem})"),
                                                 name=repr(wanted), node=node, problem=open_failure),
                           Text(N_("the service user needs the input group: 'usermod -aG input {user}'"),
                                user=SERVICE_USER))
    return CheckResult("scanner", PASS, Text(N_("input scanner {name} present at {node} and readable"),
                                             name=repr(wanted), node=node))


def check_ble(adapter: str, state: str, groups: set[str] | None) -> CheckResult:
    from devices.ble.bleak_source import MISSING, NO_BLUEZ, POWERED_OFF, PRESENT

    if state == NO_BLUEZ:
        return CheckResult("ble", FAIL, Text(N_("BlueZ (bluetoothd) is not running")),
                           Text(N_("'apt-get install bluez' and 'systemctl enable --now bluetooth'")))
    if state == MISSING:
        return CheckResult("ble", FAIL, Text(N_("no Bluetooth adapter {adapter}"), adapter=adapter),
                           Text(N_("plug in the BLE adapter, check 'rfkill list', or set [ble] adapter")))
    if state == POWERED_OFF:
        return CheckResult("ble", FAIL, Text(N_("adapter {adapter} is powered off"), adapter=adapter),
                           Text(N_("'rfkill unblock bluetooth' and 'bluetoothctl power on' ({adapter})"),
                                adapter=adapter))
    if state != PRESENT:
        return CheckResult("ble", FAIL, f"adapter {adapter}: {state}", Text(N_("see 'journalctl -u bluetooth'")))
    if groups is not None and "bluetooth" not in groups:
        return CheckResult("ble", FAIL, Text(N_("adapter {adapter} powered, but {user} is not in group bluetooth"),
                                             adapter=adapter, user=SERVICE_USER),
                           Text(N_("'usermod -aG bluetooth {user}' and restart the services"), user=SERVICE_USER))
    return CheckResult("ble", PASS, Text(N_("adapter {adapter} present and powered"), adapter=adapter))


def check_service(unit: str, state: str) -> CheckResult:
    if state == "active":
        return CheckResult("service", PASS, Text(N_("{unit} active"), unit=unit))
    if state == "no-systemd":
        return CheckResult("service", WARN, Text(N_("{unit}: systemd is not running here"), unit=unit), "")
    if state in ("activating", "reloading"):
        return CheckResult("service", WARN, f"{unit} {state}", Text(N_("wait, then 'systemctl status {unit}'"),
                                                                   unit=unit))
    return CheckResult("service", FAIL, f"{unit} {state}",
                       Text(N_("'journalctl -u {unit} -n 50' shows why; 'systemctl restart {unit}'"), unit=unit))


def installed_device() -> bool:
    """deploy/install.sh has run here: production mode (``paths.is_production``), the system config or the
    system data directory exists. A developer's machine and the demo have none of these."""
    return paths.is_production() or paths.SYSTEM_CONFIG.exists() or paths.SYSTEM_DATA_DIR.is_dir()


def exit_status(results: Iterable[CheckResult]) -> int:
    return 1 if any(r.status == FAIL for r in results) else 0


# ------------------------------------------------------------------------------------------- probes
def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def disk_usage(path: Path, statvfs: Callable[[str], Any] = os.statvfs) -> DiskUsage:
    target = path
    while not target.exists() and target != target.parent:
        target = target.parent  # before first start the data dir may not exist; its file system does
    st = statvfs(str(target))
    return DiskUsage(free_bytes=st.f_bavail * st.f_frsize, total_bytes=st.f_blocks * st.f_frsize)


def ask_hub(url: str, token: str | None, timeout_s: float) -> HubAnswer:
    """One authenticated read (``/v1/changes?limit=1`` proves the credential); the Date header gives the clock."""
    import httpx

    from sync.http_errors import read_json, transport_problem
    from sync.protocol import API_PREFIX, PROTOCOL_VERSION, VERSION_HEADER

    headers = {VERSION_HEADER: str(PROTOCOL_VERSION)}
    path = f"{API_PREFIX}/health"
    if token:
        headers["Authorization"] = f"Bearer {token}"
        path = f"{API_PREFIX}/changes?limit=1"
    try:
        resp = httpx.get(url.rstrip("/") + path, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return HubAnswer(None, failure=transport_problem(exc, url, timeout_s).message)
    server_time = None
    if resp.headers.get("date"):
        try:
            server_time = email.utils.parsedate_to_datetime(resp.headers["date"])
        except (TypeError, ValueError):
            server_time = None
    doc = read_json(resp)
    doc = doc if isinstance(doc, dict) else {}
    return HubAnswer(resp.status_code, doc.get("error"), doc.get("message"), server_time)


def open_serial(port: str) -> str | None:
    """None when the port opens for reading and writing, else why not (without changing its settings)."""
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    return None


def adapter_state(adapter: str) -> str:
    from devices.ble.bleak_source import NO_BLUEZ, AdapterProbe

    async def ask() -> str:
        probe = AdapterProbe(adapter)
        try:
            return await probe.state()
        finally:
            probe.close()

    try:
        return asyncio.run(ask())
    except Exception as exc:  # a missing dbus library or bus must read as "no BlueZ", not a traceback
        return NO_BLUEZ if "bus" in str(exc).lower() or isinstance(exc, ImportError | OSError) else str(exc)


def open_input(node: str) -> str | None:
    """None when the event node opens for reading, else why not."""
    try:
        fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    return None


def device_group(path: str) -> str | None:
    """The group owning a device node (following symlinks such as /dev/store-edge/scanner), None if absent."""
    try:
        gid = os.stat(path).st_gid
    except OSError:
        return None
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def can_read_dir(path: Path) -> bool:
    return os.access(path, os.R_OK | os.X_OK)


def user_groups(user: str) -> set[str] | None:
    """The groups ``user`` gets (None when that user does not exist here, e.g. on a developer's laptop)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return {grp.getgrgid(g).gr_name for g in os.getgrouplist(user, entry.pw_gid) if _gid_known(g)}


def _gid_known(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True


def service_state(unit: str) -> str:
    if not Path("/run/systemd/system").is_dir():
        return "no-systemd"
    try:
        out = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return out.stdout.strip() or "unknown"


@dataclass
class Probes:
    """Everything the doctor asks the outside world; each may be replaced (tests, other platforms)."""

    statvfs: Callable[[str], Any] = os.statvfs
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ask_hub: Callable[[str, str | None, float], HubAnswer] = ask_hub
    open_serial: Callable[[str], str | None] = open_serial
    # (name, "vvvv:pppp", "/dev/input/eventN" or None) per input device
    input_devices: Callable[[], list[tuple[str, str, str | None]]] = field(default=lambda: _input_devices())
    open_input: Callable[[str], str | None] = open_input
    device_group: Callable[[str], str | None] = device_group
    can_read_dir: Callable[[Path], bool] = can_read_dir
    system_data_dir: Path = Path("/var/lib/store-edge")
    euid: Callable[[], int] = os.geteuid
    adapter_state: Callable[[str], str] = adapter_state
    user_groups: Callable[[str], set[str] | None] = user_groups
    service_state: Callable[[str], str] = service_state
    installed: Callable[[], bool] = installed_device


def _input_devices() -> list[tuple[str, str, str | None]]:
    from devices.scanners.detect import list_input_devices

    return [(d.name, d.vid_pid, d.event_node) for d in list_input_devices()]


# ------------------------------------------------------------------------------------------- runner
ALL_CHECKS = ("config", "database", "integrity", "disk", "hub", "clock", "outbox", "scanner", "ble", "service")


def units_for(settings: Settings) -> list[str]:
    """Which services this device runs: the till runs sync and presence inside itself."""
    role = settings.device.role
    if role == "till":
        return [UNITS["till"]]
    if role == "presence":
        return [UNITS["presence"], UNITS["sync"]]
    return [UNITS["sync"]]


def run_checks(settings: Settings | None, *, config_error: str | None = None, config_path: Path | None = None,
               probes: Probes | None = None, only: Sequence[str] = ALL_CHECKS,
               data_dir: Path | None = None) -> list[CheckResult]:
    """Run the checks named in ``only`` (in a fixed order); never raises. ``data_dir``: the --data-dir the
    technician gave, which also holds when the config file is broken."""
    from edge.settings import load_settings

    p = probes or Probes()
    results: list[CheckResult] = []
    want = set(only)
    installed = p.installed()
    if "config" in want:
        mode = group = None
        if config_path is not None and config_path.exists():
            st = config_path.stat()
            mode = st.st_mode & 0o777
            try:
                group = grp.getgrgid(st.st_gid).gr_name
            except KeyError:
                group = str(st.st_gid)
        results.append(check_config(settings, config_error, config_path, mode, group, installed))
    if settings is None:
        settings = load_settings(environ={})  # the rest still runs on defaults when the config is broken
        if data_dir is not None:
            settings = settings.replace(data_dir=data_dir)
    unreadable = _unreadable_system_data(settings, p, data_dir)
    if unreadable is not None:
        # a technician without sudo would otherwise be shown ~/.local/share's (empty) state as if it were the till's
        results.append(unreadable)
        want -= {"database", "integrity", "disk", "hub", "clock", "outbox"}
    db_path = settings.database_path
    if "database" in want:
        results.append(check_database(db_path, installed))
    if "integrity" in want:
        results.extend(integrity_checks(db_path))
    if "disk" in want:
        try:
            if not settings.data_dir.is_dir():
                results.append(check_disk(settings.data_dir, None, exists=False))
            else:
                results.append(check_disk(settings.data_dir, disk_usage(settings.data_dir, p.statvfs)))
        except OSError as exc:
            results.append(check_disk(settings.data_dir, None, exc.strerror or str(exc)))
    if want & {"hub", "clock"}:
        results.extend(_hub_checks(settings, p, want, installed))
    if "outbox" in want:
        results.append(_outbox_check(db_path))
    if "scanner" in want:
        results.extend(_scanner_checks(settings, p))
    uses_ble = settings.ble.enabled or settings.device.role == "presence"  # a presence box is nothing without it
    if "ble" in want and uses_ble and not settings.ble.replay:
        results.append(check_ble(settings.ble.adapter, p.adapter_state(settings.ble.adapter),
                                 p.user_groups(SERVICE_USER)))
    if "service" in want:
        results.extend(check_service(u, p.service_state(u)) for u in units_for(settings))
    return results


def _hub_checks(settings: Settings, p: Probes, want: set[str], installed: bool) -> list[CheckResult]:
    from sync import credentials

    cred_error: str | None = None
    token: str | None = None
    url = settings.hub.url
    enrolled = credentials.credential_path(settings.data_dir).exists()
    if enrolled:
        try:
            cred = credentials.load(settings.data_dir)
            token, url = cred.token, settings.hub.url or cred.hub_url
        except credentials.CredentialError as exc:
            cred_error = str(exc)
    elif url:
        cred_error = Text(N_("a hub is configured ({url}) but this device is not enrolled"), url=url)
    answer = p.ask_hub(url, token, min(settings.hub.timeout_s, 5.0)) if url and cred_error is None else None
    out = []
    if "hub" in want:
        demo_hub = settings.data_dir / DEMO_HUB_DIR  # edge/demo/runner.py keeps its hub there
        out.append(check_hub(url, answer, enrolled, cred_error, installed,
                             demo_hub if (demo_hub / "hub.db").exists() else None))
    if "clock" in want:
        why_not = NO_HUB if not url else (cred_error or N_("the hub was not asked"))
        out.append(check_clock(answer, p.now(), why_not))
    return out


def _outbox_check(db_path: Path) -> CheckResult:
    from sync import outbox

    if not db_path.exists():
        return CheckResult("outbox", WARN, Text(N_("no database yet")), "")
    with contextlib.suppress(OSError):
        if db_damage.diagnose(db_path) is not None:
            return CheckResult("outbox", FAIL, Text(N_("not checked: {name} cannot be read"), name=db_path.name),
                               Text(N_("see the database line")))
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
        import sqlite_utils

        st = outbox.stats(sqlite_utils.Database(conn), dead_limit=0)
        conn.close()
    except sqlite3.Error as exc:
        return CheckResult("outbox", FAIL, Text(N_("cannot be read ({problem})"), problem=str(exc)),
                           Text(N_("see the database line above")))
    return check_outbox(st.unsent, st.oldest_pending_age_s(), st.dead)


def check_identity(db_path: Path, problem: str | None) -> CheckResult:
    """FAIL when the database is not the one the identity marker beside it names (``edge.db.identity``)."""
    if problem is not None:
        return CheckResult("identity", FAIL, Text(N_("{problem}: unsynced sales may be lost"),
                                                  problem=problem.split("; its unsynced")[0]),
                           Text(N_("restore the newest backup; once nothing unsynced is left, "
                                   "'store-edge till --accept-new-database'")))
    return CheckResult("identity", PASS, Text(N_("{name} is the database this device's marker names"),
                                              name=db_path.name))


def check_unreadable_events(rows: list[tuple[int, str, str]]) -> CheckResult:
    """FAIL naming the outbox rows (seq, state, reason) that cannot be sent as they are."""
    if not rows:
        return CheckResult("events", PASS, Text(N_("every unsent outbox event can be read")))
    first = "; ".join(f"row {seq} ({state}): {reason}" for seq, state, reason in rows[:3])  # as sqlite3 names them
    if len(rows) > 3:
        summary = Text(N_("{count} outbox event(s) cannot be read: {first} and {more} more"), count=len(rows),
                       first=first, more=len(rows) - 3)
    else:
        summary = Text(N_("{count} outbox event(s) cannot be read: {first}"), count=len(rows), first=first)
    return CheckResult("events", FAIL, summary,
                       Text(N_("the other events are sent without them (dead letters); inspect a row with "
                               "'sqlite3 store.db \"SELECT * FROM outbox WHERE seq = N\"', fix or delete it, then "
                               "'store-edge sync retry-dead'")))


def check_private_files(db_path: Path) -> CheckResult:
    """The database, its side files, the identity marker and the credential 0600 in a 0700 data directory
    (``edge.db.files``): looser ones are tightened here and said (WARN); one this user cannot change FAILs."""
    from edge.db import files

    tightened = files.make_private(db_path)
    loose = []
    for path, mode in files.private_files(db_path):
        with contextlib.suppress(FileNotFoundError):
            current = stat.S_IMODE(path.stat().st_mode)
            if current & ~mode & 0o777:
                loose.append(f"{path} is {current:o}")
    if loose:
        return CheckResult("files", FAIL, Text(N_("readable by other users: {files}"), files="; ".join(loose)),
                           Text(N_("run 'chmod 700 {dir}' and 'chmod 600' on the files, as their owner"),
                                dir=db_path.parent))
    if tightened:
        return CheckResult("files", WARN, Text(N_("were readable by other users, made private: {files}"),
                                               files="; ".join(tightened)),
                           Text(N_("find what loosened them (a copy, a restore, a umask)")))
    return CheckResult("files", PASS, Text(N_("{name} and the credential are private (0600 in a 0700 directory)"),
                                           name=db_path.name))


def integrity_checks(db_path: Path) -> list[CheckResult]:
    """The identity marker and the readability of the outbox, read-only."""
    from edge.db import identity

    if not db_path.exists() and identity.read_marker(db_path) is None:
        return []  # nothing yet (the database line says so)
    empty = not db_path.exists() or db_path.stat().st_size == 0
    if empty:
        return [check_identity(db_path, identity.check(db_path, None, empty=True))]
    with contextlib.suppress(OSError):
        if db_damage.diagnose(db_path) is not None:
            return [CheckResult("identity", FAIL, Text(N_("not checked: {name} cannot be read"), name=db_path.name),
                                Text(N_("see the database line")))]
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return [CheckResult("identity", FAIL, Text(N_("{path} cannot be opened ({problem})"), path=db_path,
                                                   problem=str(exc)), Text(N_("see the database line")))]
    try:
        import sqlite_utils

        from sync import outbox

        results = [check_private_files(db_path), check_identity(db_path, identity.check(db_path, conn, empty=False))]
        try:
            results.append(check_unreadable_events(outbox.unreadable_rows(sqlite_utils.Database(conn))))
        except sqlite3.Error as exc:
            results.append(CheckResult("events", FAIL, Text(N_("the outbox cannot be read ({problem})"),
                                                            problem=str(exc)), Text(N_("see the database line"))))
        return results
    finally:
        conn.close()


def _scanner_checks(settings: Settings, p: Probes) -> list[CheckResult]:
    s = settings.scanner
    out = []
    groups = p.user_groups(SERVICE_USER)
    if s.serial_port:
        failure = p.open_serial(s.serial_port)
        group = p.device_group(s.serial_port) if failure is None else None
        out.append(check_serial_scanner(s.serial_port, failure, group, groups))
    if s.evdev:
        from devices.scanners.detect import InputDevice, matches

        hits = [node for name, vp, node in p.input_devices()
                if matches(InputDevice(name, *_split_vid_pid(vp), ("kbd",)), s.evdev)]
        if not hits:
            out.append(check_evdev_scanner(s.evdev, None, found=False))
        else:
            node = hits[0]
            group = p.device_group(node) if node else None
            failure = p.open_input(node) if node and groups is None else None
            out.append(check_evdev_scanner(s.evdev, node, node_present=group is not None, group=group,
                                           groups=groups, open_failure=failure))
    if not out:
        note = Text(N_("keyboard-wedge scanners only")) if settings.till.wedge else Text(N_("none"))
        out.append(CheckResult("scanner", PASS, Text(N_("no serial/input scanner configured ({note})"), note=note)))
    return out


def _unreadable_system_data(settings: Settings, p: Probes, data_dir: Path | None) -> CheckResult | None:
    import platformdirs

    system = p.system_data_dir
    # only when the data dir is the per-user fallback paths.default_data_dir() picks for a non-root user
    fallback = Path(platformdirs.user_data_dir("store-edge"))
    if data_dir is not None or settings.data_dir != fallback or p.euid() == 0:
        return None
    if system.is_dir() and not p.can_read_dir(system):
        return CheckResult("database", FAIL, Text(N_("{path} exists but this user cannot read it, so the till's "
                                                     "data cannot be checked (and the data/hub/outbox checks are "
                                                     "skipped)"), path=system),
                           Text(N_("run with sudo: 'sudo store-edge doctor'")))
    return None


def _split_vid_pid(vid_pid: str) -> tuple[str, str]:
    vendor, _, product = vid_pid.partition(":")
    return vendor, product


def report_text(results: Sequence[CheckResult], tr: Translator = ENGLISH) -> str:
    """The report in ``tr``'s language (the technician's: ``edge.cli.common.cli_locale``)."""
    fails = sum(r.status == FAIL for r in results)
    warns = sum(r.status == WARN for r in results)
    tail = tr._("all checks passed") if not fails and not warns else f"{fails} FAIL, {warns} WARN"
    width = max([NAME_WIDTH, *(len(tr.text(CHECK_NAMES.get(r.name, r.name))) for r in results)])
    return "\n".join([*(r.line(tr, width) for r in results), tail])


def report_json(results: Sequence[CheckResult]) -> str:
    return json.dumps({"ok": exit_status(results) == 0, "checks": [asdict(r) for r in results]})


def settings_or_error(config_path: Path | None, data_dir: Path | None) -> tuple[Settings | None, str | None]:
    from edge.settings import load_settings

    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        return None, exc.message  # a Text: the report says it in the technician's language
    return (settings.replace(data_dir=data_dir) if data_dir else settings), None
