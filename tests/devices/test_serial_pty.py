"""Serial scanner end to end through a pty pair, including unplug/re-plug with a renumbered device node."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.barcode import decode_scan
from devices.scanners import ScannerStatus, make_scanner_source
from devices.scanners.base import ScanEvent
from devices.scanners.framing import ScanFramer
from devices.scanners.serial_source import SerialScannerSource
from edge.settings import ScannerSettings
from tests.support.pty_scanner import FakeUsbScanner


@pytest.fixture
async def rig(
    tmp_path: Path,
) -> AsyncIterator[tuple[FakeUsbScanner, SerialScannerSource, list[ScannerStatus]]]:
    scanner = FakeUsbScanner(tmp_path / "usb-Honeywell_1900-if00")
    settings = ScannerSettings(serial_port=str(scanner.link), terminator="CR", debounce_ms=0)
    source = make_scanner_source(settings)
    assert isinstance(source, SerialScannerSource)
    statuses: list[ScannerStatus] = []
    source.on_status(statuses.append)
    await source.start()
    await wait_for(lambda: source.status.state == "connected")
    yield scanner, source, statuses
    await source.stop()
    if scanner.master >= 0:
        scanner.unplug()


async def wait_for(cond: object, timeout: float = 3.0) -> float:
    start = time.monotonic()
    while not cond():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def next_scan(source: SerialScannerSource, send: object) -> ScanEvent:
    stream = source.scans()
    task = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)  # subscribe before the bytes go out
    send()  # type: ignore[operator]
    try:
        return await asyncio.wait_for(task, 3.0)
    finally:
        await stream.aclose()


async def test_bytes_written_become_a_decoded_scan(rig: tuple) -> None:  # type: ignore[type-arg]
    scanner, source, _ = rig
    scan = await next_scan(source, lambda: scanner.send(b"]E05901234123457\r"))
    assert scan.aim_id == "]E0" and scan.text == "5901234123457"
    result = decode_scan(scan.text, symbology=scan.aim_id)
    assert (result.kind, result.gtin, result.symbology) == ("product", "05901234123457", "EAN-13")


async def test_gs1_scan_split_across_writes(rig: tuple) -> None:  # type: ignore[type-arg]
    scanner, source, _ = rig

    def send() -> None:
        scanner.send(b"]C1010950110102091717190508")
        scanner.send(b"10ABC123\x1d211234\r\n")

    scan = await next_scan(source, send)
    assert decode_scan(scan.text, symbology=scan.aim_id).serial == "1234"


async def test_unplug_and_replug_with_renumbered_node_reconnects_within_2s(rig: tuple) -> None:  # type: ignore[type-arg]
    scanner, source, statuses = rig
    old_path = scanner.path
    scanner.unplug()
    await wait_for(lambda: source.status.state == "disconnected")
    assert source.status.label == "scanner disconnected"
    # Take the freed /dev/pts number, so the scanner comes back renumbered.
    keep_old_number_busy = os.openpty()
    try:
        scanner.plug()
        assert scanner.path != old_path
        took = await wait_for(lambda: source.status.state == "connected", timeout=2.0)
        assert took < 2.0
        assert [s.label for s in statuses][-2:] == ["scanner disconnected", "scanner connected"]
        scan = await next_scan(source, lambda: scanner.send(b"96385074\r"))
        assert scan.text == "96385074"
        assert source.reconnects == 1
    finally:
        for fd in keep_old_number_busy:
            os.close(fd)


async def test_line_noise_does_not_stop_the_source(rig: tuple) -> None:  # type: ignore[type-arg]
    scanner, source, _ = rig
    noise = random.Random(5).randbytes(3000).replace(b"\r", b"").replace(b"\n", b"")
    got: list[ScanEvent] = []
    source.on_scan(got.append)
    scanner.send(noise + b"\r5901234123457\r")
    await wait_for(lambda: len(got) >= 2)
    assert decode_scan(got[0].text).kind == "unknown"
    assert got[1].text == "5901234123457"
    assert source.status.state == "connected"


async def test_missing_port_reports_disconnected(tmp_path: Path) -> None:
    source = SerialScannerSource(ScannerSettings(serial_port=str(tmp_path / "nothing-here")))
    await source.start()
    try:
        await wait_for(lambda: source.status.state == "disconnected")
        assert "nothing-here" in source.status.detail
    finally:
        await source.stop()
    assert source.status.state == "stopped"


# --- the framer on its own (pure) -------------------------------------------------------------------------
def test_framer_normalises_cr_lf_and_crlf() -> None:
    f = ScanFramer("CR", debounce_ms=0)
    scans = f.feed(b"111\r222\n333\r\n444\r", now=0.0)
    assert [s.text for s in scans] == ["111", "222", "333", "444"]


def test_framer_tab_terminator_and_prefix_and_aim() -> None:
    f = ScanFramer("TAB", prefix="@@", debounce_ms=0)
    (scan,) = f.feed(b"@@]C10109501101020917\r\n\t", now=0.0)
    assert (scan.text, scan.aim_id) == ("0109501101020917", "]C1")


def test_framer_maps_configured_gs_stand_in_and_drops_leading_fnc1() -> None:
    f = ScanFramer("CR", gs_separator="|", debounce_ms=0)
    (scan,) = f.feed(b"]d2\x1d0109501101020917|10ABC\r", now=0.0)
    assert scan.text == "0109501101020917\x1d10ABC"


def test_framer_debounces_identical_scans_inside_the_window() -> None:
    f = ScanFramer("CR", debounce_ms=400)
    assert len(f.feed(b"5901234123457\r", now=10.0)) == 1
    assert f.feed(b"5901234123457\r", now=10.2) == []  # double read
    assert len(f.feed(b"96385074\r", now=10.3)) == 1  # a different item is never debounced
    assert len(f.feed(b"5901234123457\r", now=11.0)) == 1  # the cashier scans the same item again
    assert f.debounced == 1


def test_framer_drops_an_overlong_frame_and_recovers() -> None:
    f = ScanFramer("CR", debounce_ms=0, max_frame_bytes=100)
    assert f.feed(b"x" * 500, now=0.0) == []
    assert f.feed(b"tail-of-garbage\r12345670\r", now=0.1)[0].text == "12345670"
    assert f.dropped_overlong == 1
