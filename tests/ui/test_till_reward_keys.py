"""The reward dialog (Ctrl+R) and the member look-up against hurried keys (#13 item 1 for the dialogs added
since): a key pressed twice opens one dialog and claims once, Esc goes back at every step, a catalogue read in
the background never lands on top of another dialog, and the dialogs speak the store's language."""

from __future__ import annotations

import sqlite3

from edge.demo.seed import demo_card, demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import ConfirmScreen, PayScreen, RewardScreen
from tests.support.till import message, screen_text, settle, still_fine, till_app, type_in

BRAM, MILK = demo_card(1), demo_gtin(1)




def _claims(settings: Settings) -> int:
    db = sqlite3.connect(settings.database_path)
    try:
        return db.execute("SELECT count(*) FROM reward_claims").fetchone()[0]
    finally:
        db.close()


async def _until_screen(app, pilot, kind: type, limit: int = 200) -> None:
    for _ in range(limit):
        if isinstance(app.screen, kind):
            return
        await pilot.pause(0.01)
    raise AssertionError(f"no {kind.__name__}; on top: {app.screen!r}")


async def test_ctrl_r_twice_opens_one_catalogue_and_esc_twice_goes_back_to_the_sale(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        await pilot.press("ctrl+r", "ctrl+r")
        await _until_screen(app, pilot, RewardScreen)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert len(app.screen_stack) == 2, app.screen_stack  # one catalogue, not two stacked
        await pilot.press("escape", "escape")  # the second Esc finds the sale screen: nothing happens
        await settle(app, pilot)
        assert len(app.screen_stack) == 1
        still_fine(app)
        assert app.snapshot.customer is not None and _claims(demo_settings) == 0


async def test_enter_enter_and_y_y_claim_once_and_esc_on_the_question_claims_nothing(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        await pilot.press("ctrl+r")
        await _until_screen(app, pilot, RewardScreen)
        await pilot.press("enter", "enter")  # the second Enter reaches the question: Enter is "no"
        await settle(app, pilot)
        assert len(app.screen_stack) in (1, 2)
        if isinstance(app.screen, ConfirmScreen):  # the Enter came before the question was up
            await pilot.press("escape")
            await settle(app, pilot)
        assert len(app.screen_stack) == 1 and _claims(demo_settings) == 0
        await pilot.press("ctrl+r")
        await _until_screen(app, pilot, RewardScreen)
        await pilot.press("enter")
        await _until_screen(app, pilot, ConfirmScreen)
        await pilot.press("y", "y")
        await settle(app, pilot)
        assert _claims(demo_settings) == 1 and len(app.screen_stack) == 1
        assert "Free coffee claimed" in message(app)
        still_fine(app)


async def test_the_catalogue_never_opens_over_a_dialog_the_cashier_opened_meanwhile(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        await type_in(app, pilot, MILK)
        with app.session.lock:  # a slow database: the catalogue is read in a thread, and waits
            await pilot.press("ctrl+r", "f9")
            await _until_screen(app, pilot, PayScreen)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert [type(s) for s in app.screen_stack[1:]] == [PayScreen]  # the pay dialog, nothing over it
        while len(app.screen_stack) > 1:
            await pilot.press("escape")
            await settle(app, pilot)
        still_fine(app)


async def test_the_reward_question_is_in_the_store_language(spanish_settings: Settings) -> None:
    app = till_app(spanish_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, "612 34 56 01")  # Bruno Fernández
        await pilot.press("ctrl+r")
        await _until_screen(app, pilot, RewardScreen)
        assert "puntos disponibles" in screen_text(app)
        await pilot.press("enter")
        await _until_screen(app, pilot, ConfirmScreen)
        text = screen_text(app)
        assert "Esc volver" in text and "back" not in text, text
        await pilot.press("escape")
        await settle(app, pilot)
        assert len(app.screen_stack) == 1
