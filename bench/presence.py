"""Adverts per second through parse + resolve + smooth + zone state, beside beacontools' bare parse.

    .venv/bin/python bench/presence.py [--adverts 200000] [--json]

Both run on one core in the same process over the same adverts (ours get bleak-style dicts, beacontools
gets the raw advertising data it expects). A second phase feeds 5,000 distinct devices over a simulated
hour to show memory stays bounded, a third resolves Eddystone-EIDs against 5,000 keys over a simulated hour
(table upkeep included). With --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devices.beacons.eid import EidKey, EidResolver, compute_eid  # noqa: E402
from devices.beacons.frames import decode_advert, split_ad_structures  # noqa: E402
from devices.beacons.identity import CUSTOMER, BeaconRegistry  # noqa: E402
from edge.core.presence import PresenceEngine, rssi_at_1m  # noqa: E402

TAG_UUID = bytes.fromhex("e2c56db5dffb48d2b060d0f5a71096e0")


def ibeacon_raw(minor: int, tx: int = -59) -> bytes:
    payload = b"\x4c\x00\x02\x15" + TAG_UUID + (100).to_bytes(2, "big") + minor.to_bytes(2, "big") + bytes([tx & 0xFF])
    return b"\x02\x01\x06" + bytes([len(payload) + 1, 0xFF]) + payload


def eddystone_uid_raw(instance: int) -> bytes:
    frame = b"\xaa\xfe\x00\xee" + bytes.fromhex("5354524544474530000a") + instance.to_bytes(6, "big") + b"\x00\x00"
    return b"\x02\x01\x06\x03\x03\xaa\xfe" + bytes([len(frame) + 1, 0x16]) + frame


def phone_raw(rng: random.Random) -> bytes:
    payload = b"\x4c\x00\x10\x05\x03\x1c" + rng.randbytes(4)  # Apple continuity: not a beacon
    return b"\x02\x01\x1a" + bytes([len(payload) + 1, 0xFF]) + payload


def make_adverts(n_distinct: int, rng: random.Random) -> list[tuple[bytes, dict[int, bytes], dict[str, bytes]]]:
    out = []
    for i in range(n_distinct):
        kind = i % 4
        raw = ibeacon_raw(i) if kind < 2 else eddystone_uid_raw(i) if kind == 2 else phone_raw(rng)
        ads = split_ad_structures(raw)
        out.append((raw, ads.manufacturer_data, ads.service_data))
    return out


def bench_ours(adverts: list, registry: BeaconRegistry, n: int, rng: random.Random) -> float:
    engine = PresenceEngine()
    rssis = [rng.randint(-95, -50) for _ in range(1024)]
    k = len(adverts)
    t = 0.0
    start = time.perf_counter()
    for i in range(n):
        _, m, s = adverts[i % k]
        t += 0.0001
        frame = decode_advert(m, s)
        if frame.error is None:
            who = registry.resolve(frame, 1_700_000_000.0 + t)
            if who is not None and who.kind == CUSTOMER:
                engine.observe(who.key, "store", rssis[i & 1023], rssi_at_1m(frame.format, frame.tx_power), now=t)
        if i % 10_000 == 0:  # the service ticks about once a second; 10,000 adverts/s here
            engine.tick(t)
    return n / (time.perf_counter() - start)


def bench_beacontools(adverts: list, n: int) -> float:
    from beacontools import parse_packet

    k = len(adverts)
    start = time.perf_counter()
    for i in range(n):
        parse_packet(adverts[i % k][0])
    return n / (time.perf_counter() - start)


def memory_phase(rng: random.Random) -> tuple[int, float]:
    """5,000 distinct devices over an hour, all registered (worst case: every one is tracked)."""
    tags = {f"ibeacon:{TAG_UUID.hex()[:8]}:{i}": f"c{i}" for i in range(5000)}
    engine = PresenceEngine()
    t = 0.0
    peak_tracks = 0
    for i in range(200_000):
        t += 3600 / 200_000
        subject = f"c{rng.randrange(5000)}" if rng.random() < 0.5 else f"c{(i // 40) % 5000}"
        engine.observe(subject, "store", rng.randint(-95, -55), -59, now=t)
        if i % 50 == 0:
            engine.tick(t)
        peak_tracks = max(peak_tracks, engine.track_count())
    del tags
    return peak_tracks, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def eid_phase(rng: random.Random, n_keys: int = 5000, lookups: int = 100_000) -> tuple[float, int]:
    """EID lookups over a simulated hour with ``n_keys`` keys, each on its own clock offset (so some key
    rotates every second): resolutions per second, table upkeep included, and the EIDs computed."""
    keys = [
        EidKey(f"c{i}", i.to_bytes(4, "big") * 4, 8 + i % 3, clock_offset_s=1_699_990_000 - rng.randrange(86_400))
        for i in range(n_keys)
    ]
    computed = [0]

    def counting_eid(identity_key: bytes, beacon_time_s: int, k: int) -> bytes:
        computed[0] += 1
        return compute_eid(identity_key, beacon_time_s, k)

    start_t = 1_700_000_000
    # half the adverts are a customer's current EID, half are strangers' (dropped after one dict miss)
    probes = []
    for i in range(1000):
        key = keys[rng.randrange(n_keys)]
        probes.append(compute_eid(key.identity_key, start_t - key.clock_offset_s, key.rotation_exponent) if i % 2 else rng.randbytes(8))
    resolver = EidResolver(keys, window=2, eid_function=counting_eid)
    start = time.perf_counter()
    for i in range(lookups):
        resolver.resolve(probes[i % 1000], start_t + 3600 * i / lookups)
    return lookups / (time.perf_counter() - start), computed[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adverts", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(1)
    adverts = make_adverts(2000, rng)
    registry = BeaconRegistry(
        tags={f"ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:100:{i}": f"c{i}" for i in range(0, 2000, 4)},
        store_beacons={"eddystone-uid:5354524544474530000a:000000000002": "door"},
    )
    ours = bench_ours(adverts, registry, args.adverts, rng)
    theirs = bench_beacontools(adverts, min(args.adverts, 50_000))
    peak_tracks, peak_rss = memory_phase(rng)
    eid_per_s, eid_computed = eid_phase(rng)
    result = {
        "adverts_per_s": round(ours),
        "beacontools_per_s": round(theirs),
        "ratio": round(ours / theirs, 2),
        "peak_rss_mb": round(peak_rss, 1),
        "peak_tracks_5000_devices_1h": peak_tracks,
        "eid_resolutions_per_s_5000_keys": round(eid_per_s),
        "eid_computed_5000_keys_1h": eid_computed,
    }
    print(f"parse+resolve+smooth+zone: {ours:,.0f} adverts/s (goal >= 50,000)")
    print(f"beacontools parse only:    {theirs:,.0f} adverts/s  -> ratio {ours / theirs:.1f}x")
    print(f"5,000 devices / hour: peak {peak_tracks} tracks, peak RSS {peak_rss:.1f} MB")
    print(f"EID, 5,000 keys over an hour: {eid_per_s:,.0f} resolutions/s ({eid_computed:,} EIDs computed)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
