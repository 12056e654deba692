"""``store-edge devices scan-decode | listen | list`` decode and classify as the till does, from the settings."""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.barcode.loyalty_token import MSG_NO_KEYS, issue_token
from edge.cli.scanner import cmd_listen, collect_devices, main_scan_decode
from edge.settings import Settings
from tests.support.demo import store_token_key
from tests.support.pty_scanner import FakeUsbScanner

DEMO_CARD = "6009000000000016"  # the README's demo loyalty card
DEMO_COUPON = "SAVE3-ALPHA"
SWEDISH_WEIGHT = "2302148210869"  # GS1 Sweden: prefix 23, 1.086 kg


def decode(
    capsys: pytest.CaptureFixture[str], argv: list[str], settings: Settings | None
) -> tuple[int, dict]:
    code = main_scan_decode(argv, settings)
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_demo_card_and_coupon_decode_with_the_store_settings(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, card = decode(capsys, [DEMO_CARD], demo_settings)
    assert (code, card["kind"], card["customer_id"], card["error"]) == (0, "loyalty_card", DEMO_CARD, None)
    code, coupon = decode(capsys, [DEMO_COUPON], demo_settings)
    assert (code, coupon["kind"], coupon["error"]) == (0, "coupon", None)


def test_store_card_pattern_and_check_come_from_the_barcode_settings(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong_luhn = DEMO_CARD[:-1] + "7"
    code, card = decode(capsys, [wrong_luhn], demo_settings)
    assert code == 2 and card["kind"] == "loyalty_card" and card["error"]
    lax = demo_settings.replace(barcode=dataclasses.replace(demo_settings.barcode, loyalty_card_check="none"))
    code, card = decode(capsys, [wrong_luhn], lax)
    assert (code, card["kind"], card["error"]) == (0, "loyalty_card", None)


def test_region_comes_from_settings_and_region_flag_overrides_it(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, plain = decode(capsys, [SWEDISH_WEIGHT], demo_settings)
    assert plain["kind"] == "product"  # no region: an in-store number, no weight
    swedish = demo_settings.replace(barcode=dataclasses.replace(demo_settings.barcode, rcn_region="se"))
    code, weighed = decode(capsys, [SWEDISH_WEIGHT], swedish)
    assert (code, weighed["kind"], weighed["weight_g"]) == (0, "variable_measure", 1086)
    code, flagged = decode(capsys, [SWEDISH_WEIGHT, "--region", "se"], demo_settings)
    assert (flagged["kind"], flagged["weight_g"]) == ("variable_measure", 1086)
    code, overridden = decode(capsys, [SWEDISH_WEIGHT, "--region", "dk"], swedish)
    assert overridden["weight_g"] != 1086


def test_unknown_region_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main_scan_decode([SWEDISH_WEIGHT, "--region", "xx"])
    assert exc.value.code == 2
    assert "invalid choice: 'xx'" in capsys.readouterr().err


def test_app_codes_are_checked_with_the_keys_in_the_device_database(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Ed25519PrivateKey.generate()
    token = issue_token(key, "C1002", time.time(), ttl_s=300)
    code, before = decode(capsys, [token], demo_settings)
    assert (code, before["error"]) == (2, MSG_NO_KEYS)  # the hub keys have not been pulled yet
    store_token_key(demo_settings, key)
    size = demo_settings.database_path.stat().st_size
    code, after = decode(capsys, [token], demo_settings)
    assert (code, after["kind"], after["customer_id"], after["error"]) == (0, "loyalty_token", "C1002", None)
    forged = issue_token(Ed25519PrivateKey.generate(), "C1002", time.time(), ttl_s=300)
    code, bad = decode(capsys, [forged], demo_settings)
    assert code == 2 and "not genuine" in bad["error"]
    assert demo_settings.database_path.stat().st_size == size  # read-only: nothing was written


def test_without_a_database_no_keys_and_no_database_created(
    demo_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = demo_settings.replace(data_dir=tmp_path / "fresh-box")
    token = issue_token(Ed25519PrivateKey.generate(), "C1002", time.time())
    code, result = decode(capsys, [token], elsewhere)
    assert (code, result["error"]) == (2, MSG_NO_KEYS)
    assert not elsewhere.database_path.exists()


def test_listen_decodes_with_the_store_settings(
    demo_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scanner = FakeUsbScanner(tmp_path / "usb-Datalogic-if00")
    args = argparse.Namespace(
        serial=str(scanner.link), evdev=None, baud=None, terminator=None, count=2, region=None
    )
    done = threading.Event()

    def keep_scanning() -> None:  # the port opens at some point after cmd_listen starts
        while not done.wait(0.1):
            scanner.send(f"{DEMO_CARD}\r{DEMO_COUPON}\r".encode())

    writer = threading.Thread(target=keep_scanning, daemon=True)
    writer.start()
    try:
        assert cmd_listen(args, demo_settings) == 0
    finally:
        done.set()
        writer.join()
        scanner.unplug()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(x["kind"], x["error"]) for x in lines] == [("loyalty_card", None), ("coupon", None)]


PROC_DEVICES = """I: Bus=0003 Vendor=04d9 Product=1603 Version=0110
N: Name="USB Keyboard"
P: Phys=usb-0000:00:14.0-2/input0
H: Handlers=sysrq kbd event3 leds

I: Bus=0003 Vendor=046d Product=c31c Version=0110
N: Name="Logitech USB Keyboard"
P: Phys=usb-0000:00:14.0-3/input0
H: Handlers=sysrq kbd event4 leds

I: Bus=0003 Vendor=0c2e Product=0b61 Version=0111
N: Name="Honeywell Imaging & Mobility 1900"
P: Phys=usb-0000:00:14.0-4/input0
H: Handlers=sysrq kbd event5 leds
"""


def test_devices_list_uses_the_technicians_marks(tmp_path: Path) -> None:
    proc = tmp_path / "devices"
    proc.write_text(PROC_DEVICES)
    auto = {d["name"]: d["role"] for d in collect_devices(None, str(proc))["hid_input_devices"]}
    assert auto == {"USB Keyboard": "keyboard", "Logitech USB Keyboard": "keyboard",
                    "Honeywell Imaging & Mobility 1900": "scanner"}  # fmt: skip
    roles = {"04d9:1603": "scanner", "/dev/input/event5": "keyboard"}
    marked = {d["name"]: d["role"] for d in collect_devices(roles, str(proc))["hid_input_devices"]}
    assert marked == {"USB Keyboard": "scanner", "Logitech USB Keyboard": "keyboard",
                      "Honeywell Imaging & Mobility 1900": "keyboard"}  # fmt: skip


def test_listen_on_a_port_that_does_not_exist_stops_at_once_with_status_2(tmp_path: Path) -> None:
    from edge.core.errors import CliError

    args = argparse.Namespace(serial=str(tmp_path / "ttyNONE"), evdev=None, baud=None, terminator=None, count=0,
                              region=None)  # fmt: skip
    with pytest.raises(CliError) as failed:
        cmd_listen(args, None)
    assert failed.value.exit_code == 2
    assert f"no serial port {tmp_path / 'ttyNONE'}" in failed.value.message
    assert "store-edge devices list" in failed.value.message


def test_listen_on_a_port_that_never_opens_gives_up_with_status_1(tmp_path: Path) -> None:
    from edge.cli.scanner import LISTEN_OPEN_S
    from edge.core.errors import CliError

    not_a_port = tmp_path / "not-a-tty"
    not_a_port.write_bytes(b"")  # exists, but no serial port can be configured on it
    args = argparse.Namespace(serial=str(not_a_port), evdev=None, baud=None, terminator=None, count=0, region=None)
    with pytest.raises(CliError) as failed:
        cmd_listen(args, None)
    assert failed.value.exit_code == 1
    assert f"No scanner at {not_a_port}" in failed.value.message
    assert f"gave up after {LISTEN_OPEN_S:g} s of tries" in failed.value.message
