"""The till follows the terminal's size while a dialog is open: the receipt lays itself out again (narrow or
wide), and a dialog opened at any size sits in the middle of the screen."""

from __future__ import annotations

import pytest

from edge.demo.seed import demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import PayScreen, ReceiptScreen
from tests.support.till import flat, screen_text, settle, till_app, type_in, until

MILK = demo_gtin(1)


async def _receipt(app, pilot) -> None:
    await type_in(app, pilot, MILK)
    await pilot.press("f9")
    await until(pilot, lambda: isinstance(app.screen, PayScreen))
    await type_in(app, pilot, "")
    await until(pilot, lambda: isinstance(app.screen, ReceiptScreen))
    await pilot.pause()


async def test_the_receipt_lays_itself_out_again_when_the_terminal_shrinks(demo_settings: Settings) -> None:
    app = till_app(demo_settings, ask_feedback=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await _receipt(app, pilot)
        assert not app.screen.has_class("narrow")
        await pilot.resize_terminal(60, 20)
        await pilot.pause(0.2)
        assert app.screen.has_class("narrow")
        shown = flat(screen_text(app))
        assert "0 to 10, Enter. Esc skips." in shown, shown
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.2)
        assert not app.screen.has_class("narrow")


@pytest.mark.parametrize("start", [(80, 24), (120, 40)], ids=["resized", "started"])
async def test_a_dialog_sits_in_the_middle_of_a_large_screen(demo_settings: Settings, start: tuple[int, int]) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=start) as pilot:
        await settle(app, pilot)
        if start != (120, 40):
            await pilot.resize_terminal(120, 40)
            await pilot.pause(0.2)
        await type_in(app, pilot, MILK)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, PayScreen))
        await pilot.pause(0.2)
        box = app.screen.query_one("#dialog").region
        assert abs((box.x + box.width / 2) - 60) <= 2, box
        assert abs((box.y + box.height / 2) - 20) <= 2, box
