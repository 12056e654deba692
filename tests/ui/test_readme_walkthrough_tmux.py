"""The README walk-through in a real terminal (tmux 80x24), keys as bursts: see tmux_walkthrough.sh."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("tmux_walkthrough.sh")


def test_readme_walkthrough_typed_as_bursts_in_tmux_shows_the_change_and_exits_cleanly() -> None:
    assert shutil.which("tmux"), "tmux is missing: install deploy/system-packages.txt (make test does)"
    store_edge = Path(sys.executable).with_name("store-edge")
    assert store_edge.exists(), f"{store_edge} is missing: pip install -e . first"
    done = subprocess.run([str(SCRIPT), str(store_edge)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "walk-through OK" in done.stdout
    for journey in ("void undone", "reward claimed", "member found at the hub"):
        assert journey in done.stdout, done.stdout
