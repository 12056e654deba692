"""The presence engine on a clock the test moves."""

import pytest

from edge.core import presence
from edge.core.presence import (
    DWELL,
    ENTER,
    EXIT,
    HUB,
    STORE_ZONE,
    AnonymousCounter,
    PresenceConfig,
    PresenceEngine,
    RssiKalman,
    Sighting,
    SightingError,
    feed_sighting,
    rssi_to_distance,
    sighting_from_record,
    summarise_dwell,
)

TX = -59  # rssi at 1 m


def kinds(events):
    return [(e.kind, e.zone) for e in events]


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def walk(engine, subject, zone, rssis, start, step=1.0):
    events = []
    t = start
    for r in rssis:
        events += engine.observe(subject, zone, r, TX, now=t)
        events += engine.tick(t)
        t += step
    return events, t


def test_distance_formula():
    assert rssi_to_distance(-59, -59) == pytest.approx(1.0)
    assert rssi_to_distance(-59 - 27, -59, n=2.7) == pytest.approx(10.0)


def test_kalman_smooths_a_spike_but_follows_a_step():
    k = RssiKalman(4.0, 0.5)
    for i in range(10):
        k.update(-80, float(i))
    spiked = k.update(-40, 10.0)
    assert spiked < -65  # one spike moves it much less than 40 dB
    for i in range(11, 30):
        k.update(-60, float(i))
    assert abs(k.estimate - -60) < 2  # a real step is followed within ~15 s


def test_walk_in_dwell_and_leave_by_silence():
    cfg = PresenceConfig(exit_after_s=90, dwell_every_s=60)
    engine = PresenceEngine(cfg)
    far = [-95] * 5
    near = [-60] * 20
    events, t = walk(engine, "c1", "bakery", far, 0.0)
    assert events == []
    events, t = walk(engine, "c1", "bakery", near, t)
    assert kinds(events) == [(ENTER, STORE_ZONE), (ENTER, "bakery")]
    entered = events[0].time
    assert [p.customer_id for p in engine.present()] == ["c1"]
    # sparse callbacks: nothing heard, but dwell keeps counting on last-seen
    dwell = engine.tick(entered + 61)
    assert sorted(kinds(dwell)) == [(DWELL, "bakery"), (DWELL, STORE_ZONE)]
    assert all(e.dwell_s >= 60 for e in dwell)
    last_seen = t - 1
    assert [e for e in engine.tick(last_seen + 89) if e.kind == EXIT] == []
    gone = engine.tick(last_seen + 91)
    exits = [e for e in gone if e.kind == EXIT]
    assert kinds(exits) == [(EXIT, "bakery"), (EXIT, STORE_ZONE)]
    # the visit ends when the customer was last heard, not when the silence was noticed
    assert exits[0].time == last_seen
    assert exits[1].dwell_s == pytest.approx(last_seen - entered)
    assert engine.present() == []


def test_hysteresis_between_enter_and_exit_thresholds():
    engine = PresenceEngine(PresenceConfig(enter_m=2.0, exit_m=4.0))
    events, t = walk(engine, "c1", "store", [-60] * 20, 0.0)
    assert kinds(events) == [(ENTER, STORE_ZONE)]
    # ~3 m: between the thresholds -> stays inside
    three_m = round(-59 - 10 * 2.7 * 0.477)
    events, t = walk(engine, "c1", "store", [three_m] * 30, t)
    assert [e for e in events if e.kind != DWELL] == []
    assert 2.0 < engine.distance("c1", "store") < 4.0
    events, t = walk(engine, "c1", "store", [-90] * 30, t)
    assert kinds([e for e in events if e.kind != DWELL]) == [(EXIT, STORE_ZONE)]


def test_no_rssi_keeps_presence_alive_without_moving_it():
    engine = PresenceEngine(PresenceConfig(exit_after_s=90))
    _, t = walk(engine, "c1", "store", [-55] * 10, 0.0)
    for i in range(5):
        assert engine.observe("c1", "store", None, TX, now=t + 60 * i) == ()
        assert [e for e in engine.tick(t + 60 * i) if e.kind == EXIT] == []
    assert engine.present()


