"""A cashier's day without surprises (#13): burst keys in every dialog, scans never dropped and taken by the
dialog that asks for them, parked sales across a restart, questions before anything is thrown away, and the
basket, receipt and messages as a cashier reads them. All through Textual's Pilot against a seeded SQLite file.
"""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import Input, Static

from edge.core.money import format_money
from edge.demo.seed import demo_card, demo_gtin
from edge.settings import Settings
from edge.ui.app import TillApp, make_app
from edge.ui.screens.devices import DevicesScreen
from edge.ui.screens.dialogs import ConfirmScreen, PayScreen, PromptScreen, RecallScreen, ReceiptScreen
from edge.ui.widgets.basket_table import BasketTable
from tests.support.demo import FIXED_NOW
from tests.support.till import (
    SCANNER_WINDOW_MS,
    flat,
    lines,
    message,
    sales,
    screen_text,
    settle,
    settled_layout,
    still_fine,
    till_app,
    type_in,
)

BRAM, CHLOE = demo_card(1), demo_card(2)
MILK, MILK_ORGANIC, CHOCOLATE = demo_gtin(1), demo_gtin(2), demo_gtin(121)
DEMO_BASKET = (BRAM, MILK, MILK_ORGANIC, CHOCOLATE, CHOCOLATE, CHOCOLATE, "SAVE3-ALPHA")  # scanned in this order


def _basket(app: TillApp) -> str:
    """The basket's Item column, row after row (long reasons wrap inside their cell)."""
    table = app.query_one("#basket", BasketTable)
    return flat(" ".join(str(table.get_row_at(i)[1]) for i in range(table.row_count)))


# -- 1. two Enters in every dialog ------------------------------------------------------------------------


async def _until_receipt(app: TillApp, pilot) -> None:
    for _ in range(500):
        if isinstance(app.screen, ReceiptScreen):
            return
        await pilot.pause(0.01)
    raise AssertionError("no receipt")


