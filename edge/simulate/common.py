"""Small helpers the simulation's processes share: state files, the parent-death signal, a day's schedule."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from edge.settings import HubSettings

STORE_1, STORE_2 = "store-1", "store-2"
TILL_1, TILL_2, FLOOR_1 = "till-1", "till-2", "floor-1"
DOUBLE_SPEND_CUSTOMER = "C1001"  # kept out of random sales so its balance is known when both stores spend it
SIM_UUID = "5e1e5e1e-0000-4000-8000-00000000a11e"  # the iBeacon UUID of the simulated customers' tags
PR_SET_PDEATHSIG = 1
# short timeouts and a low back-off cap: the day is compressed, so is the patience
SIM_HUB = HubSettings(timeout_s=3.0, sync_interval_s=0.3, batch_max_events=200, backoff_cap_s=1.5)


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the orchestrator dies, so nothing outlives a failed run."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the orchestrator's finally block still kills its process groups
        pass


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Atomic replace: a kill -9 leaves the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path, default: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return dict(default or {})
    return doc if isinstance(doc, dict) else dict(default or {})


def wait_until(due_wall: float, deadline_wall: float) -> None:
    """Pace the day: sleep until ``due_wall`` but never past the worker's deadline."""
    delay = min(due_wall, deadline_wall) - time.time()
    if delay > 0:
        time.sleep(min(delay, 1.0))
