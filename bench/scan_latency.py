"""Scan latency through a pty into the scan pipeline, and decode throughput against bare biip.

    .venv/bin/python bench/scan_latency.py [--scans 1000] [--json]

Latency: from the bytes written to the pty master to the decoded result delivered to a subscriber
(serial source thread -> loop -> decode_scan). Throughput: decode_scan vs biip.parse on the same codes.
Goals (issue 5): p99 < 20 ms; overhead_ratio (our time per decode / biip's) <= 1.5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import biip  # noqa: E402
from biip import ParseConfig  # noqa: E402

from devices.barcode import BarcodeConfig, ScanResult, decode_scan  # noqa: E402
from devices.scanners.base import ScanEvent  # noqa: E402
from devices.scanners.serial_source import SerialScannerSource  # noqa: E402
from edge.settings import ScannerSettings  # noqa: E402

CODES = [
    "5901234123457",
    "96385074",
    "036000291452",
    "]E05901234123457",
    "]C1010950110102091717190508" + "10ABC123\x1d211234",
    "]C101095011010209173103000750\x1d39220299",
    "2302148210869",
]
REGION = "se"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def measure_latency(n: int) -> list[float]:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    source = SerialScannerSource(ScannerSettings(serial_port=path, debounce_ms=0))
    config = BarcodeConfig(rcn_region=REGION)
    got = asyncio.Event()
    results: list[ScanResult] = []
    done_at = 0.0

    def on_scan(scan: ScanEvent) -> None:
        nonlocal done_at
        results.append(decode_scan(scan.text, symbology=scan.aim_id, config=config))
        done_at = time.perf_counter()
        got.set()

    source.on_scan(on_scan)
    await source.start()
    try:
        while source.status.state != "connected":
            await asyncio.sleep(0.01)
        latencies: list[float] = []
        for i in range(n):
            payload = (CODES[i % len(CODES)] + "\r").encode()
            got.clear()
            sent_at = time.perf_counter()
            os.write(master, payload)
            await asyncio.wait_for(got.wait(), 5.0)
            latencies.append((done_at - sent_at) * 1000)
        assert all(r.error is None for r in results), [r.error for r in results if r.error][:3]
        return latencies
    finally:
        await source.stop()
        os.close(master)


def measure_throughput(rounds: int) -> tuple[float, float]:
    ours_cfg = BarcodeConfig(rcn_region=REGION)
    biip_cfg = ParseConfig(rcn_region=REGION)
    for code in CODES:  # warm caches on both sides
        decode_scan(code, config=ours_cfg)
        biip.parse(code, config=biip_cfg)
    best_ours = best_biip = float("inf")
    for _ in range(3):  # interleave and keep the best of three to damp noise from other processes
        t = time.perf_counter()
        for _ in range(rounds):
            for code in CODES:
                biip.parse(code, config=biip_cfg)
        best_biip = min(best_biip, time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(rounds):
            for code in CODES:
                decode_scan(code, config=ours_cfg)
        best_ours = min(best_ours, time.perf_counter() - t)
    n = rounds * len(CODES)
    return n / best_ours, n / best_biip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scans", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=300, help="throughput rounds over the code list")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on the last line")
    args = parser.parse_args(argv)

    latencies = asyncio.run(measure_latency(args.scans))
    ours, bare = measure_throughput(args.rounds)
    report = {
        "scans": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
        "decodes_per_s": round(ours, 1),
        "biip_per_s": round(bare, 1),
        "overhead_ratio": round(bare / ours, 3),
    }
    print(f"latency over {report['scans']} scans: p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms "
          f"(goal < 20 ms), max {report['max_ms']} ms")  # fmt: skip
    print(f"decode: {report['decodes_per_s']:.0f}/s ours vs {report['biip_per_s']:.0f}/s bare biip.parse "
          f"-> overhead {report['overhead_ratio']}x (goal <= 1.5x)")  # fmt: skip
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