def test_clock_alias_is_used_when_no_time_is_given(monkeypatch):
    clock = FakeClock(500.0)
    monkeypatch.setattr(presence, "monotonic", clock)
    engine = PresenceEngine()
    for _ in range(15):
        engine.observe("c1", "store", -50, TX)
        clock.t += 1
    assert engine.present()[0].since < 515
    clock.t += 200
    assert [e.kind for e in engine.tick()] == [EXIT]


def test_hub_sighting_feeds_the_same_engine():
    engine = PresenceEngine(PresenceConfig(dwell_every_s=60, hub_exit_after_s=1800))
    s = sighting_from_record(
        {"customer_id": "ios-1", "zone": "wine", "time": "2024-05-01T10:00:00Z", "kind": "enter"},
        wall_now=1714557600.0 + 5,  # 10:00:05Z
        engine_now=100.0,
    )
    assert s == Sighting("ios-1", "wine", 95.0, ENTER)
    events = feed_sighting(engine, s)
    assert kinds(events) == [(ENTER, STORE_ZONE), (ENTER, "wine")]
    assert all(e.source == HUB for e in events)
    assert sorted(kinds(engine.tick(95 + 61))) == [(DWELL, STORE_ZONE), (DWELL, "wine")]
    # no RSSI on the hub path: a BLE silence does not end it, an explicit exit does
    assert [e for e in engine.tick(95 + 600) if e.kind == EXIT] == []
    out = feed_sighting(engine, Sighting("ios-1", "wine", 95 + 900, EXIT))
    assert kinds(out) == [(EXIT, "wine"), (EXIT, STORE_ZONE)]
    assert out[0].dwell_s == 900


def test_hub_sighting_by_beacon_and_bad_records():
    s = sighting_from_record(
        {"customer_id": "c", "beacon": "ibeacon:x:1:2", "time": 1000, "kind": "exit"},
        wall_now=1000,
        engine_now=7,
        zone_for_beacon={"ibeacon:x:1:2": "till"}.get,
    )
    assert (s.zone, s.time, s.kind) == ("till", 7, EXIT)
    for bad in (
        {"zone": "a", "time": 1, "kind": "enter"},
        {"customer_id": "c", "zone": "a", "time": 1, "kind": "wave"},
        {"customer_id": "c", "zone": "a", "time": "yesterday", "kind": "enter"},
        {"customer_id": "c", "beacon": "unknown", "time": 1, "kind": "enter"},
        ["not", "a", "dict"],
    ):
        with pytest.raises(SightingError):
            sighting_from_record(bad, 0, 0)


def test_memory_is_bounded_with_many_passers_by():
    engine = PresenceEngine(PresenceConfig(forget_after_s=300, max_tracks=2000))
    t = 0.0
    for i in range(5000):  # 5,000 distinct devices in an hour, all far away
        engine.observe(f"dev{i}", "store", -95, TX, now=t)
        t += 0.72
        if i % 100 == 0:
            engine.tick(t)
    engine.tick(t)
    assert engine.track_count() <= 2000
    assert engine.track_count() < 600  # only the last ~300 s are kept


def test_anonymous_counter_counts_distinct_devices_per_bucket_only():
    counter = AnonymousCounter(bucket_s=3600)
    for i in range(50):
        counter.add(f"AA:BB:CC:00:00:{i % 20:02X}", "store", 10.0 + i)
    assert counter.current() == {"store": 20}
    closed = counter.roll(3700.0)
    assert [(c.zone, c.devices) for c in closed] == [("store", 20)]
    assert counter.current() == {}


def test_dwell_summary_buckets():
    assert summarise_dwell([10, 70, 400, 2000, 2000]) == {
        "<60s": 1, "60-300s": 1, "300-900s": 1, "900-1800s": 0, ">=1800s": 2,
    }  # fmt: skip
