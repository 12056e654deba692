import json
import subprocess
import sys
from pathlib import Path

import beacontools
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.beacons.frames import (
    EDDYSTONE_UUID,
    BeaconFrame,
    decode_advert,
    decode_raw,
    parse_eddystone,
    parse_manufacturer,
    parse_service,
    split_ad_structures,
)
from tests.beacons import beacon_vectors as v


def test_eddystone_uid_vector():
    f = decode_raw(v.UID_PACKET)
    assert f.format == "eddystone-uid" and f.error is None
    assert f.namespace == "12345678901234678901"
    assert f.instance == "000000000001"
    assert f.tx_power == -29


def test_eddystone_url_vector():
    f = decode_raw(v.URL_PACKET)
    assert (f.format, f.url, f.tx_power) == ("eddystone-url", "https://github.com/citruz", -8)


def test_eddystone_tlm_vector():
    f = decode_raw(v.TLM_PACKET)
    assert f.format == "eddystone-tlm"
    assert (f.voltage_mv, f.temperature_c, f.adv_count) == (2840, 19.0, 5223)
    assert f.uptime_s == 1094.8  # SEC_CNT 10948 has 0.1 s resolution


def test_encrypted_tlm_is_recognised_with_a_reason():
    f = decode_raw(v.ENC_TLM_PACKET)
    assert f.format == "eddystone-tlm" and "encrypted" in (f.error or "")


def test_eddystone_eid_vector():
    f = decode_raw(v.EID_PACKET)
    assert (f.format, f.eid, f.tx_power) == ("eddystone-eid", b"EID_test".hex(), -29)


def test_ibeacon_vectors():
    f = decode_raw(v.IBEACON_PACKET)
    assert (f.format, f.uuid, f.major, f.minor, f.tx_power) == (
        "ibeacon", "41424344-4546-4748-4940-414243444546", 1, 2, -8,
    )  # fmt: skip
    c = decode_raw(v.CYPRESS_PACKET)
    assert (c.uuid, c.major, c.tx_power) == ("00050001-0000-1000-8000-00805f9b0131", 2, -61)


def test_altbeacon_spec_example():
    f = parse_manufacturer(0x0118, v.ALTBEACON_PAYLOAD)
    assert f.format == "altbeacon"
    assert f.beacon_id == "2f234454cf6d4a0fadf2f4911ba9ffa600010002"
    assert f.tx_power == -59


def test_bad_packets_give_reasons():
    for packet in v.BAD_PACKETS:
        f = decode_raw(packet)
        assert f.format is None and f.error, packet


def test_truncated_frames_name_the_problem():
    short = parse_manufacturer(0x004C, bytes.fromhex("0215") + bytes(10))
    assert short.format == "ibeacon" and "23" in (short.error or "")
    uid = parse_eddystone(b"\x00\xe3\x01").error or ""
    assert "3 bytes" in uid and "at least 18" in uid and "20 with the reserved bytes" in uid
    assert parse_eddystone(b"\x10\xf8\x09abc").error  # undefined scheme
    assert parse_eddystone(b"\x10\xf8\x03ab\x7f").error  # invalid URL byte
    assert "unknown" in (parse_eddystone(b"\x40").error or "")
    assert "not Eddystone" in (parse_service("180f", b"\x00").error or "")


def test_bleak_style_input_matches_raw():
    ads = split_ad_structures(v.UID_PACKET)
    assert EDDYSTONE_UUID in ads.service_data
    assert decode_advert(ads.manufacturer_data, ads.service_data) == decode_raw(v.UID_PACKET)


def test_agrees_with_beacontools_on_the_vectors():
    for packet in (v.UID_PACKET, v.URL_PACKET, v.IBEACON_PACKET, v.EID_PACKET):
        ours, theirs = decode_raw(packet), beacontools.parse_packet(packet)
        assert ours.tx_power == theirs.tx_power


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_random_raw_bytes_never_raise(data):
    f = decode_raw(data)
    assert isinstance(f, BeaconFrame)
    assert f.recognised or f.error


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFF), st.binary(max_size=40), st.binary(max_size=40))
def test_random_payloads_never_raise(cid, m, s):
    for prefix in (b"", b"\x02\x15", b"\xbe\xac"):
        assert isinstance(parse_manufacturer(cid, prefix + m), BeaconFrame)
    for prefix in (b"", b"\x00", b"\x10", b"\x20\x00", b"\x20\x01", b"\x30"):
        assert isinstance(parse_service("feaa", prefix + s), BeaconFrame)


# --- optional trailing fields, vendor bytes after a frame, and frames really cut short -------------------
# Each reference parser reads a frame up to its last required field: ibeacon-ble takes an Apple payload of
# 23 bytes or more, android-beacon-library ends AltBeacon with an optional data byte (d:25-25) and Eddystone-UID
# at the instance (i:14-19), beacontools' Eddystone structures ignore whatever follows them.


def _service_packet(frame: bytes) -> bytes:
    """A raw advert: flags, the 0xFEAA service list, then the Eddystone service data ``frame``."""
    return b"\x02\x01\x06\x03\x03\xaa\xfe" + bytes([len(frame) + 3, 0x16, 0xAA, 0xFE]) + frame


UID_FRAME = bytes.fromhex("00e3" "12345678901234678901" "000000000001")  # without the two RFU bytes


