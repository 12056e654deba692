"""The till driven through Textual's Pilot, against a real seeded SQLite file."""

from __future__ import annotations

import sqlite3

from textual.widgets import Input

from edge.core.money import format_money
from edge.demo.seed import demo_card, demo_gtin
from edge.settings import Settings
from edge.ui.app import TillApp
from edge.ui.screens.dialogs import ReceiptScreen
from edge.ui.widgets.basket_table import BasketTable
from tests.support.till import settle, till_app, type_in

CUSTOMER_CARD = demo_card(1)  # C1001, Bram Jansen, Bronze, 1500 confirmed points
MILK, MILK_ORGANIC, CHOCOLATE = demo_gtin(1), demo_gtin(2), demo_gtin(121)


def _text(app: TillApp, selector: str) -> str:
    return str(app.query_one(selector).render())


async def test_scanning_a_card_shows_the_customer_profile(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, CUSTOMER_CARD)
        panel = _text(app, "#customer")
        assert "Bram Jansen" in panel
        assert "Bronze" in panel
        assert "1,500 available" in panel
        assert "Welcome back" in panel  # the personal time-limited offer, with its expiry
        assert "Recent purchases" in panel
        assert "more to Silver" in panel  # rolling 12-month spend against the tier thresholds
        assert app.snapshot is not None and app.snapshot.customer is not None
        assert app.snapshot.customer.id == "C1001"


async def test_three_products_total_and_offer_reason(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for gtin in (MILK, MILK_ORGANIC, CHOCOLATE):
            await type_in(app, pilot, gtin)
        assert app.snapshot is not None
        pricing = app.snapshot.settlement.pricing
        assert len(pricing.lines) == 3
        prices = sqlite3.connect(demo_settings.database_path).execute(
            "SELECT sum(price_cents) FROM products WHERE gtin IN (?, ?, ?)", (MILK, MILK_ORGANIC, CHOCOLATE)
        ).fetchone()[0]
        assert pricing.subtotal_cents == prices
        # Milk deal (20 %, priority 5) beats Dairy week (10 %) on whole milk; the reason is on screen
        milk_discounts = [d for d in pricing.discounts if d.line_no == 1]
        assert [d.offer_id for d in milk_discounts] == ["OFF-MILK20"]
        assert "20% off" in milk_discounts[0].reason
        table = app.query_one("#basket", BasketTable)
        cells = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]  # column 0 is the line number
        assert any("Milk deal -20%" in c for c in cells)
        totals = _text(app, "#totals")
        assert format_money(pricing.total_cents) in totals


async def test_loyalty_sale_end_to_end_lands_in_the_database(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, CUSTOMER_CARD)
        for gtin in (MILK, MILK_ORGANIC, CHOCOLATE, CHOCOLATE, CHOCOLATE):
            await type_in(app, pilot, gtin)
        await pilot.press("f6")
        await pilot.pause()
        await type_in(app, pilot, "200")
        assert app.snapshot is not None
        assert app.snapshot.settlement.points_redeemed == 200
        due = app.snapshot.settlement.amount_due_cents
        earned = app.snapshot.settlement.points_earned
        await pilot.press("f9")
        await pilot.pause()
        await type_in(app, pilot, "")  # exact cash
        assert isinstance(app.screen, ReceiptScreen)
        assert "200 points redeemed" in app.screen.receipt
        assert "Points earned" in app.screen.receipt
        # what this sale did, in words that stay true once the till syncs
        figures = str(app.screen.query_one("#figures").render())
        assert f"(200 used, {earned} earned here)" in figures
        assert "confirmed when" not in figures and "confirmed when" not in app.screen.receipt
        await type_in(app, pilot, "9")  # the customer answers the NPS question
        assert not isinstance(app.screen, ReceiptScreen)

    db = sqlite3.connect(demo_settings.database_path)
    sale = db.execute("SELECT id, customer_id, total_cents, points_redeemed, points_earned FROM sales").fetchall()
    assert len(sale) == 1
    sale_id, customer_id, total, redeemed, points_earned = sale[0]
    assert (customer_id, total, redeemed, points_earned) == ("C1001", due, 200, earned)
    assert db.execute("SELECT sum(qty) FROM sale_lines WHERE sale_id = ?", (sale_id,)).fetchone()[0] == 5
    ledger = dict(db.execute("SELECT kind, points FROM ledger WHERE sale_id = ?", (sale_id,)).fetchall())
    assert ledger == {"burn": 200, "earn": earned}
    types = sorted(r[0] for r in db.execute("SELECT type FROM outbox WHERE state = 'pending'"))
    assert types == ["feedback.submitted", "ledger.burn", "ledger.earn", "sale.completed"]
    assert db.execute("SELECT score FROM feedback WHERE sale_id = ?", (sale_id,)).fetchone()[0] == 9
    reasons = [r[0] for r in db.execute("SELECT reason FROM sale_discounts WHERE sale_id = ?", (sale_id,))]
    assert any("3 for 2" in r for r in reasons)


