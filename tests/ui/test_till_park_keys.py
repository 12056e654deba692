"""F12 parks a basket and, on an empty one, lists the parked sales: decided on the basket as it is when the
key's turn comes (not on a screen not yet redrawn), and never acting under the list once it is open."""

from __future__ import annotations

from edge.demo.seed import demo_gtin
from edge.settings import Settings
from edge.ui.screens.dialogs import RecallScreen
from tests.support.till import count, message, settle, terminal_read, till_app, type_in, until

MILK = demo_gtin(1)


async def test_f12_with_the_parked_list_open_does_nothing_behind_it(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f12")
        await settle(app, pilot)
        assert "Parked" in message(app)
        await pilot.press("f12")
        await until(pilot, lambda: isinstance(app.screen, RecallScreen))
        before = message(app)
        await pilot.press("f12")
        await settle(app, pilot)
        assert isinstance(app.screen, RecallScreen)
        assert "nothing to park" not in message(app)
        assert message(app) == before


async def test_a_fast_second_f12_after_parking_offers_the_parked_sales(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        terminal_read(app, "f12", "f12")  # parks, then (the basket now empty) lists the parked sales
        await until(pilot, lambda: isinstance(app.screen, RecallScreen))
        assert isinstance(app.screen, RecallScreen), message(app)
        assert "nothing to park" not in message(app)
    assert count(demo_settings, "SELECT count(*) FROM parked_sales") == 1
