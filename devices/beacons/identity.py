"""Who is behind a beacon frame: a consenting customer's tag or app EID, a fixed store beacon, or nobody.

The registry is built only from customers whose location consent the edge holds; anything it cannot
resolve is anonymous and must be dropped by the caller (only counted, never tracked).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from devices.beacons.eid import EidKey, EidResolver
from devices.beacons.frames import ALTBEACON, EDDYSTONE_EID, EDDYSTONE_UID, IBEACON, BeaconFrame

CUSTOMER, STORE_BEACON = "customer", "store_beacon"


def beacon_key(frame: BeaconFrame) -> str | None:
    """A stable text key for a static beacon id (tags and store beacons), None for rotating or telemetry."""
    if frame.error is not None:
        return None
    if frame.format == IBEACON:
        return f"ibeacon:{frame.uuid}:{frame.major}:{frame.minor}"
    if frame.format == EDDYSTONE_UID:
        return f"eddystone-uid:{frame.namespace}:{frame.instance}"
    if frame.format == ALTBEACON:
        return f"altbeacon:{frame.beacon_id}"
    return None


@dataclass(frozen=True, slots=True)
class Identity:
    kind: str  # CUSTOMER | STORE_BEACON
    key: str  # customer id, or the store beacon's key
    zone: str | None = None  # for store beacons: the zone they mark


class BeaconRegistry:
    """Consent-filtered lookup tables; rebuilt by the store layer when the hub pushes changes."""

    def __init__(
        self,
        tags: Mapping[str, str] | None = None,  # beacon key -> customer id
        eid_keys: Iterable[EidKey] = (),
        store_beacons: Mapping[str, str] | None = None,  # beacon key -> zone
        eid_window: int = 2,
    ) -> None:
        self.tags = dict(tags or {})
        self.store_beacons = dict(store_beacons or {})
        self.eid = EidResolver(eid_keys, window=eid_window)

    def resolve(self, frame: BeaconFrame, unix_time_s: float) -> Identity | None:
        if frame.format == EDDYSTONE_EID and frame.eid is not None and frame.error is None:
            customer = self.eid.resolve(bytes.fromhex(frame.eid), unix_time_s)
            return Identity(CUSTOMER, customer) if customer is not None else None
        key = beacon_key(frame)
        if key is None:
            return None
        customer = self.tags.get(key)
        if customer is not None:
            return Identity(CUSTOMER, customer)
        zone = self.store_beacons.get(key)
        if zone is not None:
            return Identity(STORE_BEACON, key, zone)
        return None
