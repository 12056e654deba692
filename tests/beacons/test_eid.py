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


class CountingEid:
    """The spec EID function, counting calls (each one is two AES blocks)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, identity_key: bytes, beacon_time_s: int, rotation_exponent: int) -> bytes:
        self.calls += 1
        return compute_eid(identity_key, beacon_time_s, rotation_exponent)


def _many_keys(count: int) -> list[EidKey]:
    # every key registered at its own second, periods 256..1024 s: some key rotates every second or two
    return [
        EidKey(f"cust-{i}", (i + 1).to_bytes(2, "big") * 8, 8 + i % 3, clock_offset_s=1_700_000_000 - 37 * i)
        for i in range(count)
    ]


def test_resolver_work_grows_with_periods_elapsed_not_with_seconds():
    keys, window, hour = _many_keys(300), 2, 3600
    counter = CountingEid()
    resolver = EidResolver(keys, window=window, eid_function=counter)
    start = 1_700_050_000
    for second in range(hour + 1):
        resolver.resolve(b"\x00" * 8, start + second + 0.5)  # about one advert a second, as a quiet store
    # the first window of every key, then one new EID per key each time its own period rolls over
    rollovers = sum(
        ((start + hour - k.clock_offset_s) >> k.rotation_exponent) - ((start - k.clock_offset_s) >> k.rotation_exponent)
        for k in keys
    )
    assert counter.calls == len(keys) * (2 * window + 1) + rollovers
    assert counter.calls < len(keys) * 30  # a rebuild per rotation would be ~ keys * 5 * 1,400 here


def test_incremental_table_matches_the_window_of_every_key_over_time():
    keys = _many_keys(40)
    resolver = EidResolver(keys, window=1)
    start = 1_700_050_000
    for second in range(0, 3600, 97):  # uneven steps cross many keys' rollovers between lookups
        now = start + second
        for key in keys[::7]:
            beacon_now = now - key.clock_offset_s
            period_len = 1 << key.rotation_exponent
            for step, expected in ((-1, key.customer_id), (0, key.customer_id), (1, key.customer_id), (2, None), (-2, None)):
                eid = compute_eid(key.identity_key, beacon_now + step * period_len, key.rotation_exponent)
                assert resolver.resolve(eid, now) == expected, (second, key.customer_id, step)


def test_resolver_follows_the_edge_clock_stepping_back_and_new_keys():
    key = EidKey("cust-1", v.EID_IDENTITY_KEY, 10, clock_offset_s=1_700_000_000)
    resolver = EidResolver([key], window=1)
    later = 1_700_000_000 + 100_000
    assert resolver.resolve(compute_eid(v.EID_IDENTITY_KEY, 100_000, 10), later) == "cust-1"
    earlier = later - 50_000  # NTP corrected a clock that ran far ahead
    old_eid = compute_eid(v.EID_IDENTITY_KEY, 50_000, 10)
    assert resolver.resolve(old_eid, earlier) == "cust-1"
    assert resolver.resolve(compute_eid(v.EID_IDENTITY_KEY, 100_000, 10), earlier) is None
    other = EidKey("cust-2", bytes(range(16)), 10, clock_offset_s=1_700_000_000)
    resolver.set_keys([other])
    assert resolver.resolve(old_eid, earlier) is None
    assert resolver.resolve(compute_eid(bytes(range(16)), 50_000, 10), earlier) == "cust-2"
