"""bench/hub_scale.py runs end to end (a --quick smoke run) and prints its figures as the --json last line.

Speed is the bench's business, not the test's: only the presence and sign of the figures are checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.hub import PG_DSN

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("events_per_s", "p99_ms", "scale_4_vs_1", "raw_insert_per_s", "ratio", "sqlite_events_per_s",
        "pull_store_s", "pull_bytes_per_store", "pull_fanout_s", "catalogue_change_s")


@pytest.mark.slow
def test_hub_scale_bench_quick_run_prints_every_figure() -> None:
    from tests.pg_cluster import test_dsn

    dsn = test_dsn()
    if dsn is None:
        if os.environ.get("STORE_EDGE_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL at {PG_DSN} is required but unreachable")
        pytest.skip(f"PostgreSQL at {PG_DSN} is unreachable")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "hub_scale.py"), "--quick", "--json"], cwd=ROOT,
                          env={**os.environ, "STORE_EDGE_TEST_PG_DSN": dsn}, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in KEYS:
        assert isinstance(figures.get(key), int | float) and figures[key] > 0, (key, figures.get(key))
    assert figures["events_per_s_1w"] > 0 and figures["events_per_s_4w"] > 0
    assert figures["pull_stores_measured"] >= 1
    assert "events/s" in proc.stdout and "raw COPY" in proc.stdout
