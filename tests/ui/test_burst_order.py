"""Keys in one terminal read act in the order they were pressed: a scan is applied before the function key
after it, and a dialog opened by a key never receives the keys pressed before it (real till, Pilot)."""

from __future__ import annotations

from textual.widgets import Input

from edge.demo.seed import demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import PayScreen, PromptScreen, SearchScreen
from tests.support.till import lines, message, settle, terminal_read, till_app, until

MILK, BREAD = demo_gtin(1), demo_gtin(2)


async def _sale_with_milk(app, pilot) -> None:
    await settle(app, pilot)
    terminal_read(app, *MILK, "enter")
    await until(pilot, lambda: app.snapshot is not None and len(lines(app)) == 1)


async def test_a_scan_then_f9_in_one_read_pays_the_new_total(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=400.0)  # a loaded machine still sends one burst
    async with app.run_test(size=(80, 24)) as pilot:
        await _sale_with_milk(app, pilot)
        terminal_read(app, *BREAD, "enter", "f9")
        await until(pilot, lambda: isinstance(app.screen, PayScreen))
        await settle(app, pilot)
        assert len(lines(app)) == 2, lines(app)
        assert app.snapshot is not None
        assert app.screen.amount_due_cents == app.snapshot.settlement.amount_due_cents
        assert "Scan ignored" not in message(app)


async def test_a_scan_then_f3_and_a_name_in_one_read_searches_the_name_only(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=400.0)  # a loaded machine still sends one burst
    async with app.run_test(size=(80, 24)) as pilot:
        await _sale_with_milk(app, pilot)
        terminal_read(app, *BREAD, "enter", "f3", *"sourdough")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen) and app.screen.query_one(Input).value)
        await pilot.pause(0.5)  # longer than the burst window: nothing more comes
        await settle(app, pilot)
        assert app.screen.query_one(Input).value == "sourdough"
        assert len(lines(app)) == 2, lines(app)


async def test_a_whole_sale_in_one_read_acts_key_by_key(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=400.0)  # a loaded machine still sends one burst
    async with app.run_test(size=(80, 24)) as pilot:
        await _sale_with_milk(app, pilot)
        terminal_read(app, *BREAD, "enter", "f3", *"sourdough")
        # the search answers from a worker: Down sent in the same read as the words races it (a known gap: Enter
        # waits for the answer, Down does not), so the rest of the sale is the next read, after the list shows
        await until(pilot, lambda: isinstance(app.screen, SearchScreen)
                    and app.screen.query_one("#results").option_count > 0)
        terminal_read(app, "down", "enter", "f7", *"SAVE3-ALPHA", "enter")
        await until(pilot, lambda: len(lines(app)) == 3 and app.screen is app.screen_stack[0], limit_s=20)
        await settle(app, pilot)
        assert [name for name, _ in lines(app)][-1] == "Sourdough Loaf", lines(app)
        assert "SAVE3-ALPHA" in message(app), message(app)


async def test_fast_digits_in_a_number_dialog_stay_typing(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=400.0)  # a loaded machine still sends one burst
    async with app.run_test(size=(80, 24)) as pilot:
        await _sale_with_milk(app, pilot)
        terminal_read(app, "f4")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        terminal_read(app, "ctrl+u", *"999999999999", "enter")
        await pilot.pause(0.6)
        await settle(app, pilot)
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one("#answer", Input).value == "999999999999"
        assert "Scan ignored" not in message(app)


async def test_repeat_reads_of_one_trigger_pull_are_said(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=400.0)  # a loaded machine still sends one burst
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        terminal_read(app, *MILK, "enter", *MILK, "enter", *MILK, "enter")
        await until(pilot, lambda: "repeat" in message(app))
        await settle(app, pilot)
        assert lines(app) == [("Whole Milk 1L", 1)]
        assert "(2 repeat reads within 30 ms ignored)" in message(app), message(app)
