"""Cold start of the till to its first screen, and its resident memory there (goals: < 1.0 s, < 120 MB).

Each start is a fresh interpreter (a cold start as on the device), measured by the parent from spawn to the
child's "first screen" line. Baseline in the same run: a bare Textual app with one Static, started the same way.
The till starts as the English demo store and as the Spanish one (``es_ES``: its catalog, Babel's locale data
and the currency table are loaded before the first screen), so what a language costs at start is measured too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import emit_json, print_table  # noqa: E402

CHILD_TILL = r"""
import sys
from pathlib import Path
from edge.settings import load_settings
from edge.ui.app import make_app

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

settings = load_settings(environ={}).replace(data_dir=Path(sys.argv[1]))
if sys.argv[2] != "en":
    from edge.demo.runner import demo_locale_settings
    settings = demo_locale_settings(settings, sys.argv[2]).replace(data_dir=Path(sys.argv[1]))
app = make_app(settings)

async def first_screen(pilot):
    # the first screen is up once the session's first snapshot is on it; the decoder warm-up that
    # starts behind it is not part of the start-up a cashier waits for
    await pilot.pause()
    await app.workers.wait_for_complete([w for w in app.workers if w.group == "session"])
    await pilot.pause()
    assert app.snapshot is not None
    print(f"READY {rss_mb():.1f}", flush=True)
    app.exit()

app.run(headless=True, size=(80, 24), auto_pilot=first_screen)
"""

CHILD_BARE = r"""
from textual.app import App
from textual.widgets import Static

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

class Bare(App):
    def compose(self):
        yield Static("hello")

app = Bare()

async def first_screen(pilot):
    await pilot.pause()
    print(f"READY {rss_mb():.1f}", flush=True)
    app.exit()

app.run(headless=True, size=(80, 24), auto_pilot=first_screen)
"""


def start_once(code: str, *args: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "TERM": "xterm-256color"})  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY"):
            elapsed = time.perf_counter() - t0
            rss = float(line.split()[1])
            proc.wait(timeout=30)
            return elapsed, rss
    proc.wait()
    raise RuntimeError(f"the child exited ({proc.returncode}) before its first screen")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from edge.db import open_database
    from edge.demo.seed import seed_demo

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "store.db")
        seed_demo(db)
        db.close()
        start_once(CHILD_TILL, tmp, "en")  # warm the OS page cache once, as a device that has booted has
        till, spanish, bare = [], [], []
        for _ in range(args.runs):  # interleaved: a busy moment of the machine hits all three alike
            till.append(start_once(CHILD_TILL, tmp, "en"))
            spanish.append(start_once(CHILD_TILL, tmp, "es"))
            bare.append(start_once(CHILD_BARE))
    cold = sorted(t for t, _ in till)[len(till) // 2]
    bare_cold = sorted(t for t, _ in bare)[len(bare) // 2]
    es_cold = sorted(t for t, _ in spanish)[len(spanish) // 2]
    rss = max(r for _, r in till)
    bare_rss = max(r for _, r in bare)
    print(f"till cold start to first screen, median of {args.runs} fresh interpreters")
    print_table([
        ("till cold start (s)", f"{cold:.3f}", "goal < 1.0"),
        ("till cold start, es_ES store (s)", f"{es_cold:.3f}", "goal < 1.0"),
        ("bare Textual app (s)", f"{bare_cold:.3f}", "baseline"),
        ("ratio till/bare", f"{cold / bare_cold:.2f}", ""),
        ("till RSS (MB)", f"{rss:.1f}", "goal < 120"),
        ("bare Textual RSS (MB)", f"{bare_rss:.1f}", "baseline"),
    ])  # fmt: skip
    if args.json:
        emit_json({"cold_start_s": round(cold, 4), "cold_start_es_s": round(es_cold, 4), "rss_mb": round(rss, 1),
                   "bare_cold_start_s": round(bare_cold, 4),
                   "bare_rss_mb": round(bare_rss, 1)})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
