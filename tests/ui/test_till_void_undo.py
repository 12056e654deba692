"""F5 voids the highlighted line after a question; Ctrl+Z brings the last voided line of the sale back with its
quantity and price, and the offers are worked out again (#13 item 8). Textual Pilot on a seeded SQLite file."""

from __future__ import annotations

from edge.demo.seed import demo_card, demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import ConfirmScreen, PromptScreen
from edge.ui.widgets.basket_table import BasketTable
from tests.support.till import flat, lines, message, settle, still_fine, till_app, type_in

BRAM, MILK, SNACK = demo_card(1), demo_gtin(1), demo_gtin(121)


def _discounts(app) -> set[str]:
    return {d.offer_id for d in app.snapshot.settlement.pricing.discounts}


async def test_ctrl_z_brings_back_the_voided_line_with_its_quantity_price_and_offers(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for text in (BRAM, MILK, SNACK, SNACK, SNACK, "SAVE3-ALPHA"):
            await type_in(app, pilot, text)
        before = app.snapshot.settlement
        given = _discounts(app)
        assert {"OFF-COUPON3"} <= given and len(given) >= 3, given  # milk deal, snacks 3 for 2, the coupon
        snack_price = before.pricing.lines[1].line.product.price_cents
        assert app.query_one("#basket", BasketTable).selected_line() == 2  # the snacks, scanned last
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert lines(app) == [("Whole Milk 1L", 1)]
        assert "Ctrl+Z: undo the void" in flat(message(app))
        assert "OFF-COUPON3" not in _discounts(app)  # the basket fell under the coupon's €15.00
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        still_fine(app)
        after = app.snapshot.settlement
        assert [(p.line.line_no, p.line.product.name, p.line.qty) for p in after.pricing.lines] == [
            (p.line.line_no, p.line.product.name, p.line.qty) for p in before.pricing.lines]
        assert after.pricing.lines[1].line.product.price_cents == snack_price
        assert _discounts(app) == given  # offers worked out again, the coupon applies again
        assert after.amount_due_cents == before.amount_due_cents
        assert after.points_earned == before.points_earned
        assert "void undone: line 2" in flat(message(app))
        assert app.query_one("#basket", BasketTable).selected_line() == 2  # the highlight on the line back
        await pilot.press("ctrl+z")  # only one void to undo
        await settle(app, pilot)
        assert "Nothing to undo" in message(app) and len(lines(app)) == 2


async def test_undo_restores_voids_last_first_in_their_places_and_not_after_a_new_sale(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for text in (MILK, demo_gtin(2), SNACK):
            await type_in(app, pilot, text)
        await pilot.press("up", "up", "f5", "y")  # void line 1 ...
        await settle(app, pilot)
        await pilot.press("f5", "y")  # ... then line 3 (the highlight went to the end)
        await settle(app, pilot)
        assert [name for name, _ in lines(app)] == ["Whole Milk 1L Organic"]
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert [name for name, _ in lines(app)] == ["Whole Milk 1L Organic", "Salted Crisps 200g"]
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert [name for name, _ in lines(app)] == ["Whole Milk 1L", "Whole Milk 1L Organic", "Salted Crisps 200g"]
        await pilot.press("f5", "y")
        await settle(app, pilot)
        await pilot.press("f10", "y")  # a new sale: the void belongs to the sale that was discarded
        await settle(app, pilot)
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert lines(app) == [] and "Nothing to undo" in message(app)
        still_fine(app)


async def test_ctrl_z_behind_a_dialog_does_nothing_to_the_basket(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f5", "y")
        await settle(app, pilot)
        await pilot.press("f7", "ctrl+z")  # in one burst: the coupon dialog is up, the undo is not for it
        await settle(app, pilot)
        assert isinstance(app.screen, PromptScreen)
        assert lines(app) == []
        await pilot.press("escape", "ctrl+z")
        await settle(app, pilot)
        assert lines(app) == [("Whole Milk 1L", 1)]
        still_fine(app)
