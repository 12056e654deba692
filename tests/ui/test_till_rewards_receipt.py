"""Rewards claimed during a sale are on its receipt and in the figures beside it, and a reward's coupon shows
its code in the basket: points a member spends on rewards never vanish without a trace."""

from __future__ import annotations

import pytest

from edge.demo.seed import demo_card, demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import ConfirmScreen, PayScreen, ReceiptScreen, RewardScreen
from edge.ui.widgets.basket_table import BasketTable
from tests.support.till import flat, screen_text, settle, till_app, type_in, until

BRAM, MILK = demo_card(1), demo_gtin(1)


async def _claim(app, pilot, *keys: str) -> None:
    await pilot.press("ctrl+r")
    await until(pilot, lambda: isinstance(app.screen, RewardScreen))
    await pilot.pause()
    await pilot.press(*keys, "enter")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("y")
    await until(pilot, lambda: len(app.screen_stack) == 1)
    await settle(app, pilot)


@pytest.mark.parametrize(("size", "claim_first"), [((100, 40), False), ((80, 24), True)], ids=["wide", "80x24"])
async def test_rewards_claimed_during_a_sale_are_on_its_receipt(
    demo_settings: Settings, size: tuple[int, int], claim_first: bool
) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        if not claim_first:
            await type_in(app, pilot, MILK)
        await _claim(app, pilot, "down")  # EUR 5 off, 800 points: a coupon on this sale
        await _claim(app, pilot)  # Free coffee, 500 points: hand over the coffee
        if claim_first:
            await type_in(app, pilot, MILK)
        table = app.query_one(BasketTable)
        labels = [str(table.get_row(key)[1]) for key in table.rows]
        assert any(label.startswith("Coupon RW-") for label in labels), labels
        assert "RW-" in flat(screen_text(app))  # on the screen the cashier sees (wrapped on a narrow till)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, PayScreen))
        await type_in(app, pilot, "")
        await until(pilot, lambda: isinstance(app.screen, ReceiptScreen))
        await pilot.pause()
        receipt = app.screen.receipt
        assert "Reward: EUR 5 off" in receipt and "Reward: Free coffee" in receipt, receipt
        assert "-800 pts" in receipt and "-500 pts" in receipt, receipt
        figures = flat(str(app.screen.query_one("#figures").render()))
        assert "1,300 used" in figures, figures
