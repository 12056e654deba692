"""Dialogs that ask for something take it however it is typed (slowly, or in one fast burst with its Enter),
and a figure out of range keeps the dialog open with the limit said in words - the same in every dialog."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from edge.demo.seed import demo_card, demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import PromptScreen, SearchScreen
from tests.support.till import SCANNER_WINDOW_MS, lines, message, settle, till_app, type_in, until

BRAM, MILK, CHOCOLATE = demo_card(1), demo_gtin(1), demo_gtin(121)


def _problem(app) -> str:
    return str(app.screen.query_one("#problem").render())


@pytest.mark.parametrize("burst", [False, True], ids=["typed", "burst"])
async def test_points_over_the_limit_keep_the_dialog_open_and_say_the_limit(
    demo_settings: Settings, burst: bool
) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for text in (BRAM, MILK):
            await type_in(app, pilot, text)
        limit = app.snapshot.redemption.max_points
        assert 0 < limit < 99999
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        if burst:
            await pilot.press(*"99999", "enter")
            await pilot.pause(0.6)
        else:
            await type_in(app, pilot, "99999")
        assert isinstance(app.screen, PromptScreen), "the points dialog closed on a refused figure"
        assert f"at most {limit} points can be redeemed now" in _problem(app)
        assert f"type up to {limit}, or 0 to remove" in _problem(app)
        await type_in(app, pilot, str(limit))
        assert len(app.screen_stack) == 1
        assert app.snapshot.settlement.points_redeemed == limit


async def test_quantity_over_the_limit_keeps_the_dialog_open_and_says_the_limit(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await type_in(app, pilot, "1000")
        assert isinstance(app.screen, PromptScreen)
        assert "type a quantity from 1 to 999" in _problem(app)


@pytest.mark.parametrize("burst", [False, True], ids=["typed", "burst"])
async def test_find_takes_a_name_typed_in_one_burst_with_its_enter(demo_settings: Settings, burst: bool) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        if burst:
            await pilot.press(*"sourdough", "enter")  # one burst: the wedge sees a "scan"
        else:
            for key in "sourdough":
                await pilot.press(key)
            await pilot.pause(0.6)
            await pilot.press("enter")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await settle(app, pilot)
        assert "Scan ignored" not in message(app)
        assert lines(app) == [("Sourdough Loaf", 1)]


async def test_find_says_when_nothing_matches_and_stays_open(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        app.screen.query_one("#query", Input).value = "zzzz"
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: "Nothing found" in str(app.screen.query_one("#hint").render()))
        assert isinstance(app.screen, SearchScreen)
        assert "Nothing found for 'zzzz'" in str(app.screen.query_one("#hint").render())
