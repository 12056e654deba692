"""``store-edge doctor`` against real parts: a real hub (revoked device), real SQLite files, a pty as the
scanner, an injected statvfs for a full disk. Each broken thing gives its FAIL line and exit status 1."""

from __future__ import annotations

import argparse
import json
import os
import pty
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge.db import open_database
from edge.ops import doctor
from edge.ops.cli import cmd_doctor
from edge.settings import load_settings
from sync.enroll import enroll
from sync.hub.server import start_demo_hub


def quiet_probes(**changes: object) -> doctor.Probes:
    """Real probes for what the test drives; no systemd or BlueZ on the test machine unless given."""
    probes = doctor.Probes(service_state=lambda unit: "active", adapter_state=lambda a: "present",
                           user_groups=lambda u: {"store-edge", "bluetooth", "dialout"},
                           installed=lambda: False)  # a developer's machine unless a test says otherwise
    for k, v in changes.items():
        setattr(probes, k, v)
    return probes


@pytest.fixture
def settings(tmp_path: Path):
    s = load_settings(environ={}).replace(data_dir=tmp_path / "data")
    open_database(s.database_path).close()
    return s


@pytest.fixture
def enrolled(tmp_path: Path, settings):
    hub = start_demo_hub(tmp_path / "hub")
    enroll(hub.url, hub.enrolment_code, settings.data_dir, timeout_s=5)
    yield hub, settings.replace(hub=settings.hub.__class__(url=hub.url, timeout_s=3))
    hub.stop()


def by_name(results: list[doctor.CheckResult]) -> dict[str, doctor.CheckResult]:
    return {r.name: r for r in results}


def test_healthy_enrolled_till_passes(enrolled) -> None:
    _, settings = enrolled
    results = doctor.run_checks(settings.replace(store=settings.store.__class__(id="store-1")), probes=quiet_probes())
    assert {r.name: r.status for r in results if r.status != "PASS"} == {}, doctor.report_text(results)
    assert doctor.exit_status(results) == 0
    assert "credential accepted" in by_name(results)["hub"].summary


def test_revoked_credential_fails_with_re_enrol_hint(enrolled) -> None:
    hub, settings = enrolled
    hub.server.storage.revoke_device(hub.device_id)
    hub_line = by_name(doctor.run_checks(settings, probes=quiet_probes()))["hub"]
    assert hub_line.status == "FAIL" and "revoked" in hub_line.summary
    assert "store-edge enroll" in hub_line.hint


def test_hub_down_fails_and_clock_is_not_compared(enrolled) -> None:
    hub, settings = enrolled
    hub.server.stop()
    results = by_name(doctor.run_checks(settings, probes=quiet_probes(), only=["hub", "clock"]))
    assert results["hub"].status == "FAIL" and "cannot be reached" in results["hub"].summary
    assert results["clock"].status == "WARN"


def test_clock_skew_against_the_hubs_date_header(enrolled) -> None:
    _, settings = enrolled
    fast = quiet_probes(now=lambda: datetime.now(UTC) + timedelta(minutes=5))
    clock = by_name(doctor.run_checks(settings, probes=fast, only=["clock"]))["clock"]
    assert clock.status == "FAIL" and "ahead of the hub" in clock.summary and "timedatectl" in clock.hint
    assert by_name(doctor.run_checks(settings, probes=quiet_probes(), only=["clock"]))["clock"].status == "PASS"


def test_corrupt_database(settings) -> None:
    settings.database_path.write_bytes(b"this is not SQLite" * 500)
    line = by_name(doctor.run_checks(settings, probes=quiet_probes(), only=["database"]))["database"]
    assert line.status == "FAIL" and "is not an SQLite database" in line.summary and "backups" in line.hint


def test_damaged_pages_fail_the_integrity_check(settings) -> None:
    db = open_database(settings.database_path)
    db["filler"].insert_all(({"id": i, "text": "x" * 200} for i in range(2000)), pk="id")
    db.execute("CREATE INDEX filler_text ON filler(text)")
    db.conn.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    raw = bytearray(settings.database_path.read_bytes())
    page = 4096
    for offset in range(len(raw) - 40 * page, len(raw) - 20 * page):  # scribble over b-tree pages
        raw[offset] = 0x5A
    settings.database_path.write_bytes(bytes(raw))
    line = by_name(doctor.run_checks(settings, probes=quiet_probes(), only=["database"]))["database"]
    assert line.status == "FAIL", line


