"""Scanners inside the running till: keyboard wedge, a serial scanner through a pty, scale labels and
signed loyalty app codes - all against the real app, a real SQLite file and real pty devices."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.barcode.loyalty_token import issue_token
from edge.core.catalog import with_check_digit
from edge.demo.seed import demo_gtin
from edge.settings import Settings
from edge.ui.app import TillApp, make_app
from edge.ui.screens.devices import DevicesScreen
from edge.ui.screens.dialogs import ConfirmScreen, PromptScreen
from tests.support.demo import FIXED_NOW, store_token_key
from tests.support.pty_scanner import FakeUsbScanner
from tests.support.till import message, settle, until

MILK = demo_gtin(1)


def _with(settings: Settings, **till: object) -> Settings:
    # a generous burst window so a loaded CI machine still delivers Pilot's key presses as one burst
    till = {"wedge_max_key_interval_ms": 400.0, **till}
    return settings.replace(till=dataclasses.replace(settings.till, **till))


def _lines(app: TillApp) -> list[str]:
    assert app.snapshot is not None
    return [p.line.product.name for p in app.snapshot.settlement.pricing.lines]


async def test_fast_burst_is_a_scan_and_never_lands_in_the_input(demo_settings: Settings) -> None:
    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press(*MILK, "enter")
        await pilot.pause(0.3)
        await settle(app, pilot)
        assert _lines(app) == ["Whole Milk 1L"]
        assert app.query_one("#scan").value == ""


async def test_slow_typing_is_typing(demo_settings: Settings) -> None:
    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for ch in "5901":
            await pilot.press(ch)
            await pilot.pause(1.0)  # slower than any scanner (and than the 400 ms test window)
        await pilot.pause(0.3)
        assert app.query_one("#scan").value == "5901"
        assert _lines(app) == []


async def test_scan_during_a_dialog_never_fills_the_quantity_field(demo_settings: Settings) -> None:
    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.query_one("#scan").value = MILK
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*demo_gtin(2), "enter")  # the scanner fires while the quantity dialog is open
        await pilot.pause(0.3)
        await settle(app, pilot)
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one("#answer").value == ""
        assert "Scan ignored" in message(app)
        assert _lines(app) == ["Whole Milk 1L"]


async def test_devices_screen_shows_scans_decoded_without_selling(demo_settings: Settings) -> None:
    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
        await pilot.press(*"5901234123458", "enter")  # wrong check digit
        for _ in range(20):
            await pilot.pause(0.05)
            if app.screen.results:
                break
        result = app.screen.results[-1]
        assert result.kind == "product" and result.gtin_valid is False
        assert "should be 7" in (result.error or "")
        await pilot.press("escape")
        await settle(app, pilot)
        assert _lines(app) == []


async def test_scale_label_adds_the_weighed_price(demo_settings: Settings) -> None:
    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    label = with_check_digit("280010100254")  # Old Gouda, item 00101, 0.254 kg at 18.90/kg
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.query_one("#scan").value = label
        await pilot.press("enter")
        await settle(app, pilot)
        assert _lines(app) == ["Old Gouda (per kg) 0.254 kg"]
        assert app.snapshot is not None
        assert app.snapshot.settlement.pricing.lines[0].line.gross_cents == 480  # 18.90 * 0.254 = 4.8006


async def test_serial_scanner_through_a_pty_with_unplug_and_replug(demo_settings: Settings, tmp_path: Path) -> None:
    scanner = FakeUsbScanner(tmp_path / "usb-Datalogic_QD2430-if00")
    settings = demo_settings.replace(
        scanner=dataclasses.replace(demo_settings.scanner, serial_port=str(scanner.link), debounce_ms=0)
    )
    app = make_app(settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:

        async def until(cond, timeout: float = 3.0) -> float:
            start = time.monotonic()
            while not cond():
                assert time.monotonic() - start < timeout, "not reached in time"
                await pilot.pause(0.05)
                await settle(app, pilot, rounds=1)
            return time.monotonic() - start

        serial = app.scanners[-1]
        await until(lambda: serial.status.state == "connected")
        scanner.send(f"]E0{MILK}\r".encode())
        await until(lambda: app.snapshot is not None and _lines(app) == ["Whole Milk 1L"])
        scanner.unplug()
        await until(lambda: "disconnected" in str(app.query_one("#status").render()))
        scanner.plug()  # a new /dev/pts number behind the same by-id link
        reconnect = await until(lambda: serial.status.state == "connected", timeout=2.5)
        assert reconnect < 2.0
        await until(lambda: "Scanner connected again" in message(app))  # the trouble is no longer said
        scanner.send(f"{demo_gtin(31)}\r".encode())
        await until(lambda: len(_lines(app)) == 2)
        scanner.send(b"\x00\xff garbage \x1b[\r")  # line noise: a clear message, nothing added, no crash
        await until(lambda: "Not a barcode this till knows" in message(app))
        assert len(_lines(app)) == 2
    if scanner.master >= 0:
        scanner.unplug()
    await asyncio.sleep(0)


async def test_loyalty_app_codes_genuine_expired_forged_and_copied(demo_settings: Settings) -> None:
    key = Ed25519PrivateKey.generate()
    store_token_key(demo_settings, key)
    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    now = FIXED_NOW.timestamp()

    async def scan(text: str) -> None:
        app.query_one("#scan").value = text
        await pilot.press("enter")
        await settle(app, pilot)

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await scan(issue_token(key, "C1002", now - 3600, ttl_s=60))
        assert "expired" in message(app)
        await scan(issue_token(Ed25519PrivateKey.generate(), "C1002", now, ttl_s=60))
        assert "not genuine" in message(app)
        assert app.snapshot is not None and app.snapshot.customer is None
        genuine = issue_token(key, "C1002", now, ttl_s=60)
        await scan(genuine)
        assert app.snapshot.customer is not None and app.snapshot.customer.id == "C1002"
        assert "WARNING" not in message(app)
        # the same code then shows up at another till of the store (its sighting arrives through sync)
        db = sqlite3.connect(demo_settings.database_path)
        db.execute("UPDATE token_sightings SET till_id = 'till-2'")
        db.commit()
        db.close()
        await pilot.press("f10")
        await settle(app, pilot)
        await scan(genuine)
        assert "WARNING" in message(app) and "copy" in message(app)
    outbox = sqlite3.connect(demo_settings.database_path).execute(
        "SELECT count(*) FROM outbox WHERE type = 'loyalty.token_seen'"
    ).fetchone()[0]
    assert outbox == 2


async def test_crlf_wedge_scan_in_the_pay_dialog_never_pays(demo_settings: Settings) -> None:
    # A scanner set to CRLF (or sending Enter twice): CR ends the scan; the second end key must not reach
    # the Pay dialog, where Enter on an empty field pays the exact amount in cash.
    from textual.widgets import Input

    from edge.ui.screens.dialogs import PayScreen

    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.query_one("#scan", Input).value = MILK
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, PayScreen)
        for second_end_key in ("ctrl+j", "enter"):  # LF as a terminal delivers it, or a second CR
            await pilot.press(*demo_gtin(2), "enter", second_end_key)
            await pilot.pause(0.3)
            await settle(app, pilot)
            assert isinstance(app.screen, PayScreen), f"the scan's {second_end_key} reached the dialog"
            assert "Scan ignored" in message(app)
            assert app.screen.query_one("#tendered", Input).value == ""
        await pilot.press("escape")
        await settle(app, pilot)
        assert _lines(app) == ["Whole Milk 1L"]
    sales = sqlite3.connect(demo_settings.database_path).execute("SELECT count(*) FROM sales").fetchone()[0]
    assert sales == 0


async def test_a_fast_typed_number_in_a_number_dialog_is_typing(demo_settings: Settings) -> None:
    # POS keyboards with macro keys (and quick cashiers) send a number and Enter as one burst: the quantity
    # and cash fields take it as typed text; only a barcode-length burst is a scan there (ignored).
    from textual.widgets import Input

    from edge.ui.screens.dialogs import PayScreen

    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.query_one("#scan", Input).value = MILK
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"1000", "enter")
        await pilot.pause(0.6)
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one("#answer", Input).value == "1000"
        assert "type a quantity from 1 to 999" in str(app.screen.query_one("#problem").render())
        assert "Scan ignored" not in message(app)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, PayScreen)
        await pilot.press(*"50.00", "enter")
        await pilot.pause(0.6)
        await settle(app, pilot)
        assert "Scan ignored" not in message(app)
    row = sqlite3.connect(demo_settings.database_path).execute("SELECT payment_method, tendered_cents FROM sales")
    assert row.fetchall() == [("cash", 5000)]


BURST = [demo_gtin(1), demo_gtin(2), demo_gtin(121), demo_gtin(3), demo_gtin(121)]


def _burst_keys() -> list[str]:
    return [k for code in BURST for k in (*code, "enter")]


async def _a_busy_till_takes_a_queued_burst(settings: Settings, hand_over: Callable[[TillApp, Any], object]) -> None:
    """The first four keys of a burst of scans are fed and held; ``hand_over(app, key)`` passes on the rest
    while the loop is busy, and the wedge's pause timer fires before they are taken: every scan must still
    be added whole (none left as typing)."""
    from textual import events

    app = make_app(_with(settings, wedge_max_key_interval_ms=35.0), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.wedge is not None and app._driver is not None
        keys = [events.Key(k, "\r" if k == "enter" else k) for k in _burst_keys()]  # stamped now, together
        for key in keys[:4]:
            app.post_message(key)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert app.wedge.source.detector.holding  # "0871" fed and held, the rest of the burst not yet
        for key in keys[4:]:
            hand_over(app, key)
        time.sleep(0.1)  # the loop is busy (as with a scan being handled) while the keys wait
        assert app._keys_waiting()
        await app.wedge.poll()  # the pause timer fires before the queued keys are taken
        for _ in range(4):
            await pilot.pause(0.2)
            await settle(app, pilot)
        assert app.query_one("#scan").value == ""
        assert "not a product" not in message(app)
        assert app.snapshot is not None
        assert sum(p.line.qty for p in app.snapshot.settlement.pricing.lines) == len(BURST)
        assert not app._keys_waiting()


async def test_scans_queued_behind_a_busy_till_are_each_added_whole(demo_settings: Settings) -> None:
    # A terminal read delivers a burst of scans at once, each key stamped as it arrived; while the till is
    # busy they wait in its queue. The pause that builds up there is the till's, not the scanner's: the
    # wedge's pause timer must not end a burst while its keys are still queued, or "0871" is left as typing.
    await _a_busy_till_takes_a_queued_burst(demo_settings, lambda app, key: app.post_message(key))


async def test_a_burst_of_scans_pressed_while_scans_are_handled_is_added_whole(demo_settings: Settings) -> None:
    app = make_app(_with(demo_settings), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press(*_burst_keys())  # no pauses; each scan's worker runs while the next keys arrive
        for _ in range(4):
            await pilot.pause(0.3)
            await settle(app, pilot)
        assert app.query_one("#scan").value == ""
        assert app.snapshot is not None
        assert sum(p.line.qty for p in app.snapshot.settlement.pricing.lines) == len(BURST)
        app.query_one("#scan").value = "0871"  # a leftover half-typed: a new sale starts with an empty line
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        # a single key is held for the burst window before it counts as typing; a loaded machine takes longer
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await settle(app, pilot)
        await until(pilot, lambda: app.snapshot is not None and _lines(app) == [])
        assert _lines(app) == []
        assert app.query_one("#scan").value == ""


async def test_keys_still_in_the_terminal_drivers_queue_count_as_waiting(demo_settings: Settings) -> None:
    # The terminal's input thread hands each key to the loop as a scheduled call (the driver's queue); a busy
    # loop runs the wedge's pause timer before those calls. Keys there are on their way: the burst goes on.
    def from_the_input_thread(app: TillApp, key: Any) -> None:
        key.set_sender(app)
        app._driver.send_message(key)  # as the input thread does: scheduled on the loop, not yet posted

    await _a_busy_till_takes_a_queued_burst(demo_settings, from_the_input_thread)
