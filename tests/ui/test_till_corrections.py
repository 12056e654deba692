"""Corrections and limits in the till's number dialogs, as a cashier types them: editing keys (Backspace,
Ctrl+U) typed in one fast burst with the new figure are applied in the order they were pressed, and a figure
the hub's contract would refuse is refused in the dialog with a sentence, the dialog kept open."""

from __future__ import annotations

import sqlite3

import pytest

from edge.demo.seed import demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import PayScreen, PromptScreen
from tests.support.till import SCANNER_WINDOW_MS, lines, settle, terminal_read, till_app, type_in, until

MILK = demo_gtin(1)


def _last_tendered(settings: Settings) -> int | None:
    db = sqlite3.connect(settings.database_path)
    try:
        row = db.execute("SELECT tendered_cents FROM sales ORDER BY rowid DESC LIMIT 1").fetchone()
    finally:
        db.close()
    return None if row is None else row[0]


async def _keys(pilot, first: str, burst: tuple[str, ...]) -> None:
    """``first`` typed a key at a time with a pause after it, then ``burst`` as one fast burst."""
    for key in first:
        await pilot.press(key)
    await pilot.pause(0.6)
    terminal_read(pilot.app, *burst)
    await pilot.pause()


@pytest.mark.parametrize(
    ("first", "burst", "cents"),
    [("1", ("backspace", "2", "0", "enter"), 2000), ("30", ("backspace", "backspace", "2", "0", "enter"), 2000),
     ("30", ("ctrl+u", "2", "5", "enter"), 2500)],
    ids=["backspace", "two-backspaces", "ctrl+u"],
)
async def test_a_correction_typed_fast_in_the_pay_dialog_is_applied_in_order(
    demo_settings: Settings, first: str, burst: tuple[str, ...], cents: int
) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, PayScreen))
        await _keys(pilot, first, burst)
        await until(pilot, lambda: _last_tendered(demo_settings) is not None)
        assert _last_tendered(demo_settings) == cents


@pytest.mark.parametrize(
    ("burst", "qty"),
    [(("backspace", "4", "enter"), 4), (("ctrl+u", "4", "enter"), 4), (("left", "3", "enter"), 37)],
    ids=["backspace", "ctrl+u", "left"],
)
async def test_a_correction_typed_fast_in_the_quantity_dialog_is_applied_in_order(
    demo_settings: Settings, burst: tuple[str, ...], qty: int
) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await _keys(pilot, "7", burst)
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await settle(app, pilot)
        assert lines(app)[0][1] == qty


async def test_cash_over_what_a_sale_can_record_keeps_the_pay_dialog_open(demo_settings: Settings) -> None:
    # 999,999,999,999 euros would reach the receipt and then dead-letter at the hub (tendered_cents is out of
    # the contract's range): the dialog says the limit and stays open; a real figure then pays
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, PayScreen))
        await type_in(app, pilot, "999999999999")
        assert isinstance(app.screen, PayScreen), "the pay dialog took a figure the hub would refuse"
        problem = str(app.screen.query_one("#problem").render())
        assert "more than a sale can record: type at most €1,000,000,000.00" in problem
        assert _last_tendered(demo_settings) is None
        await type_in(app, pilot, "20")
        await until(pilot, lambda: _last_tendered(demo_settings) is not None)
        assert _last_tendered(demo_settings) == 2000


@pytest.mark.parametrize("text", ["1000", "²", "0"])
async def test_a_quantity_outside_the_contracts_range_keeps_the_dialog_open(demo_settings: Settings, text: str) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await type_in(app, pilot, text)
        assert isinstance(app.screen, PromptScreen)
        assert "type a quantity from 1 to 999" in str(app.screen.query_one("#problem").render())
        assert app.ui_errors == 0


async def test_down_from_the_find_field_moves_into_the_list(demo_settings: Settings) -> None:
    from edge.ui.screens.dialogs import SearchScreen

    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        for key in "sourdough":
            await pilot.press(key)
        await until(pilot, lambda: len(search.products) >= 2)
        second = search.products[1]
        await pilot.press("down", "down", "enter")  # into the list, on to the second result, pick it
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await settle(app, pilot)
        assert lines(app) == [(second.name, 1)]