def test_full_disk(settings) -> None:
    full = SimpleNamespace(f_bavail=10, f_frsize=4096, f_blocks=1_000_000)
    line = by_name(doctor.run_checks(settings, probes=quiet_probes(statvfs=lambda p: full), only=["disk"]))["disk"]
    assert line.status == "FAIL" and "cannot be saved" in line.summary


def test_missing_and_present_serial_scanner(settings) -> None:
    missing = settings.replace(scanner=settings.scanner.__class__(serial_port="/dev/store-edge/scanner"))
    line = by_name(doctor.run_checks(missing, probes=quiet_probes(), only=["scanner"]))["scanner"]
    assert line.status == "FAIL" and "not connected" in line.summary
    master, slave = pty.openpty()
    try:
        present = settings.replace(scanner=settings.scanner.__class__(serial_port=os.ttyname(slave)))
        group = doctor.device_group(os.ttyname(slave))
        assert group is not None
        member = quiet_probes(user_groups=lambda u: {"store-edge", "dialout", group})
        line = by_name(doctor.run_checks(present, probes=member, only=["scanner"]))["scanner"]
        assert line.status == "PASS"
        # root (the doctor) opens it; the service user, outside the port's group, could not
        outsider = quiet_probes(user_groups=lambda u: {"store-edge"})
        line = by_name(doctor.run_checks(present, probes=outsider, only=["scanner"]))["scanner"]
        assert line.status == "FAIL" and f"group {group}" in line.summary and "usermod -aG" in line.hint
    finally:
        os.close(master)
        os.close(slave)


def test_no_ble_adapter_not_powered_and_no_group(settings) -> None:
    from devices.ble.bleak_source import MISSING, POWERED_OFF

    ble = settings.replace(ble=settings.ble.__class__(enabled=True))
    for state, words in ((MISSING, "no Bluetooth adapter"), (POWERED_OFF, "powered off")):
        line = by_name(doctor.run_checks(ble, probes=quiet_probes(adapter_state=lambda a, s=state: s),
                                         only=["ble"]))["ble"]
        assert line.status == "FAIL" and words in line.summary
    line = by_name(doctor.run_checks(ble, probes=quiet_probes(user_groups=lambda u: {"store-edge"}),
                                     only=["ble"]))["ble"]
    assert line.status == "FAIL" and "usermod -aG bluetooth" in line.hint


def test_no_adapter_on_a_real_bluez_bus(settings, monkeypatch) -> None:
    dbusmock = pytest.importorskip("dbusmock")
    import shutil

    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    from dbusmock.testcase import BusType, PrivateDBus, SpawnedMock

    monkeypatch.delenv("DBUS_SYSTEM_BUS_ADDRESS", raising=False)
    ble = settings.replace(ble=settings.ble.__class__(enabled=True))
    probes = quiet_probes(adapter_state=doctor.adapter_state)
    with PrivateDBus(BusType.SYSTEM) as bus:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
        line = by_name(doctor.run_checks(ble, probes=probes, only=["ble"]))["ble"]
        assert line.status == "FAIL" and "BlueZ" in line.summary  # nothing owns org.bluez yet
        mock = SpawnedMock.spawn_with_template("bluez5")
        try:
            line = by_name(doctor.run_checks(ble, probes=probes, only=["ble"]))["ble"]
            assert line.status == "FAIL" and "no Bluetooth adapter hci0" in line.summary
            mock.obj.AddAdapter("hci0", "store-edge-test", dbus_interface="org.bluez.Mock")
            assert by_name(doctor.run_checks(ble, probes=probes, only=["ble"]))["ble"].status == "PASS"
        finally:
            mock.terminate()
    del dbusmock


