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
    assert "18 or 20" in (parse_eddystone(b"\x00\xe3\x01").error or "")
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