def _beacon_decode(*args: str) -> tuple[int, dict]:
    """``store-edge devices beacon-decode ARGS`` as a technician runs it: exit code and the JSON printed."""
    proc = subprocess.run([str(Path(sys.executable).parent / "store-edge"), "devices", "beacon-decode", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return proc.returncode, json.loads(proc.stdout)


def test_ibeacon_followed_by_a_vendor_battery_byte_is_read():
    raw = "0201041BFF4C000215A7AE2EB71F004168B99BA749BAC1CA6400010001BB4E"
    code, doc = _beacon_decode("--raw", raw)
    assert code == 0
    assert (doc["format"], doc["uuid"], doc["major"], doc["minor"], doc["tx_power"], doc["error"]) == (
        "ibeacon", "a7ae2eb7-1f00-4168-b99b-a749bac1ca64", 1, 1, -69, None,
    )  # fmt: skip
    theirs = beacontools.parse_packet(bytes.fromhex(raw))
    assert (theirs.uuid, theirs.major, theirs.minor, theirs.tx_power) == (doc["uuid"], 1, 1, -69)


def test_ibeacon_lengths_23_and_more_are_read_and_shorter_refused():
    body = bytes.fromhex("0215" "a7ae2eb71f004168b99ba749bac1ca64" "0001" "0002" "bb")
    for tail in (b"", b"\x4e", b"\x4e\x00\x07"):
        f = parse_manufacturer(0x004C, body + tail)
        assert (f.format, f.major, f.minor, f.tx_power, f.error) == ("ibeacon", 1, 2, -69, None), tail
    short = parse_manufacturer(0x004C, body[:-1])
    assert short.format == "ibeacon" and not short.recognised
    assert "22 bytes" in (short.error or "") and "at least 23" in (short.error or "")
    code, doc = _beacon_decode("--manufacturer", "004c=" + body[:-1].hex())  # the command says it too
    assert code == 2 and doc["format"] == "ibeacon" and "at least 23" in doc["error"]


def test_altbeacon_with_and_without_its_reserved_byte():
    without = v.ALTBEACON_PAYLOAD[:-1]
    for payload in (without, v.ALTBEACON_PAYLOAD, v.ALTBEACON_PAYLOAD + b"\x99"):
        f = parse_manufacturer(0x0118, payload)
        assert f.recognised and f.beacon_id == "2f234454cf6d4a0fadf2f4911ba9ffa600010002" and f.tx_power == -59
    short = parse_manufacturer(0x0118, without[:-1])
    assert short.format == "altbeacon" and "22 bytes" in (short.error or "") and "at least 23" in (short.error or "")


def test_eddystone_uid_without_with_or_with_part_of_its_rfu_bytes():
    for rfu in (b"", b"\x00", b"\x00\x00"):
        packet = _service_packet(UID_FRAME + rfu)
        ours, theirs = decode_raw(packet), beacontools.parse_packet(packet)
        assert ours.recognised and (ours.namespace, ours.instance, ours.tx_power) == (
            "12345678901234678901", "000000000001", -29,
        ), rfu  # fmt: skip
        assert (theirs.namespace, theirs.instance, theirs.tx_power) == (ours.namespace, ours.instance, -29)
    short = decode_raw(_service_packet(UID_FRAME[:-1]))
    assert short.format == "eddystone-uid" and "17 bytes" in (short.error or "")
    assert beacontools.parse_packet(_service_packet(UID_FRAME[:-1])) is None  # the reference refuses it too


def test_tlm_and_eid_frames_ignore_bytes_after_them_and_refuse_short_ones():
    tlm = bytes.fromhex("2000" "0b18" "1300" "00001467" "00002ac4")
    eid = bytes.fromhex("30e3") + b"EID_test"
    for tail in (b"", b"\xe4"):
        t = decode_raw(_service_packet(tlm + tail))
        assert (t.voltage_mv, t.temperature_c, t.adv_count, t.uptime_s) == (2840, 19.0, 5223, 1094.8), tail
        theirs = beacontools.parse_packet(_service_packet(tlm + tail))
        assert (theirs.voltage, theirs.advertising_count) == (2840, 5223)
        e = decode_raw(_service_packet(eid + tail))
        assert (e.format, e.eid, e.tx_power, e.error) == ("eddystone-eid", b"EID_test".hex(), -29, None)
    for frame, name, need in ((tlm[:-1], "Eddystone-TLM", 14), (eid[:-1], "Eddystone-EID", 10)):
        f = parse_eddystone(frame)
        assert not f.recognised and name in (f.error or "") and f"at least {need}" in (f.error or "")


def test_eddystone_url_from_an_empty_path_to_seventeen_bytes():
    assert parse_eddystone(b"\x10\xf8\x03").url == "https://"  # beacontools reads it the same way
    assert beacontools.parse_packet(_service_packet(b"\x10\xf8\x03")).url == "https://"
    longest = parse_eddystone(b"\x10\xf8\x01" + b"a" * 17)
    assert longest.url == "https://www." + "a" * 17
    assert "at least 3" in (parse_eddystone(b"\x10\xf8").error or "")
    assert "more than the 20" in (parse_eddystone(b"\x10\xf8\x01" + b"a" * 18).error or "")
