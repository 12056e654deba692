"""One received BLE advertisement, as every source (bleak, replay, tests) hands it on.

The address is kept only in memory: it is a MAC (often a random, rotating one) and is never persisted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

NO_RSSI = -127  # BlueZ reports -127 when it has no reading


@dataclass(frozen=True, slots=True)
class Advert:
    time: float  # seconds on the source's clock (monotonic for live sources, recorded time for replays)
    address: str
    rssi: int | None  # None when the adapter had no reading (BlueZ -127)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)  # 128-bit lowercase UUID -> payload
    local_name: str | None = None
    tx_power: int | None = None  # from the TX Power Level AD type, when present

    def to_json(self) -> str:
        """One JSON Lines record of the replay format."""
        return json.dumps(
            {
                "time": round(self.time, 3),
                "address": self.address,
                "rssi": NO_RSSI if self.rssi is None else self.rssi,
                "manufacturer_data": {
                    f"{cid:04x}": data.hex() for cid, data in self.manufacturer_data.items()
                },
                "service_data": {uuid: data.hex() for uuid, data in self.service_data.items()},
                "local_name": self.local_name,
            },
            separators=(",", ":"),
        )


def normalise_rssi(rssi: Any) -> int | None:
    if rssi is None or isinstance(rssi, bool):
        return None
    try:
        value = int(rssi)
    except (TypeError, ValueError):
        return None
    # -127 is BlueZ's "no reading"; 0 and positive values come from broken drivers
    if value <= NO_RSSI or value >= 0:
        return None
    return value


def full_uuid(uuid: str) -> str:
    """Expand a 16- or 32-bit service UUID to the 128-bit Bluetooth base form, lowercase."""
    u = uuid.strip().lower()
    if u.startswith("0x"):
        u = u[2:]
    if len(u) == 4:
        return f"0000{u}-0000-1000-8000-00805f9b34fb"
    if len(u) == 8:
        return f"{u}-0000-1000-8000-00805f9b34fb"
    if len(u) == 32:
        return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"
    return u


class AdvertFormatError(ValueError):
    """A replay record cannot be read; the message says which field and why."""


def advert_from_record(record: Any) -> Advert:
    """Build an Advert from one decoded JSON Lines record of the replay format."""
    if not isinstance(record, dict):
        raise AdvertFormatError("the line is not a JSON object")
    try:
        time = float(record["time"])
    except (KeyError, TypeError, ValueError):
        raise AdvertFormatError("'time' is missing or not a number") from None
    address = record.get("address")
    if not isinstance(address, str) or not address:
        raise AdvertFormatError("'address' is missing or not text")
    manufacturer: dict[int, bytes] = {}
    raw_m = record.get("manufacturer_data") or {}
    if not isinstance(raw_m, dict):
        raise AdvertFormatError("'manufacturer_data' must be an object of company id -> hex")
    for cid, payload in raw_m.items():
        try:
            manufacturer[int(str(cid), 16)] = bytes.fromhex(str(payload))
        except ValueError:
            raise AdvertFormatError(
                f"manufacturer_data {cid!r} is not hex company id -> hex payload"
            ) from None
    service: dict[str, bytes] = {}
    raw_s = record.get("service_data") or {}
    if not isinstance(raw_s, dict):
        raise AdvertFormatError("'service_data' must be an object of service UUID -> hex")
    for uuid, payload in raw_s.items():
        try:
            service[full_uuid(str(uuid))] = bytes.fromhex(str(payload))
        except ValueError:
            raise AdvertFormatError(f"service_data {uuid!r} payload is not hex") from None
    name = record.get("local_name")
    return Advert(
        time=time,
        address=address,
        rssi=normalise_rssi(record.get("rssi")),
        manufacturer_data=manufacturer,
        service_data=service,
        local_name=name if isinstance(name, str) else None,
    )