async def test_two_enters_when_paying_record_one_sale_and_never_crash(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f9", "enter", "enter")  # one go: pay, exact cash, and a second Enter
        await settle(app, pilot)
        still_fine(app)
        assert sales(demo_settings) == 1
        assert len(app.screen_stack) <= 2
        if isinstance(app.screen, ReceiptScreen):
            await pilot.pause(ReceiptScreen.EARLY_KEY_S)
        await pilot.press("escape", "escape", "enter", "enter")  # closing it twice never closes the sale screen
        await settle(app, pilot)
        still_fine(app)
        assert len(app.screen_stack) == 1 and sales(demo_settings) == 1


async def test_an_enter_right_after_paying_keeps_the_receipt_up(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f9", "enter")
        await _until_receipt(app, pilot)
        await pilot.press("enter", "escape")  # the rest of the burst, as soon as the receipt is up
        await pilot.pause()
        still_fine(app)
        assert isinstance(app.screen, ReceiptScreen), "the receipt closed before the cashier read it"
        assert "CHANGE" in screen_text(app) or "Paid by cash" in screen_text(app)
        await pilot.pause(ReceiptScreen.EARLY_KEY_S)
        await pilot.press("escape")
        await settle(app, pilot)
        assert len(app.screen_stack) == 1 and sales(demo_settings) == 1


@pytest.mark.parametrize(
    ("key", "answer", "check"),
    [
        ("f4", "7", lambda app: lines(app) == [("Whole Milk 1L", 7), ("Salted Crisps 200g", 1)]),
        ("f6", "100", lambda app: app.snapshot.settlement.points_redeemed == 100),
        ("f7", "SAVE3-ALPHA", lambda app: app.snapshot.basket_coupons == ("SAVE3-ALPHA",)),
        ("f2", CHLOE, lambda app: False),  # replaced below: asks before switching from Bram
    ],
    ids=["quantity-F4", "points-F6", "coupon-F7", "customer-F2"],
)
async def test_two_enters_in_a_dialog_act_once_and_never_close_the_sale(
    demo_settings: Settings, key: str, answer: str, check
) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        for _ in range(3):
            await type_in(app, pilot, MILK)
        await type_in(app, pilot, CHOCOLATE)
        await pilot.press("up")  # the Whole Milk line
        await pilot.press(key, *answer, "enter", "enter")
        await settle(app, pilot)
        still_fine(app)
        if key == "f2":
            # another member: the cashier is asked first, and the burst's stray Enter never says yes
            if isinstance(app.screen, ConfirmScreen):
                await pilot.press("escape")
                await settle(app, pilot)
            assert app.snapshot is not None and app.snapshot.customer is not None
            assert app.snapshot.customer.card_number == BRAM
            await pilot.press(key, *answer, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y", "y", "enter")
            await settle(app, pilot)
            still_fine(app)
            assert app.snapshot.customer.card_number == CHLOE
        else:
            assert check(app), message(app)
        assert len(app.screen_stack) == 1


async def test_two_enters_in_find_add_the_product_once(demo_settings: Settings) -> None:
    app = till_app(demo_settings)  # typed, not scanned
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press(*"sourdough loaf")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter", "enter")
        await settle(app, pilot)
        still_fine(app)
        assert lines(app) == [("Sourdough Loaf", 1)]
        assert len(app.screen_stack) == 1


async def test_an_unexpected_error_is_said_logged_and_the_sale_kept(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        panel = app.query_one("#customer")
        original = panel.show

        def broken(snap) -> None:
            raise RuntimeError("panel exploded")

        panel.show = broken  # type: ignore[method-assign]
        await type_in(app, pilot, MILK_ORGANIC)
        assert app.is_running and app.ui_errors == 1
        assert "Something went wrong" in message(app) and "panel exploded" in message(app)
        assert "The sale is kept" in message(app)
        panel.show = original  # type: ignore[method-assign]
        await type_in(app, pilot, CHOCOLATE)
        assert lines(app) == [("Whole Milk 1L", 1), ("Whole Milk 1L Organic", 1), ("Salted Crisps 200g", 1)]


async def test_an_error_that_keeps_coming_stops_the_till_with_status_1(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edge.ui.app as app_module

    monkeypatch.setattr(app_module, "MAX_UI_ERRORS", 1)
    app = till_app(demo_settings)
    with pytest.raises(RuntimeError, match="panel exploded"):
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)

            def broken(snap) -> None:
                raise RuntimeError("panel exploded")

            app.query_one("#customer").show = broken  # type: ignore[method-assign]
            for gtin in (MILK, MILK_ORGANIC):
                app.query_one("#scan", Input).value = gtin
                await pilot.press("enter")
                await settle(app, pilot)
    assert app.return_code == 1


# -- 2. scans never dropped; 3. scans into the dialog that asks ------------------------------------------


@pytest.mark.parametrize("gap_s", [0.05, 0.15, 0.3])
async def test_identical_scans_all_count(demo_settings: Settings, gap_s: float) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for _ in range(5):
            await pilot.press(*MILK, "enter")
            await pilot.pause(gap_s)
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert lines(app) == [("Whole Milk 1L", 5)]
        assert app.wedge_source.suppressed == 0


async def test_a_scan_while_the_receipt_is_up_starts_the_next_sale(demo_settings: Settings) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f9", "f12")  # card
        await _until_receipt(app, pilot)
        await pilot.press(*CHOCOLATE, "enter")  # the next customer's first item
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert len(app.screen_stack) == 1
        assert lines(app) == [("Salted Crisps 200g", 1)] and sales(demo_settings) == 1


@pytest.mark.parametrize("gap_s", [0.05, 0.15, 0.3])
async def test_a_scan_goes_to_the_coupon_and_customer_dialogs(demo_settings: Settings, gap_s: float) -> None:
    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, CHOCOLATE)
        await pilot.press("f2")
        await pilot.pause(gap_s)
        await pilot.press(*BRAM, "enter")  # the card scanned into "Find customer"
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert len(app.screen_stack) == 1
        assert app.snapshot is not None and app.snapshot.customer is not None
        assert app.snapshot.customer.card_number == BRAM
        await pilot.press("f7")
        await pilot.pause(gap_s)
        await pilot.press(*"SAVE3-ALPHA", "enter")  # "Type or scan the coupon code"
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert len(app.screen_stack) == 1
        assert app.snapshot.basket_coupons == ("SAVE3-ALPHA",)
        assert "Scan ignored" not in message(app)


async def test_a_double_read_is_suppressed_and_counted_on_the_devices_screen(demo_settings: Settings) -> None:
    from devices.scanners.base import ScanEvent

    app = till_app(demo_settings, wedge_max_key_interval_ms=SCANNER_WINDOW_MS)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(app, pilot)
        source = app.wedge_source
        t = 1000.0
        for at in (t, t + 0.01, t + 0.05):  # one trigger pull read twice, then the next item
            for i, key in enumerate([*MILK, "enter"]):
                source.handle_key(key, at + i * 0.0005)
        await pilot.pause(0.2)
        await settle(app, pilot)
        assert source.suppressed == 1
        assert lines(app) == [("Whole Milk 1L", 2)]
        await pilot.press("f8")
        await pilot.pause(0.3)
        assert isinstance(app.screen, DevicesScreen)
        assert "1 repeat read suppressed" in screen_text(app)
        assert ScanEvent  # the wedge delivered through the same path as a device


# -- 4. park and recall; nothing thrown away unasked -------------------------------------------------------


async def test_a_parked_sale_survives_a_restart_and_is_recalled_whole(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for text in (BRAM, MILK, CHOCOLATE, CHOCOLATE, "SAVE3-ALPHA"):
            await type_in(app, pilot, text)
        due = app.snapshot.settlement.amount_due_cents
        await pilot.press("f12")
        await settle(app, pilot)
        assert lines(app) == [] and app.snapshot.customer is None
        assert "Parked: Bram Jansen, 3 items" in message(app)
        assert "f12 Recall" in screen_text(app) and "1 parked" in screen_text(app)  # what F12 does now
    assert sqlite3.connect(demo_settings.database_path).execute("SELECT count(*) FROM parked_sales").fetchone()[0] == 1

    again = till_app(demo_settings)  # a restart: a new app on the same database file
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(again, pilot)
        assert "f12 Recall" in screen_text(again) and "1 parked" in screen_text(again)
        await pilot.press("f12")
        await settle(again, pilot)
        await pilot.pause()
        assert isinstance(again.screen, RecallScreen)
        assert "Bram Jansen" in screen_text(again) and format_money(due) in screen_text(again)
        await pilot.press("enter", "enter")
        await settle(again, pilot)
        still_fine(again)
        assert lines(again) == [("Whole Milk 1L", 1), ("Salted Crisps 200g", 2)]
        assert again.snapshot.customer is not None and again.snapshot.customer.id == "C1001"
        assert again.snapshot.basket_coupons == ("SAVE3-ALPHA",)
        assert again.snapshot.settlement.amount_due_cents == due
        assert "f12 Park" in screen_text(again) and "parked" not in screen_text(again)
    assert sqlite3.connect(demo_settings.database_path).execute("SELECT count(*) FROM parked_sales").fetchone()[0] == 0


async def test_new_sale_asks_before_discarding_a_basket(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("f10", "enter")  # a stray Enter never confirms
        await settle(app, pilot)
        assert lines(app) == [("Whole Milk 1L", 1)] and "kept" in message(app)
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "1 item," in screen_text(app)
        await pilot.press("p")  # park it instead
        await settle(app, pilot)
        assert lines(app) == [] and "Parked" in message(app)
        await type_in(app, pilot, CHOCOLATE)
        await pilot.press("f10", "y")
        await settle(app, pilot)
        assert lines(app) == [] and "New sale" in message(app)
        await pilot.press("f10")  # an empty basket: nothing to ask
        await settle(app, pilot)
        assert len(app.screen_stack) == 1


async def test_quit_asks_before_discarding_and_can_park_first(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await pilot.press("ctrl+q", "ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and len(app.screen_stack) == 2
        assert "not paid" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.is_running and lines(app) == [("Whole Milk 1L", 1)]
        await pilot.press("ctrl+q", "p")
        await settle(app, pilot)
        await pilot.pause(0.2)
    assert app.return_code == 0
    parked = sqlite3.connect(demo_settings.database_path).execute("SELECT label, items FROM parked_sales").fetchall()
    assert parked == [("Guest", 1)]


# -- 8. line cursor, void confirmation ---------------------------------------------------------------------


async def test_the_highlight_follows_the_last_scan_and_skips_discount_rows(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for gtin in (MILK, MILK_ORGANIC, CHOCOLATE):
            await type_in(app, pilot, gtin)
        table = app.query_one("#basket", BasketTable)
        assert table.selected_line() == 3  # the line just scanned
        await pilot.press("up")
        assert table.selected_line() == 2  # one key, one line: the milk deal's row is skipped
        await pilot.press("up")
        assert table.selected_line() == 1
        await pilot.press("down")
        assert table.selected_line() == 2
        await type_in(app, pilot, MILK)  # Whole Milk again: a new line 4, highlighted
        assert table.selected_line() == 4
        await pilot.press("up", "f4")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        assert "Quantity for line 3: Salted Crisps 200g x1" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "Void line 3: Salted Crisps 200g x1" in screen_text(app)
        await pilot.press("enter")  # Enter keeps the line
        await settle(app, pilot)
        assert len(lines(app)) == 4
        await pilot.press("f5", "y")
        await settle(app, pilot)
        assert [n for n, _ in lines(app)] == ["Whole Milk 1L", "Whole Milk 1L Organic", "Whole Milk 1L"]
        assert "voided line 3: Salted Crisps 200g x1" in message(app)


# -- 9. coupons, points, 10. member switch -----------------------------------------------------------------


async def test_coupons_show_code_and_condition_and_say_when_they_stop_applying(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        await type_in(app, pilot, "SAVE3-ALPHA")  # €7.44 - 20 %: under the €15.00 the coupon needs
        assert "needs a basket of €15.00 or more" in message(app)
        assert "Coupon SAVE3-ALPHA not applied: it needs a basket of €15.00 or more" in _basket(app)
        await type_in(app, pilot, "SAVE3-ALPHA")
        assert "already applied" in message(app)
        for _ in range(3):
            await type_in(app, pilot, CHOCOLATE)
        assert "Coupon SAVE3-ALPHA: €3.00 off on a basket over €15.00" in _basket(app)
        assert "not applied" not in _basket(app)
        assert any(d.offer_id == "OFF-COUPON3" for d in app.snapshot.settlement.pricing.discounts)
        await pilot.press("f5", "y")  # void the crisps: the basket drops under €15.00
        await settle(app, pilot)
        assert "coupon SAVE3-ALPHA no longer applies: it needs a basket of €15.00 or more" in flat(message(app))
        assert "Coupon SAVE3-ALPHA not applied" in _basket(app)


async def test_points_preview_gives_its_reason_and_pending_is_said_in_words(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        for text in (BRAM, MILK):
            await type_in(app, pilot, text)
        earned = app.snapshot.settlement.points_earned
        panel = lambda: flat(str(app.query_one("#customer").render()))  # noqa: E731
        assert f"This sale earns {earned} pts (1 pt per €1 paid)" in panel()
        await pilot.press("f9", "enter")
        await settle(app, pilot)
        await pilot.pause(ReceiptScreen.EARLY_KEY_S)
        await pilot.press("escape")
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        confirmed = f"{app.snapshot.customer.balance.confirmed:,}"  # the locale's grouping (en)
        assert f"({confirmed} confirmed, +{earned} earned here; the hub confirms them when the till syncs)" in panel()
        assert "pending" not in panel()
        await type_in(app, pilot, MILK)  # a second sale that uses points: earned and used are said apart
        await pilot.press("f6")
        await pilot.pause()
        await type_in(app, pilot, "200")
        await pilot.press("f9", "f12")
        await settle(app, pilot)
        await pilot.pause(ReceiptScreen.EARLY_KEY_S)
        await pilot.press("escape")
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        earned_both = app.snapshot.customer.balance.pending_earn  # both sales' points, none confirmed yet
        assert earned_both > earned
        assert f"({confirmed} confirmed, +{earned_both} earned here, -200 used here;" in panel()
        assert "after 200 used" not in panel()


async def test_another_members_card_asks_before_replacing_the_member(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        await type_in(app, pilot, MILK)
        await type_in(app, pilot, CHLOE)
        assert isinstance(app.screen, ConfirmScreen) and "Bram Jansen is on this sale" in screen_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        assert app.snapshot.customer.card_number == BRAM and "Kept Bram Jansen" in message(app)
        await type_in(app, pilot, BRAM)
        assert "already on this sale" in message(app) and len(app.screen_stack) == 1
        await type_in(app, pilot, CHLOE)
        await pilot.press("y")
        await settle(app, pilot)
        assert app.snapshot.customer.card_number == CHLOE
        assert lines(app) == [("Whole Milk 1L", 1)]  # the basket stays


# -- 5. receipt, 7. messages -------------------------------------------------------------------------------


async def test_the_receipt_shows_total_change_and_points_without_scrolling_at_80x24(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for text in DEMO_BASKET:
            await type_in(app, pilot, text)
        due = app.snapshot.settlement.amount_due_cents
        earned = app.snapshot.settlement.points_earned
        await pilot.press("f9")
        await pilot.pause()
        await type_in(app, pilot, "50")
        await pilot.pause()
        assert isinstance(app.screen, ReceiptScreen)
        text = screen_text(app)
        assert f"TOTAL {format_money(due)}" in text
        assert f"CHANGE {format_money(5000 - due)}" in text
        assert f"Points earned {earned}" in text
        question = app.screen.query_one("#question")
        assert "How likely is the customer to recommend us? 0 to 10, Enter. Esc skips." in flat(
            " ".join(str(w.render()) for w in question.query(Static))
        )
        assert app.screen.region.contains_region(question.region)  # the whole question is on screen
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.screen.query_one("#receipt").scroll_y > 0  # PageDown scrolls without Tab first
        await type_in(app, pilot, "11")
        assert isinstance(app.screen, ReceiptScreen)
        problem = app.screen.query_one("#problem")
        assert "11 is not on the scale: type 0 to 10, or Esc to skip" in flat(str(problem.render()))
        assert app.screen.region.contains_region(problem.region) and problem.region.height >= 2  # said, uncut
        await type_in(app, pilot, "10")
        assert len(app.screen_stack) == 1


async def test_messages_fit_80_columns_and_count_items_in_words(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, "5901234123457")  # a valid GTIN this store does not sell
        text = screen_text(app)
        assert "is not in this store's catalogue: set the item aside and call a supervisor" in flat(text)
        assert "key in the price" not in message(app)
        await type_in(app, pilot, "5901234123458")  # a wrong check digit: the whole advice is on screen
        assert "should be 7" in flat(message(app)) and flat(message(app)) in flat(screen_text(app))
        await type_in(app, pilot, MILK)
        assert "1 item " in str(app.query_one("#totals").render()) or "1 item\n" in str(
            app.query_one("#totals").render()
        )
        assert "1 items" not in screen_text(app)


# -- #10 item 7: commands in order, presence injected ------------------------------------------------------


async def test_session_commands_run_in_the_order_given(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        gtins = [demo_gtin(i) for i in (1, 31, 61, 91, 121, 151, 181, 2, 32, 62)]
        for gtin in gtins:  # ten commands queued at once, each in its own thread
            app.in_session(lambda g=gtin: app.session.add_gtin(g))
        await settle(app, pilot)
        assert [p.line.product.gtin for p in app.snapshot.settlement.pricing.lines] == gtins
        assert app.snapshot.version == app.commands.ticket() - 1


async def test_make_app_uses_an_injected_presence_runner(demo_settings: Settings) -> None:
    class Runner:
        started = stopped = False

        async def start(self) -> None:
            self.started = True

        async def stop(self) -> None:
            self.stopped = True

        def snapshot(self):  # noqa: ANN201
            return None

    runner = Runner()
    app = make_app(demo_settings, clock=lambda: FIXED_NOW, presence=runner)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.presence is runner and runner.started
    assert runner.stopped


# -- 6. sizes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40), (200, 60)], ids=["60x20", "80x24", "120x40", "200x60"])
async def test_qty_amount_and_total_stay_visible_at_every_size(demo_settings: Settings, size) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for text in (BRAM, MILK, MILK_ORGANIC, CHOCOLATE, CHOCOLATE, CHOCOLATE):
            await type_in(app, pilot, text)
        text = screen_text(app)
        assert "Qty" in text and "Amount" in text
        assert f"TOTAL {format_money(app.snapshot.settlement.amount_due_cents)}" in text
        assert "€32.82" in text  # the crisps line's amount
        basket = app.query_one("#basket")
        panel = app.query_one("#right")
        assert basket.size.width > panel.size.width  # the customer panel yields space
        if size[0] >= 120:
            amount_col = max(line.find("€32.82") for line in text.splitlines())
            assert amount_col > 60  # amounts move right on a wide screen
            _amounts_under_their_column(text, basket.region.right, app.snapshot.settlement.amount_due_cents)


def _amounts_under_their_column(text: str, basket_right: int, due: int) -> None:
    """On a wide screen every amount ends where the Amount heading ends, a few cells from the basket's right
    edge (the width is used, not left empty between the amounts and the customer panel); from 200 columns the
    amount due ends there too."""
    rows = [row[:basket_right] for row in text.splitlines()]
    heading = next(row for row in rows if "Amount" in row)
    column_end = heading.index("Amount") + len("Amount")
    assert basket_right - column_end <= 3, (column_end, basket_right)  # a cell's padding and the scroll bar
    ends = {len(row.rstrip()) for row in rows if row.rstrip().endswith(("€7.44", "€32.82", "-€1.49", "-€10.94"))}
    assert ends == {column_end}, (ends, column_end)  # right-aligned under their heading
    qty = heading.index("Qty") + len("Qty")
    assert any(row.rstrip().endswith("3      €32.82") and row.index("3      €32.82") + 1 == qty for row in rows)
    total = next(row for row in rows if "TOTAL" in row)
    assert total.rstrip().endswith(f"TOTAL {format_money(due)}")
    if basket_right >= 120:
        assert len(total.rstrip()) == column_end, total


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40), (200, 60)], ids=["60x20", "80x24", "120x40", "200x60"])
def test_till_layout_snapshot(demo_settings: Settings, snap_compare, size) -> None:
    async def fill(pilot) -> None:
        app = pilot.app
        for widget in app.query(Input):
            widget.cursor_blink = False
        await settle(app, pilot)
        for text in DEMO_BASKET:
            await type_in(app, pilot, text)
        await settled_layout(app, pilot)

    assert snap_compare(till_app(demo_settings), terminal_size=size, run_before=fill)


async def _pay_the_demo_basket_in_cash(pilot) -> None:
    """The snapshots' sale: Bram, milk, organic milk, three crisps, the coupon; paid with 50 in cash."""
    app = pilot.app
    for widget in app.query(Input):
        widget.cursor_blink = False
    await settle(app, pilot)
    for text in DEMO_BASKET:
        await type_in(app, pilot, text)
    await pilot.press("f9")
    await pilot.pause()
    await type_in(app, pilot, "50")
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    await settle(app, pilot)
    await app.workers.wait_for_complete()
    await pilot.pause(0.3)  # the layout behind the dialog settles (its scroll bars) before the picture


def test_receipt_snapshot_80x24(demo_settings: Settings, snap_compare) -> None:
    assert snap_compare(till_app(demo_settings), terminal_size=(80, 24), run_before=_pay_the_demo_basket_in_cash)


async def test_the_receipt_at_60x20_shows_change_points_and_the_whole_question(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(app, pilot)
        for text in DEMO_BASKET:
            await type_in(app, pilot, text)
        due = app.snapshot.settlement.amount_due_cents
        await pilot.press("f9")
        await pilot.pause()
        await type_in(app, pilot, "50")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ReceiptScreen)
        text = flat(screen_text(app))
        assert f"CHANGE {format_money(5000 - due)}" in text and "Points earned" in text
        question = app.screen.query_one("#question")
        assert "How likely is the customer to recommend us? 0 to 10, Enter. Esc skips." in text
        assert app.screen.region.contains_region(question.region)  # the question and its field on screen
        await type_in(app, pilot, "9")
        assert len(app.screen_stack) == 1


def test_receipt_snapshot_60x20(demo_settings: Settings, snap_compare) -> None:
    assert snap_compare(till_app(demo_settings), terminal_size=(60, 20), run_before=_pay_the_demo_basket_in_cash)


def test_pay_dialog_is_one_shot() -> None:
    screen = PayScreen(100)
    assert screen.closing is False


async def test_two_escapes_leave_the_devices_and_floor_screens_once(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, MILK)
        for key in ("f8", "f11"):
            await pilot.press(key, key)  # pressed twice: one screen
            await pilot.pause(0.2)
            assert len(app.screen_stack) == 2
            await pilot.press("escape", "escape", "escape")
            await settle(app, pilot)
            still_fine(app)
            assert len(app.screen_stack) == 1
        assert lines(app) == [("Whole Milk 1L", 1)]


def test_till_errors_go_to_a_log_file_in_the_data_dir(demo_settings: Settings) -> None:
    import logging

    from edge.ui.app import till_log

    handler = till_log(demo_settings)
    assert handler is not None
    try:
        try:
            raise RuntimeError("panel exploded")
        except RuntimeError:
            logging.getLogger("edge.ui").exception("unexpected error in the till")
    finally:
        logging.getLogger("edge").removeHandler(handler)
        handler.close()
    text = (demo_settings.data_dir / "till.log").read_text()
    assert "unexpected error in the till" in text and "RuntimeError: panel exploded" in text