async def test_search_quantity_and_void(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press(*"sourdough loaf")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.snapshot is not None
        assert [p.line.product.name for p in app.snapshot.settlement.pricing.lines] == ["Sourdough Loaf"]
        await pilot.press("f4")
        await pilot.pause()
        await type_in(app, pilot, "4")
        assert app.snapshot.settlement.pricing.lines[0].line.qty == 4
        await pilot.press("f5")
        await pilot.pause()
        assert "Void line 1: Sourdough Loaf x4" in "".join(str(w.render()) for w in app.screen.query("Static"))
        await pilot.press("y")  # void asks first
        await settle(app, pilot)
        assert app.snapshot.settlement.pricing.lines == ()
        assert "voided" in _text(app, "#message")


async def test_bad_scans_and_refusals_say_why(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press(*"12345", "enter")  # typed key by key, as a cashier would
        await settle(app, pilot)
        assert "not a product, loyalty card or coupon" in _text(app, "#message")
        await type_in(app, pilot, "hello world")
        assert "not recognised" in _text(app, "#message")
        await pilot.press("f9")
        await pilot.pause()
        assert "basket is empty" in _text(app, "#message")
        await pilot.press("f6")
        await pilot.pause()
        assert "loyalty card" in _text(app, "#message")
        # too many points for the basket: refused with the limit in words, nothing applied
        await type_in(app, pilot, CUSTOMER_CARD)
        await type_in(app, pilot, MILK)
        await pilot.press("f6")
        await pilot.pause()
        await type_in(app, pilot, "1400")
        problem = str(app.screen.query_one("#problem").render())  # the dialog stays open and says the limit
        assert "at most" in problem or "at least" in problem
        assert app.snapshot is not None and app.snapshot.settlement.points_redeemed == 0


async def test_coupon_is_single_use_across_sales(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for _ in range(4):
            await type_in(app, pilot, CHOCOLATE)
        await type_in(app, pilot, "save3-alpha")
        assert app.snapshot is not None
        assert any(d.offer_id == "OFF-COUPON3" for d in app.snapshot.settlement.pricing.discounts)
        await pilot.press("f9")
        await pilot.pause()
        await pilot.press("f12")  # card
        await settle(app, pilot)
        await pilot.pause(ReceiptScreen.EARLY_KEY_S)  # keys right after the receipt appears are ignored
        await pilot.press("escape")
        await settle(app, pilot)
        await type_in(app, pilot, "SAVE3-ALPHA")
        assert "already used" in _text(app, "#message")


def test_till_snapshot_80x24(demo_settings: Settings, snap_compare) -> None:
    async def fill(pilot) -> None:
        app = pilot.app
        for widget in app.query(Input):
            widget.cursor_blink = False  # a blinking cursor makes the picture depend on the moment
        await settle(app, pilot)
        for text in (CUSTOMER_CARD, MILK, MILK_ORGANIC, CHOCOLATE, CHOCOLATE, CHOCOLATE):
            await type_in(app, pilot, text)
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)  # the layout settles (scroll bars, wrapped totals) before the picture

    assert snap_compare(till_app(demo_settings), terminal_size=(80, 24), run_before=fill)


async def test_total_stays_visible_at_80x24_with_discounts_and_points(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for text in (CUSTOMER_CARD, MILK, MILK_ORGANIC, CHOCOLATE, CHOCOLATE, CHOCOLATE):
            await type_in(app, pilot, text)
        await pilot.press("f6")
        await pilot.pause()
        await type_in(app, pilot, "150")
        assert app.snapshot is not None and app.snapshot.settlement.points_redeemed == 150
        await pilot.pause()
        screen = "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())
        due = format_money(app.snapshot.settlement.amount_due_cents)
        assert f"TOTAL {due}" in screen  # on the screen a cashier sees, not only in the widget
        assert "Disc -" in screen and "Pts -" in screen


async def test_ctrl_r_claims_a_reward_for_the_member_and_says_what_to_hand_over(demo_settings: Settings) -> None:
    from edge.ui.screens.dialogs import ConfirmScreen, RewardScreen

    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+r")  # no member on the sale: said, no dialog
        await settle(app, pilot)
        assert "loyalty card" in _text(app, "#message") and not isinstance(app.screen, RewardScreen)
        await type_in(app, pilot, CUSTOMER_CARD)
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, RewardScreen)
        assert "1500 points available" in str(app.screen.query_one(".title").render())
        await pilot.press("enter")  # the cheapest first: Free coffee, 500 points
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert "Free coffee claimed for 500 points: hand over Ground Coffee 250g" in _text(app, "#message")
        assert "1,000 available" in _text(app, "#customer")
    db = sqlite3.connect(demo_settings.database_path)
    assert db.execute("SELECT reward_id, customer_id, points FROM reward_claims").fetchall() == [
        ("free-coffee", "C1001", 500)]
    assert db.execute("SELECT count(*) FROM outbox WHERE type = 'reward.claimed'").fetchone()[0] == 1