def test_outbox_dead_letters_and_old_backlog() -> None:
    assert doctor.check_outbox(3, 120.0, 0).status == "PASS"
    assert doctor.check_outbox(3, 2 * 3600.0, 0).status == "WARN"
    assert doctor.check_outbox(3, 30 * 3600.0, 0).status == "FAIL"
    dead = doctor.check_outbox(0, None, 2)
    assert dead.status == "FAIL" and "retry-dead" in dead.hint


def test_inactive_service(settings) -> None:
    line = by_name(doctor.run_checks(settings, probes=quiet_probes(service_state=lambda u: "failed"),
                                     only=["service"]))["service"]
    assert line.status == "FAIL" and "store-edge-till.service" in line.summary and "journalctl" in line.hint


def test_cli_broken_config_is_a_fail_line_and_exit_1(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[hub]\ntimeout_s = 'soon'\n")
    bad.chmod(0o640)
    args = argparse.Namespace(config=bad, data_dir=str(tmp_path / "data"), json=True, only="config,disk")
    assert cmd_doctor(args, quiet_probes()) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["checks"][0]["status"] == "FAIL" and "hub.timeout_s" in doc["checks"][0]["summary"]


def test_cli_text_output_names_every_fail(settings, capsys) -> None:
    full = SimpleNamespace(f_bavail=0, f_frsize=4096, f_blocks=1000)
    settings.database_path.write_bytes(b"garbage" * 1000)
    args = argparse.Namespace(config=None, data_dir=str(settings.data_dir), json=False, only="database,disk")
    assert cmd_doctor(args, quiet_probes(statvfs=lambda p: full)) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL") >= 3 and "-> " in out  # two FAIL lines with hints, and the tally


def test_presence_box_checks_ble_even_with_ble_disabled(settings) -> None:
    from devices.ble.bleak_source import MISSING

    box = settings.replace(device=settings.device.__class__(role="presence"),
                           ble=settings.ble.__class__(enabled=False))
    line = by_name(doctor.run_checks(box, probes=quiet_probes(adapter_state=lambda a: MISSING), only=["ble"]))
    assert line["ble"].status == "FAIL" and "no Bluetooth adapter" in line["ble"].summary
    till = settings.replace(ble=settings.ble.__class__(enabled=False))
    assert doctor.run_checks(till, probes=quiet_probes(adapter_state=lambda a: MISSING), only=["ble"]) == []


def test_input_scanner_node_must_exist_and_belong_to_a_service_group(settings, tmp_path: Path) -> None:
    wanted = settings.replace(scanner=settings.scanner.__class__(evdev="0c2e:0b61"))
    node = tmp_path / "event7"  # a stand-in for /dev/input/event7: its group is what the check reads
    listed = lambda: [("Honeywell Scanner", "0c2e:0b61", str(node))]  # noqa: E731
    probes = quiet_probes(input_devices=listed, user_groups=lambda u: {"store-edge", "input"})
    line = by_name(doctor.run_checks(wanted, probes=probes, only=["scanner"]))["scanner"]
    assert line.status == "FAIL" and "no device node" in line.summary  # listed, but udev made no node
    node.write_text("")
    line = by_name(doctor.run_checks(wanted, probes=probes, only=["scanner"]))["scanner"]
    mine = doctor.device_group(str(node))
    assert line.status == "FAIL" and f"group {mine}" in line.summary and "usermod -aG" in line.hint
    probes = quiet_probes(input_devices=listed, user_groups=lambda u: {"store-edge", "input", str(mine)})
    assert by_name(doctor.run_checks(wanted, probes=probes, only=["scanner"]))["scanner"].status == "PASS"
    # no store-edge user here (a laptop): openable by whoever runs the doctor is what counts
    node.chmod(0o000)
    probes = quiet_probes(input_devices=listed, user_groups=lambda u: None)
    line = by_name(doctor.run_checks(wanted, probes=probes, only=["scanner"]))["scanner"]
    assert (line.status == "FAIL" and "cannot be opened" in line.summary) or os.geteuid() == 0
    gone = quiet_probes(input_devices=lambda: [])
    assert "not connected" in by_name(doctor.run_checks(wanted, probes=gone, only=["scanner"]))["scanner"].summary


def test_clock_line_says_not_enrolled_when_a_hub_is_configured(settings) -> None:
    configured = settings.replace(hub=settings.hub.__class__(url="http://127.0.0.1:9"))
    clock = by_name(doctor.run_checks(configured, probes=quiet_probes(), only=["clock"]))["clock"]
    assert clock.status == "WARN" and "not enrolled" in clock.summary and "no hub configured" not in clock.summary


def test_broken_config_keeps_the_data_dir_given(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[hub]\ntimeout_s = 'soon'\n")
    bad.chmod(0o640)
    data = tmp_path / "data"
    data.mkdir()
    (data / "store.db").write_bytes(b"garbage" * 1000)
    args = argparse.Namespace(config=bad, data_dir=str(data), json=True, only="config,database")
    assert cmd_doctor(args, quiet_probes()) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["database"]["status"] == "FAIL" and str(data) in checks["database"]["summary"]


def test_technician_without_sudo_is_told_to_use_it(tmp_path: Path) -> None:
    import platformdirs

    home_fallback = load_settings(environ={}).replace(data_dir=Path(platformdirs.user_data_dir("store-edge")))
    system = tmp_path / "var-lib-store-edge"
    system.mkdir()
    system.chmod(0o700)
    probes = quiet_probes(system_data_dir=system, can_read_dir=lambda p: False, euid=lambda: 1000)
    results = by_name(doctor.run_checks(home_fallback, probes=probes, only=["database", "outbox", "disk"]))
    assert results["database"].status == "FAIL" and "sudo" in results["database"].hint
    assert set(results) == {"database"}  # never the home directory's state dressed up as the till's
    readable = quiet_probes(system_data_dir=system, can_read_dir=lambda p: True, euid=lambda: 1000)
    assert "sudo" not in by_name(doctor.run_checks(home_fallback, probes=readable, only=["database"]))["database"].hint


# --- an installed device that is not set up is not ready -----------------------------------------------------
def test_installed_device_not_enrolled_without_database_and_default_store_fails(tmp_path: Path, capsys) -> None:
    fresh = load_settings(environ={}).replace(data_dir=tmp_path / "var-lib")  # as install.sh leaves it:
    fresh.data_dir.mkdir(mode=0o750)  # made, empty
    installed = quiet_probes(installed=lambda: True)
    results = by_name(doctor.run_checks(fresh, probes=installed))
    for name, words, hint in (("config", "still the default 'demo-store'", "[store] id"),
                              ("database", "does not exist", "systemctl start"),
                              ("hub", "not enrolled", "store-edge enroll --hub URL --code CODE")):
        line = results[name]
        assert line.status == "FAIL" and line.setup and words in line.summary and hint in line.hint, line
    # what is left as WARN is what follows from those, not a reason to call the device ready
    assert {n for n, r in results.items() if r.status == "WARN"} <= {"clock", "outbox"}
    args = argparse.Namespace(config=None, data_dir=str(fresh.data_dir), json=True, only=None)
    assert cmd_doctor(args, installed) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert {c["name"] for c in doc["checks"] if c["status"] == "FAIL"} == {"config", "database", "hub"}


def test_the_same_unset_device_on_a_developer_machine_only_warns(tmp_path: Path, capsys) -> None:
    fresh = load_settings(environ={}).replace(data_dir=tmp_path / "dev")
    fresh.data_dir.mkdir()
    results = by_name(doctor.run_checks(fresh, probes=quiet_probes()))
    assert {n: results[n].status for n in ("config", "database", "hub")} == {
        "config": "WARN", "database": "WARN", "hub": "WARN"}
    assert doctor.exit_status(results.values()) == 0
    args = argparse.Namespace(config=None, data_dir=str(fresh.data_dir), json=True, only=None)
    assert cmd_doctor(args, quiet_probes()) == 0 and json.loads(capsys.readouterr().out)["ok"] is True


def test_installed_and_set_up_till_passes(enrolled) -> None:
    _, settings = enrolled
    ready = settings.replace(store=settings.store.__class__(id="store-1"))
    results = doctor.run_checks(ready, probes=quiet_probes(installed=lambda: True))
    assert [r for r in results if r.status != "PASS"] == [], doctor.report_text(results)


def test_installed_device_with_only_the_store_id_left_fails_on_that_alone(enrolled) -> None:
    _, settings = enrolled  # enrolled, database made, store.id still the default
    results = doctor.run_checks(settings, probes=quiet_probes(installed=lambda: True))
    assert [(r.name, r.setup) for r in results if r.status == "FAIL"] == [("config", True)]
    assert "/etc/store-edge/config.toml" in by_name(results)["config"].hint


def test_a_configured_hub_without_enrolment_is_a_setup_fail_anywhere(settings) -> None:
    configured = settings.replace(hub=settings.hub.__class__(url="http://127.0.0.1:9"))
    line = by_name(doctor.run_checks(configured, probes=quiet_probes(), only=["hub"]))["hub"]
    assert line.status == "FAIL" and line.setup and "not enrolled" in line.summary


def test_installed_device_is_told_apart_from_a_developer_machine(monkeypatch, tmp_path: Path) -> None:
    from edge import paths

    monkeypatch.setattr(paths, "SYSTEM_CONFIG", tmp_path / "etc/config.toml")
    monkeypatch.setattr(paths, "SYSTEM_DATA_DIR", tmp_path / "var/lib/store-edge")
    monkeypatch.delenv("STORE_EDGE_PRODUCTION", raising=False)
    assert doctor.installed_device() is False
    paths.SYSTEM_DATA_DIR.mkdir(parents=True)
    assert doctor.installed_device() is True
    paths.SYSTEM_DATA_DIR.rmdir()
    monkeypatch.setenv("STORE_EDGE_PRODUCTION", "1")
    assert doctor.installed_device() is True


@pytest.mark.parametrize("installed", [False, True], ids=["developer", "installed"])
def test_a_data_dir_that_does_not_exist_fails_the_disk_check(tmp_path: Path, installed: bool, capsys) -> None:
    missing = tmp_path / "nonexistent"
    probes = quiet_probes(installed=lambda: installed)
    line = by_name(doctor.run_checks(load_settings(environ={}).replace(data_dir=missing), probes=probes,
                                     only=["disk"]))["disk"]  # fmt: skip
    assert line.status == "FAIL" and f"the data dir {missing} does not exist" in line.summary, line
    assert "--data-dir" in line.hint
    args = argparse.Namespace(config=None, data_dir=str(missing), json=True, only="disk")
    assert cmd_doctor(args, probes) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_spanish_report_numbers_and_a_name_column_as_wide_as_the_longest_name(tmp_path: Path) -> None:
    from edge.core.i18n import translator

    results = [doctor.check_disk(tmp_path, doctor.DiskUsage(75_747_000_000, 250_000_000_000)),
               doctor.check_outbox(3, 360.0, 0), doctor.CheckResult("database", doctor.PASS, "integrity ok")]
    spanish = doctor.report_text(results, translator("es_ES")).splitlines()
    assert spanish[0].startswith("PASS  disco         72.238 MB libres (30\xa0%) en ")
    assert "de hace 0,1 h" in spanish[1]
    assert spanish[2].startswith("PASS  base de datos ")  # 13 characters, then one space, then the summary
    summaries = [line[6 + len("base de datos") + 1:] for line in spanish[:3]]
    assert all(not s.startswith(" ") for s in summaries), spanish
    english = doctor.report_text(results, translator("en")).splitlines()
    assert english[0].startswith("PASS  disk      72,238 MB free (30%) on ") and "oldest 0.1 h old" in english[1]


def test_a_demo_data_dir_whose_hub_is_closed_says_the_demo_must_be_open(tmp_path: Path) -> None:
    down = doctor.HubAnswer(None, failure="http://127.0.0.1:41234 cannot be reached (connection refused)")
    result = doctor.check_hub("http://127.0.0.1:41234", down, True, None, demo_hub=tmp_path / "hub")
    assert result.status == doctor.WARN
    assert "the demo's hub runs only while 'store-edge demo' is open" in result.summary
    assert f"--data-dir {tmp_path / 'hub'} --port 8700" in result.hint
    assert doctor.check_hub("http://127.0.0.1:41234", down, True, None).status == doctor.FAIL  # a real till
