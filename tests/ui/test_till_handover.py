"""From one customer to the next: keys and scans that arrive while a sale is being paid are kept for the next
sale (or refused in words), and the message line never speaks of an earlier state."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from edge.demo.seed import demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import ReceiptScreen
from tests.support.till import (
    SCANNER_WINDOW_MS,
    count,
    lines,
    message,
    sales,
    settle,
    still_fine,
    till_app,
    type_in,
    until,
)

MILK, CHOCOLATE = demo_gtin(1), demo_gtin(121)


def _feedback_rows(settings: Settings) -> int:
    return count(settings, "SELECT count(*) FROM outbox WHERE type LIKE '%feedback%'")


@pytest.mark.parametrize("wedge", [True, False], ids=["wedge", "scanner-as-keyboard"])
async def test_what_is_scanned_while_the_sale_is_written_starts_the_next_sale(
    demo_settings: Settings, wedge: bool
) -> None:
    app = till_app(demo_settings, wedge=wedge, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        with app.session.lock:  # the sale is being written (a slow disk): the till is busy meanwhile
            await pilot.press("f9", *"50", "enter")
            await pilot.pause(0.05)
            await pilot.press(*CHOCOLATE, "enter", "f4")  # the next customer's first item, and a key too early
            await pilot.pause(0.5)
            assert "F4 not taken: the sale is being completed" in message(app)
        await until(pilot, lambda: sales(demo_settings) == 1 and app.snapshot is not None and lines(app) != [])
        await settle(app, pilot)
        still_fine(app)
        assert lines(app) == [("Salted Crisps 200g", 1)]  # kept, in the next sale
        assert isinstance(app.screen, ReceiptScreen)  # and the receipt with the change is still shown
        assert app.screen.query_one("#score", Input).value == ""  # nothing of the code went into the score
    assert _feedback_rows(demo_settings) == 0


async def test_a_code_typed_into_the_receipts_score_is_the_next_item_not_a_score(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f9", "f12")
        await until(pilot, lambda: isinstance(app.screen, ReceiptScreen))
        await pilot.press(*CHOCOLATE, "enter")  # a scanner that types like a keyboard, into the score field
        await until(pilot, lambda: app.snapshot is not None and lines(app) != [])
        await settle(app, pilot)
        assert len(app.screen_stack) == 1
        assert lines(app) == [("Salted Crisps 200g", 1)]
    assert _feedback_rows(demo_settings) == 0


async def test_typing_held_while_a_sale_fails_waits_in_the_scan_line(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        app.session.basket.lines.clear()  # the basket emptied behind the till's back: the sale is refused
        with app.session.lock:
            await pilot.press("f9", "f12")
            await pilot.pause(0.05)
            await pilot.press(*CHOCOLATE, "enter")
        await until(pilot, lambda: "Sale not completed" in message(app) or "Typed while paying" in message(app))
        await settle(app, pilot)
        assert sales(demo_settings) == 0
        assert f"Typed while paying, not added: {CHOCOLATE}" in message(app)
        assert app.query_one("#scan", Input).value == CHOCOLATE


async def test_a_message_about_a_dialog_goes_when_the_dialog_closes(demo_settings: Settings) -> None:
    from edge.ui.screens.dialogs import PromptScreen

    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*CHOCOLATE, "enter")  # a barcode into the quantity dialog: refused, said so
        await until(pilot, lambda: "Scan ignored" in message(app))
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await settle(app, pilot)
        assert message(app) == app.READY


async def test_a_message_about_a_sale_goes_when_the_next_sale_starts(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f6")  # no customer on the sale: refused, said so
        await settle(app, pilot)
        assert "loyalty card before redeeming" in message(app)
        app.in_session(app.session.new_sale)  # the sale is cleared by something with nothing to say
        await settle(app, pilot)
        assert lines(app) == []
        assert message(app) == app.READY
        await type_in(app, pilot, MILK)
        await pilot.press("f6")
        await settle(app, pilot)
        app.in_session(lambda: None)  # a re-read of the same sale (sync, presence) keeps what was said
        await settle(app, pilot)
        assert "loyalty card before redeeming" in message(app)
