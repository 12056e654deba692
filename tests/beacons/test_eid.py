from devices.beacons.eid import EidKey, EidResolver, compute_eid
from devices.beacons.frames import BeaconFrame
from devices.beacons.identity import CUSTOMER, STORE_BEACON, BeaconRegistry
from tests.beacons import beacon_vectors as v


def test_spec_vector():
    assert compute_eid(v.EID_IDENTITY_KEY, 0, v.EID_K).hex() == v.EID_AT_0
    assert compute_eid(v.EID_IDENTITY_KEY, 2000, v.EID_K).hex() == v.EID_AT_2000


def test_eid_is_constant_within_a_period_and_rotates_after():
    a = compute_eid(v.EID_IDENTITY_KEY, 1024, 10)
    assert compute_eid(v.EID_IDENTITY_KEY, 2047, 10) == a
    assert compute_eid(v.EID_IDENTITY_KEY, 2048, 10) != a


def test_resolver_absorbs_drift_within_the_window_only():
    offset = 1_700_000_000  # the app's beacon clock started at registration
    key = EidKey("cust-1", v.EID_IDENTITY_KEY, 10, clock_offset_s=offset)
    resolver = EidResolver([key], window=2)
    now = offset + 50_000
    for drift_periods in (-2, -1, 0, 1, 2):
        eid = compute_eid(v.EID_IDENTITY_KEY, 50_000 + drift_periods * 1024, 10)
        assert resolver.resolve(eid, now) == "cust-1", drift_periods
    far = compute_eid(v.EID_IDENTITY_KEY, 50_000 + 4 * 1024, 10)
    assert resolver.resolve(far, now) is None
    assert resolver.resolve(b"\x00" * 8, now) is None


def test_registry_resolves_consenting_tags_and_store_beacons_only():
    tag = "ibeacon:41424344-4546-4748-4940-414243444546:1:2"
    reg = BeaconRegistry(tags={tag: "cust-2"}, store_beacons={"eddystone-uid:12345678901234678901:000000000001": "bakery"})
    f = BeaconFrame("ibeacon", uuid="41424344-4546-4748-4940-414243444546", major=1, minor=2, tx_power=-59)
    assert reg.resolve(f, 0).__repr__() and reg.resolve(f, 0).kind == CUSTOMER  # type: ignore[union-attr]
    other = BeaconFrame("ibeacon", uuid="41424344-4546-4748-4940-414243444546", major=1, minor=3, tx_power=-59)
    assert reg.resolve(other, 0) is None
    store = BeaconFrame("eddystone-uid", namespace="12345678901234678901", instance="000000000001", tx_power=-20)
    who = reg.resolve(store, 0)
    assert who is not None and who.kind == STORE_BEACON and who.zone == "bakery"
