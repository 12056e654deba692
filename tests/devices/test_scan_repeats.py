"""Identical-scan suppression: only the repeats of one trigger pull (tens of ms), never extended, counted."""

from __future__ import annotations

from devices.scanners.base import ScanEvent
from devices.scanners.framing import DEBOUNCE_MS, ScanFramer
from devices.scanners.wedge import KeyboardWedgeSource
from edge.settings import ScannerSettings


def _wedge_scans(at: list[float], debounce_ms: float = DEBOUNCE_MS) -> tuple[list[ScanEvent], int]:
    source = KeyboardWedgeSource(ScannerSettings(debounce_ms=debounce_ms))
    got: list[ScanEvent] = []
    source.on_scan(got.append)
    for start in at:
        for i, key in enumerate([*"96385074", "enter"]):
            source.handle_key(key, start + i * 0.0005)
    return got, source.suppressed


def test_identical_scans_50_ms_apart_all_count() -> None:
    got, suppressed = _wedge_scans([i * 0.05 for i in range(5)])
    assert len(got) == 5 and suppressed == 0


def test_a_double_read_within_one_trigger_pull_is_suppressed_and_counted() -> None:
    got, suppressed = _wedge_scans([0.0, 0.01])
    assert len(got) == 1 and suppressed == 1


def test_the_window_never_extends_itself() -> None:
    # reads every 20 ms: each is within 30 ms of the previous READ, but only every other one within 30 ms
    # of the last DELIVERED scan; a self-extending window would deliver just the first
    got, suppressed = _wedge_scans([0.0, 0.02, 0.04, 0.06, 0.08])
    assert len(got) == 3 and suppressed == 2


def test_the_window_is_configurable() -> None:
    got, _ = _wedge_scans([0.0, 0.1], debounce_ms=0)
    assert len(got) == 2
    got, _ = _wedge_scans([0.0, 0.1], debounce_ms=150)
    assert len(got) == 1


def test_the_serial_framer_counts_and_never_extends() -> None:
    framer = ScanFramer("CR")
    delivered = [len(framer.feed(b"5901234123457\r", now=t)) for t in (0.0, 0.02, 0.04, 0.06)]
    assert delivered == [1, 0, 1, 0] and framer.debounced == 2
