import argparse
import json

import pytest

from devices.beacons.adverts import Advert
from devices.ble import SourceConfigError, make_ble_source
from devices.ble.bleak_source import BleakSource
from devices.ble.replay_source import ReplaySource
from edge.cli.beacons import main, register
from edge.settings import BleSettings
from edge.store.presence_store import DEMO_FILE
from tests.beacons import beacon_vectors as v


def run(argv, capsys):
    code = main(argv)
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_beacon_decode_raw_manufacturer_and_service(capsys):
    code, out = run(["beacon-decode", "--raw", v.IBEACON_PACKET.hex()], capsys)
    assert code == 0 and out["format"] == "ibeacon" and out["uuid"] == "41424344-4546-4748-4940-414243444546"
    assert set(out) >= {"format", "uuid", "major", "minor", "tx_power", "beacon_id", "namespace", "instance", "url",
                        "eid", "voltage_mv", "temperature_c", "adv_count", "uptime_s", "error"}  # fmt: skip
    code, out = run(["beacon-decode", "--manufacturer", "0118=" + v.ALTBEACON_PAYLOAD.hex()], capsys)
    assert code == 0 and out["format"] == "altbeacon" and out["tx_power"] == -59
    code, out = run(["beacon-decode", "--service", "feaa=" + v.TLM_PACKET[11:25].hex()], capsys)
    assert code == 0 and out["voltage_mv"] == 2840 and out["uptime_s"] == 1094.8
    code, out = run(["beacon-decode", "--service", "0000feaa-0000-1000-8000-00805f9b34fb=30e3" + b"EID_test".hex()], capsys)
    assert code == 0 and out["eid"] == b"EID_test".hex()


def test_beacon_decode_not_recognised_exits_2_with_reason(capsys):
    code, out = run(["beacon-decode", "--raw", "0201060303"], capsys)
    assert code == 2 and out["format"] is None and "AD structure" in out["error"]
    code, out = run(["beacon-decode", "--manufacturer", "4c=zz"], capsys)
    assert code == 2 and "4-hex-digit" in out["error"]
    code, out = run(["beacon-decode"], capsys)
    assert code == 2 and "nothing to decode" in out["error"]


def test_register_adds_the_three_commands():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="cmd"))
    for cmd in (["beacon-decode", "--raw", "00"], ["ble-watch"], ["ble-record", "x.jsonl"]):
        assert callable(parser.parse_args(cmd).handler)


def test_ble_record_from_a_replay_round_trips(tmp_path, capsys):
    out = tmp_path / "rec.jsonl"
    assert main(["ble-record", str(out), "--source", f"replay:{DEMO_FILE}", "--duration", "5"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == len(DEMO_FILE.read_text().splitlines())
    assert json.loads(lines[0])["time"] == 0.0 and "recorded" in capsys.readouterr().out


def test_ble_watch_lists_smoothed_rssi(capsys):
    assert main(["ble-watch", "--source", f"replay:{DEMO_FILE}", "--duration", "2", "--interval", "0.1"]) == 0
    text = capsys.readouterr().out
    assert "smooth" in text and "eddystone-uid" in text and "ibeacon:e2c56db5" in text


async def test_replay_skips_bad_lines_with_reasons(tmp_path):
    f = tmp_path / "bad.jsonl"
    good = Advert(1.0, "AA", -60, {0x4C: b"\x02\x15" + bytes(21)}).to_json()
    f.write_text(good + "\nnot json\n" + '{"time": "x", "address": "b"}\n' + '{"time": 2, "address": "c", "rssi": -127}\n')
    source = ReplaySource(f)
    got = []
    source.on_advert(got.append)
    statuses = []
    source.on_status(statuses.append)
    await source.start()
    await source.wait_finished()
    assert [a.address for a in got] == ["AA", "c"] and got[1].rssi is None  # -127: no reading
    assert len(source.skipped) == 2 and "line 2" in source.skipped[0]
    assert statuses[-1].state == "finished" and "2 bad line(s)" in statuses[-1].detail


async def test_adverts_stream_unsubscribes_when_closed(tmp_path):
    source = ReplaySource(DEMO_FILE)
    stream = source.adverts()
    await source.start()
    first = await stream.__anext__()
    assert first.time == 0.24 and len(source._advert_callbacks) == 1
    await stream.aclose()
    assert source._advert_callbacks == []
    await source.stop()


def test_factory():
    assert isinstance(make_ble_source(BleSettings(enabled=True, adapter="hci1", mode="active")), BleakSource)
    assert isinstance(make_ble_source(BleSettings(), f"{DEMO_FILE}@2"), ReplaySource)
    with pytest.raises(SourceConfigError, match="disabled"):
        make_ble_source(BleSettings(enabled=False))
    with pytest.raises(SourceConfigError, match="does not exist"):
        make_ble_source(BleSettings(), "replay:/nope.jsonl")
    with pytest.raises(SourceConfigError, match="unknown"):
        make_ble_source(BleSettings(), "serial:/dev/ttyUSB0")
    src = make_ble_source(BleSettings(enabled=True), "bleak:hci3")
    assert isinstance(src, BleakSource) and src.adapter == "hci3" and src.mode == "passive"


def test_factory_passes_backoff_cap_and_reset_threshold():
    src = make_ble_source(BleSettings(enabled=True, backoff_cap_s=7.5, reset_after_failures=5))
    assert isinstance(src, BleakSource)
    assert src.backoff_cap_s == 7.5 and src.reset_after_failures == 5
    with pytest.raises(SourceConfigError, match="reset_after_failures"):
        make_ble_source(BleSettings(enabled=True, reset_after_failures=0))


def test_ble_record_without_bluetoothd_exits_non_zero_with_a_sentence(tmp_path, capsys, monkeypatch):
    # a system bus address nobody listens on: bluetoothd (and the bus) are missing
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus-here'}")
    out = tmp_path / "rec.jsonl"
    code = main(["ble-record", str(out), "--source", "bleak:hci0", "--duration", "1"])
    captured = capsys.readouterr()
    assert code != 0
    assert "recorded 0 advert(s)" in captured.out
    assert "bluetoothd" in captured.err and "never ran" in captured.err
