"""The systemd units pass ``systemd-analyze verify`` and carry the hardening the issue asks for."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

ALL_UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
RESUME = DEPLOY / "systemd/store-edge-resume.service"
UNITS = [u for u in ALL_UNITS if u != RESUME]  # the long-running services
EXEC = "/opt/store-edge/current/bin/store-edge"


def _parse(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(path)
    return cp


def test_three_services_and_the_boot_time_resume() -> None:
    assert [u.name for u in UNITS] == ["store-edge-presence.service", "store-edge-sync.service",
                                       "store-edge-till.service"]
    cp = _parse(RESUME)
    assert cp["Service"]["Type"] == "oneshot" and cp["Service"]["ExecStart"] == f"{EXEC} upgrade --resume"
    assert set(cp["Unit"]["Before"].split()) == {u.name for u in UNITS}
    assert cp["Install"]["WantedBy"] == "multi-user.target"
    for unit in UNITS:  # pulled in by a service, it would run during a live upgrade's restart
        assert "store-edge-resume" not in unit.read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing (apt-get install systemd)")
def test_systemd_analyze_verify_is_silent_on_every_unit(tmp_path: Path) -> None:
    # ExecStart must point at something executable here: the same unit with the test venv's store-edge
    store_edge = Path(sys.executable).with_name("store-edge")
    assert store_edge.exists()
    copies = []
    for unit in ALL_UNITS:
        text = unit.read_text()
        assert EXEC in text
        copy = tmp_path / unit.name
        copy.write_text(text.replace(EXEC, str(store_edge)))
        copies.append(str(copy))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *copies], capture_output=True, text=True,
                          env={"SYSTEMD_LOG_LEVEL": "notice", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    # unknown keys and bad values are only warnings (exit 0): any output at all counts as a failure
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_verify_does_catch_a_misspelt_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.service"
    bad.write_text(UNITS[0].read_text().replace(EXEC, "/bin/true").replace("NoNewPrivileges", "NoNewPrivilege"))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(bad)], capture_output=True, text=True)
    assert "Unknown key" in proc.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.stem)
def test_notify_watchdog_and_hardening(unit: Path) -> None:
    svc = _parse(unit)["Service"]
    assert svc["Type"] == "notify" and svc["NotifyAccess"] == "main"
    assert re.fullmatch(r"\d+s", svc["WatchdogSec"])
    assert svc["ExecStart"].startswith(EXEC)
    assert svc["Restart"] == "always"
    assert svc["User"] == "store-edge"
    assert svc["NoNewPrivileges"] == "yes"
    assert svc["ProtectSystem"] == "strict"
    assert svc["StateDirectory"] == "store-edge"  # the data dir: the one writable path under strict
    assert svc["CapabilityBoundingSet"] == "" and svc["AmbientCapabilities"] == ""


def test_till_owns_tty1_with_device_groups() -> None:
    cp = _parse(DEPLOY / "systemd/store-edge-till.service")
    svc = cp["Service"]
    assert svc["TTYPath"] == "/dev/tty1" and svc["StandardInput"] == "tty"
    assert {"dialout", "input", "bluetooth"} <= set(svc["SupplementaryGroups"].split())
    assert "getty@tty1.service" in cp["Unit"]["Conflicts"]
    assert "TERM=linux" in svc["Environment"]


def test_presence_gets_the_bluetooth_group() -> None:
    assert "bluetooth" in _parse(DEPLOY / "systemd/store-edge-presence.service")["Service"]["SupplementaryGroups"]


RULE_KEY = re.compile(r'^(ACTION|SUBSYSTEM|KERNEL|ATTRS\{\w+\}|SYMLINK|GROUP|MODE|TAG|LABEL|GOTO)(==|!=|\+=|=)"[^"]*"$')


def test_udev_rules_are_well_formed_and_never_root_only() -> None:
    rules = [ln for ln in (DEPLOY / "udev/70-store-edge.rules").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert rules
    symlinks = set()
    for rule in rules:
        parts = [p.strip() for p in rule.split(", ")]
        for part in parts:
            assert RULE_KEY.match(part), f"bad udev token {part!r} in {rule!r}"
        if any(p.startswith("SYMLINK") for p in parts):
            assert any(p.startswith("GROUP=") for p in parts) and any(p.startswith("MODE=") for p in parts)
            assert not re.search(r'MODE="0\d\d[1-7]"', rule), "scanners must not be world-accessible"
            symlinks.add(re.search(r'SYMLINK\+="([^"]+)"', rule).group(1))  # type: ignore[union-attr]
    assert "store-edge/scanner" in symlinks


def test_journald_limits() -> None:
    journal = _parse(DEPLOY / "journald/50-store-edge.conf")["Journal"]
    assert journal["Storage"] in ("persistent", "volatile")
    assert journal["SystemMaxUse"].endswith("M") and int(journal["SystemMaxUse"][:-1]) <= 128
    assert "RuntimeMaxUse" in journal


def _vendors(rules: str, subsystem: str) -> set[str]:
    return set(re.findall(rf'SUBSYSTEM=="{subsystem}".*ATTRS\{{idVendor\}}=="([0-9a-f]{{4}})"', rules))


def test_every_scanner_vendor_has_a_serial_and_an_input_rule() -> None:
    rules = (DEPLOY / "udev/70-store-edge.rules").read_text()
    serial, keyboard = _vendors(rules, "tty"), _vendors(rules, "input")
    assert {"065a", "0d88"} <= keyboard  # Opticon and Code Corp ship HID-mode scanners too
    assert serial == keyboard


@pytest.mark.parametrize("unit", ALL_UNITS, ids=lambda u: u.stem)
def test_every_unit_filters_system_calls(unit: Path) -> None:
    assert _parse(unit)["Service"].get("SystemCallFilter") == "@system-service"
