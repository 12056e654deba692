"""Pure parsers for beacon frames: iBeacon, AltBeacon and Eddystone UID / URL / TLM / EID.

Every function returns a :class:`BeaconFrame`; a malformed or unknown frame comes back with ``format=None``
(or the recognised format) and an ``error`` sentence, never an exception - adverts are radio noise.

Lengths are minimums, as the reference parsers read them: a frame needs every byte up to its last required
field; optional fields at its end (AltBeacon's manufacturer-reserved byte, Eddystone-UID's two RFU bytes) may
be present or absent, and bytes a vendor appends after the frame (a battery level after an iBeacon) are
ignored. Home Assistant's ibeacon-ble takes an Apple payload of 23 bytes or more; android-beacon-library's
layouts end AltBeacon with an optional data byte (``d:25-25``, PDU overflow allowed) and Eddystone-UID at the
instance (``i:14-19``); beacontools reads Eddystone UID / TLM / EID frames with structures that ignore what
follows them. A frame shorter than its required fields is refused and the reason names both lengths.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from devices.beacons.adverts import full_uuid

APPLE_COMPANY_ID = 0x004C
EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"

IBEACON, ALTBEACON = "ibeacon", "altbeacon"
EDDYSTONE_UID, EDDYSTONE_URL, EDDYSTONE_TLM, EDDYSTONE_EID = (
    "eddystone-uid",
    "eddystone-url",
    "eddystone-tlm",
    "eddystone-eid",
)

_URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
_URL_EXPANSIONS = (
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
)  # fmt: skip
_IBEACON = struct.Struct(">HHb")  # major, minor, measured power at 1 m
_TLM = struct.Struct(">HhII")  # battery mV, temperature 8.8 fixed point, advert count, 0.1 s since boot
_TLM_NO_TEMPERATURE = -0x8000  # 0x8000: the beacon has no temperature sensor

# Bytes a frame needs up to its last required field (the payload after the company id / the 0xFEAA UUID).
IBEACON_MIN = 23  # 02 15, UUID 16, major 2, minor 2, measured power 1
ALTBEACON_MIN = 23  # BE AC, beacon id 20, reference RSSI 1; the manufacturer-reserved byte is optional
EDDYSTONE_UID_MIN = 18  # frame type, tx power, namespace 10, instance 6; the two RFU bytes are optional
EDDYSTONE_URL_MIN, EDDYSTONE_URL_MAX = 3, 20  # frame type, tx power, scheme, 0-17 encoded URL bytes
EDDYSTONE_TLM_MIN = 14  # frame type, version, battery 2, temperature 2, advert count 4, uptime 4
EDDYSTONE_EID_MIN = 10  # frame type, tx power, EID 8


@dataclass(frozen=True, slots=True)
class BeaconFrame:
    format: str | None = None
    uuid: str | None = None
    major: int | None = None
    minor: int | None = None
    tx_power: int | None = None
    beacon_id: str | None = None
    namespace: str | None = None
    instance: str | None = None
    url: str | None = None
    eid: str | None = None
    voltage_mv: int | None = None
    temperature_c: float | None = None
    adv_count: int | None = None
    uptime_s: float | None = None
    error: str | None = None

    @property
    def recognised(self) -> bool:
        return self.format is not None and self.error is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _short(what: str, n: int, need: int, note: str = "") -> str:
    extra = f" ({note})" if note else ""
    return f"{what} is {n} bytes, cut short: it needs at least {need}{extra}"


def parse_manufacturer(company_id: int, payload: bytes) -> BeaconFrame:
    """Manufacturer-specific data as bleak gives it: the company id, and the bytes after it."""
    if len(payload) >= 2 and payload[0] == 0x02 and payload[1] == 0x15 and company_id == APPLE_COMPANY_ID:
        if len(payload) < IBEACON_MIN:
            return BeaconFrame(IBEACON, error=_short("iBeacon payload", len(payload), IBEACON_MIN))
        major, minor, tx = _IBEACON.unpack_from(payload, 18)
        return BeaconFrame(IBEACON, uuid=_uuid_text(payload[2:18]), major=major, minor=minor, tx_power=tx)
    if len(payload) >= 2 and payload[0] == 0xBE and payload[1] == 0xAC:
        if len(payload) < ALTBEACON_MIN:
            return BeaconFrame(
                ALTBEACON,
                error=_short("AltBeacon payload", len(payload), ALTBEACON_MIN, "24 with the reserved byte"),
            )
        return BeaconFrame(ALTBEACON, beacon_id=payload[2:22].hex(), tx_power=_signed(payload[22]))
    return BeaconFrame(
        error=f"manufacturer data of company 0x{company_id:04x} is not an iBeacon or AltBeacon"
    )


def parse_service(uuid: str, payload: bytes) -> BeaconFrame:
    """Service data for one service UUID (16-, 32- or 128-bit text form)."""
    if full_uuid(uuid) != EDDYSTONE_UUID:
        return BeaconFrame(error=f"service data for {uuid} is not Eddystone (0xFEAA)")
    return parse_eddystone(payload)


def parse_eddystone(payload: bytes) -> BeaconFrame:
    """The Eddystone service data (after the 0xFEAA UUID): frame type byte, then the frame."""
    if not payload:
        return BeaconFrame(error="Eddystone service data is empty")
    kind, n = payload[0], len(payload)
    if kind == 0x00:
        # the two trailing RFU bytes are often left out by cheap beacons
        if n < EDDYSTONE_UID_MIN:
            return BeaconFrame(
                EDDYSTONE_UID,
                error=_short("Eddystone-UID frame", n, EDDYSTONE_UID_MIN, "20 with the reserved bytes"),
            )
        return BeaconFrame(
            EDDYSTONE_UID,
            namespace=payload[2:12].hex(),
            instance=payload[12:18].hex(),
            tx_power=_signed(payload[1]),
        )
    if kind == 0x10:
        return _parse_url(payload)
    if kind == 0x20:
        return _parse_tlm(payload)
    if kind == 0x30:
        if n < EDDYSTONE_EID_MIN:
            return BeaconFrame(EDDYSTONE_EID, error=_short("Eddystone-EID frame", n, EDDYSTONE_EID_MIN))
        return BeaconFrame(EDDYSTONE_EID, eid=payload[2:10].hex(), tx_power=_signed(payload[1]))
    return BeaconFrame(error=f"unknown Eddystone frame type 0x{kind:02x}")


def _parse_url(payload: bytes) -> BeaconFrame:
    n = len(payload)
    if n < EDDYSTONE_URL_MIN:
        return BeaconFrame(EDDYSTONE_URL, error=_short("Eddystone-URL frame", n, EDDYSTONE_URL_MIN))
    if n > EDDYSTONE_URL_MAX:
        return BeaconFrame(
            EDDYSTONE_URL,
            error=f"Eddystone-URL frame is {n} bytes, more than the {EDDYSTONE_URL_MAX} it can hold",
        )
    scheme = payload[2]
    if scheme >= len(_URL_SCHEMES):
        return BeaconFrame(EDDYSTONE_URL, error=f"Eddystone-URL scheme prefix 0x{scheme:02x} is not defined")
    parts = [_URL_SCHEMES[scheme]]
    for byte in payload[3:]:
        if byte < len(_URL_EXPANSIONS):
            parts.append(_URL_EXPANSIONS[byte])
        elif 0x21 <= byte <= 0x7E:
            parts.append(chr(byte))
        else:
            return BeaconFrame(EDDYSTONE_URL, error=f"Eddystone-URL contains the invalid byte 0x{byte:02x}")
    return BeaconFrame(EDDYSTONE_URL, url="".join(parts), tx_power=_signed(payload[1]))


def _parse_tlm(payload: bytes) -> BeaconFrame:
    if len(payload) < 2:
        return BeaconFrame(EDDYSTONE_TLM, error="Eddystone-TLM frame has no version byte")
    if payload[1] == 0x01:
        return BeaconFrame(
            EDDYSTONE_TLM, error="Eddystone-TLM is encrypted (eTLM); it needs the beacon's key"
        )
    if payload[1] != 0x00:
        return BeaconFrame(EDDYSTONE_TLM, error=f"Eddystone-TLM version 0x{payload[1]:02x} is not supported")
    if len(payload) < EDDYSTONE_TLM_MIN:
        return BeaconFrame(
            EDDYSTONE_TLM, error=_short("Eddystone-TLM frame", len(payload), EDDYSTONE_TLM_MIN)
        )
    volts, temp, count, tenths = _TLM.unpack_from(payload, 2)
    return BeaconFrame(
        EDDYSTONE_TLM,
        voltage_mv=volts or None,  # 0 means the beacon is mains powered / cannot measure
        temperature_c=None if temp == _TLM_NO_TEMPERATURE else temp / 256.0,
        adv_count=count,
        uptime_s=tenths / 10.0,
    )


_NOT_A_BEACON = BeaconFrame(error="the advert carries no beacon data (no iBeacon, AltBeacon or Eddystone)")


def decode_advert(manufacturer_data: Mapping[int, bytes], service_data: Mapping[str, bytes]) -> BeaconFrame:
    """The first beacon frame found in an advert; else the most specific reason why there is none."""
    failed: BeaconFrame | None = None
    for cid, payload in manufacturer_data.items():
        frame = parse_manufacturer(cid, payload)
        if frame.error is None:
            return frame
        failed = _more_specific(failed, frame)
    for uuid, payload in service_data.items():
        frame = parse_service(uuid, payload)
        if frame.error is None:
            return frame
        failed = _more_specific(failed, frame)
    return _NOT_A_BEACON if failed is None or failed.format is None else failed


def _more_specific(current: BeaconFrame | None, candidate: BeaconFrame) -> BeaconFrame:
    # "iBeacon cut short" helps a technician more than "not a beacon"
    if current is None or (current.format is None and candidate.format is not None):
        return candidate
    return current


@dataclass(frozen=True, slots=True)
class AdStructures:
    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    local_name: str | None = None
    tx_power: int | None = None
    error: str | None = None


def split_ad_structures(raw: bytes) -> AdStructures:
    """Split the whole advertising data (length, type, value ...) into what bleak would report."""
    manufacturer: dict[int, bytes] = {}
    service: dict[str, bytes] = {}
    name: str | None = None
    tx: int | None = None
    i, n = 0, len(raw)
    while i < n:
        length = raw[i]
        if length == 0:  # zero padding ends the significant part
            break
        if i + 1 + length > n:
            return AdStructures(
                manufacturer, service, name, tx,
                error=f"AD structure at byte {i} claims {length} bytes but only {n - i - 1} remain",
            )  # fmt: skip
        ad_type, value = raw[i + 1], raw[i + 2 : i + 1 + length]
        i += 1 + length
        if ad_type == 0xFF and len(value) >= 2:
            manufacturer[value[0] | value[1] << 8] = bytes(value[2:])
        elif ad_type == 0x16 and len(value) >= 2:
            service[full_uuid(f"{value[1]:02x}{value[0]:02x}")] = bytes(value[2:])
        elif ad_type == 0x20 and len(value) >= 4:
            service[full_uuid(value[3::-1].hex())] = bytes(value[4:])
        elif ad_type == 0x21 and len(value) >= 16:
            service[full_uuid(value[15::-1].hex())] = bytes(value[16:])
        elif ad_type in (0x08, 0x09):
            name = value.decode("utf-8", errors="replace")
        elif ad_type == 0x0A and len(value) == 1:
            tx = _signed(value[0])
    return AdStructures(manufacturer, service, name, tx)


def decode_raw(raw: bytes) -> BeaconFrame:
    """Decode the whole advertising data of one advert."""
    ads = split_ad_structures(raw)
    frame = decode_advert(ads.manufacturer_data, ads.service_data)
    if frame.format is None and ads.error is not None:
        return BeaconFrame(error=ads.error)
    return frame
