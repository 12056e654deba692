"""`make bench`: run every bench script with --json and print one markdown table (also bench/results.md).

Each row: figure, goal, measured, baseline (measured in the same run by the same script), ratio.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    script: str
    figure: str
    key: str
    goal: str
    baseline_key: str | None = None
    baseline_label: str = ""
    ratio_key: str | None = None
    met: Callable[[dict], bool] | None = None  # the goal, as a check on the script's figures


ROWS = [
    Row("till_start.py", "till cold start to first screen (s)", "cold_start_s", "< 1.0", "bare_cold_start_s",
        "bare Textual app", met=lambda f: f["cold_start_s"] < 1.0),
    Row("till_start.py", "till resident memory (MB)", "rss_mb", "< 120", "bare_rss_mb", "bare Textual app",
        met=lambda f: f["rss_mb"] < 120),
    Row("sale_commit.py", "completed sales per second (durable)", "sales_per_s", "ratio >= 0.5",
        "raw_commits_per_s", "raw SQLite single-row commits", "ratio", met=lambda f: f["ratio"] >= 0.5),
    Row("sale_commit.py", "sale commit p99 (ms)", "p99_ms", "< 10", met=lambda f: f["p99_ms"] < 10),
    Row("scan_latency.py", "scan latency p99, byte to decoded event (ms)", "p99_ms", "< 20",
        met=lambda f: f["p99_ms"] < 20),
    Row("scan_latency.py", "scan latency p50 (ms)", "p50_ms", ""),
    Row("scan_latency.py", "decodes per second", "decodes_per_s", "overhead <= 1.5x", "biip_per_s",
        "biip bare parse", "overhead_ratio", met=lambda f: f["overhead_ratio"] <= 1.5),
    Row("presence.py", "adverts per second (parse+smooth+zones)", "adverts_per_s", ">= 50,000", "beacontools_per_s",
        "beacontools bare parse", "ratio", met=lambda f: f["adverts_per_s"] >= 50_000),
    Row("presence.py", "presence peak RSS, 5,000 devices/h (MB)", "peak_rss_mb", "bounded (< 120)",
        met=lambda f: f["peak_rss_mb"] < 120),
    Row("sync_drain.py", "sync drain, 100k backlog (events/s)", "events_per_s", ">= 20,000; >= 10x baseline",
        "persist_queue_events_per_s", "persist-queue SQLiteAckQueue get+ack", "ratio",
        met=lambda f: f["events_per_s"] >= 20_000 and f["ratio"] >= 10),
    Row("sync_drain.py", "sync drain total time (s)", "seconds", "< 10", met=lambda f: f["seconds"] < 10),
    Row("sync_drain.py", "50 devices pushing to one hub (events/s)", "concurrent_events_per_s", ""),
    Row("sync_drain.py", "50 devices p99 batch latency (ms)", "concurrent_p99_ms", ""),
    Row("hub_scale.py", "200 tills -> PostgreSQL hub, 4 workers (events/s)", "events_per_s",
        ">= 10,000; >= 0.25x baseline", "raw_insert_per_s", "raw COPY by one psycopg client", "ratio",
        met=lambda f: f["events_per_s"] >= 10_000 and f["ratio"] >= 0.25),
    Row("hub_scale.py", "200 tills p99 push batch (ms)", "p99_ms", "< 1,000", met=lambda f: f["p99_ms"] < 1_000),
    Row("hub_scale.py", "4 workers vs 1 (events/s ratio)", "scale_4_vs_1", ""),
    Row("hub_scale.py", "50 devices -> SQLite hub (events/s)", "sqlite_events_per_s", ">= 5,500",
        met=lambda f: f["sqlite_events_per_s"] >= 5_500),
    Row("hub_scale.py", "10,000-product change, one store pulling alone (s)", "pull_store_s", ""),
    Row("hub_scale.py", "10,000-product change, bytes per store pull", "pull_bytes_per_store", ""),
    Row("hub_scale.py", "10,000-product change to 1,000 stores (s)", "pull_fanout_s", ""),
    Row("member_import.py", "100,000 members imported, SQLite hub (s)", "sqlite_members_s", "< 60",
        "raw_insert_s", "bare executemany of the same rows", "ratio_to_raw", met=lambda f: f["sqlite_members_s"] < 60),
    Row("member_import.py", "100,000 opening balances posted (s)", "sqlite_balances_s", "< 60",
        met=lambda f: f["sqlite_balances_s"] < 60),
    Row("member_lookup.py", "member look-up at the hub p99, loopback (ms)", "p99_ms", "< 300", "baseline_pull_p99_ms",
        "authenticated pull round-trip p99", "ratio", met=lambda f: f["p99_ms"] < 300),
    Row("member_lookup.py", "offline fallback, hub down: scan to guest sale p99 (ms)", "offline_fallback_ms", ""),
    Row("member_lookup.py", "silent hub: scan to guest sale (s)", "silent_hub_fallback_s", "<= timeout + 0.5",
        met=lambda f: f["silent_hub_fallback_s"] <= f["silent_hub_timeout_s"] + 0.5),
]  # fmt: skip


def run_script(name: str) -> tuple[dict | None, str]:
    path = HERE / name
    if not path.exists():
        return None, "not present"
    proc = subprocess.run([sys.executable, str(path), "--json"], capture_output=True, text=True, timeout=1800)
    sys.stderr.write(proc.stdout)
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return None, f"failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:] or ''}"
    try:
        return json.loads(lines[-1]), ""
    except json.JSONDecodeError:
        return None, "no JSON last line"


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main() -> int:
    results: dict[str, tuple[dict | None, str]] = {}
    for script in dict.fromkeys(r.script for r in ROWS):
        print(f"running bench/{script} ...", file=sys.stderr, flush=True)
        results[script] = run_script(script)
    table = ["| figure | goal | measured | baseline | ratio | met |", "| --- | --- | --- | --- | --- | --- |"]
    missed = []
    for row in ROWS:
        figures, problem = results[row.script]
        if figures is None:
            table.append(f"| {row.figure} | {row.goal} | {problem} | | | |")
            continue
        baseline = ""
        if row.baseline_key and row.baseline_key in figures:
            baseline = f"{fmt(figures[row.baseline_key])} ({row.baseline_label})"
        ratio = ""
        if row.ratio_key and row.ratio_key in figures:
            ratio = f"{figures[row.ratio_key]:.2f}"
        elif row.baseline_key and figures.get(row.baseline_key):
            ratio = f"{figures[row.key] / figures[row.baseline_key]:.2f}"
        met = ""
        if row.met is not None:
            try:
                ok = row.met(figures)
            except KeyError:
                ok = False
            met = "yes" if ok else "**NO**"
            if not ok:
                missed.append(row.figure)
        table.append(
            f"| {row.figure} | {row.goal} | {fmt(figures.get(row.key, 'n/a'))} | {baseline} | {ratio} | {met} |"
        )
    header = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
              f"Python {platform.python_version()}, by `make bench`.\n")  # fmt: skip
    verdict = f"\nGoals missed: {', '.join(missed)}.\n" if missed else "\nEvery goal met.\n"
    text = "# Benchmark results\n\n" + header + "\n" + "\n".join(table) + "\n" + verdict
    print("\n".join(table))
    print(verdict.strip())
    (HERE / "results.md").write_text(text)
    failed = [s for s, (f, _) in results.items() if f is None and (HERE / s).exists()]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
