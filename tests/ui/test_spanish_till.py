"""A Spanish store: the till in es_ES, a sale through Textual's Pilot, the receipt in Spanish with es-ES money."""

from __future__ import annotations

import re
import sqlite3

import pytest
from textual.widgets import Input

from edge.core.basket import Basket
from edge.core.loyalty import LoyaltyRules
from edge.core.offers import CustomerContext
from edge.db import open_database
from edge.demo.seed import demo_gtin
from edge.settings import Settings
from edge.store.repository import Repository
from edge.store.sales import SalesService
from edge.ui.app import TillApp, make_app
from edge.ui.screens.dialogs import ReceiptScreen
from tests.support.demo import FIXED_NOW  # 2026-11-20 10:30 UTC: 11:30 in Madrid
from tests.support.till import settle, settled_layout, type_in

MILK, CHOCOLATE = demo_gtin(1), demo_gtin(121)
ES_MONEY = re.compile(r"-?\d{1,3}(\.\d{3})*,\d{2}\xa0€")




async def test_a_spanish_sale_prints_a_spanish_receipt(spanish_settings: Settings) -> None:
    app = make_app(spanish_settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, "612 34 56 01")  # the member's Spanish mobile, as they say it
        assert app.snapshot is not None and app.snapshot.customer is not None
        assert app.snapshot.customer.display_name == "Bruno Fernández"
        for gtin in (MILK, CHOCOLATE, CHOCOLATE, CHOCOLATE):
            await type_in(app, pilot, gtin)
        due = app.snapshot.settlement.amount_due_cents
        await pilot.press("f9")
        await pilot.pause()
        await type_in(app, pilot, "50,00")  # cash typed the Spanish way
        assert isinstance(app.screen, ReceiptScreen)
        receipt = app.screen.receipt

    for words in ("Supermercado Demo", "20/11/2026, 11:30", "Leche entera 1L", "Subtotal", "TOTAL",
                  "IVA incluido", "Pagado con efectivo", "Cambio", "Socio: Bruno Fernández", "Puntos ganados",
                  "Saldo de puntos", "Gracias por su compra", "Oferta leche: 20 % de descuento en Leche entera 1L",
                  "Aperitivos 3x2: compre 2 y lleve 1 gratis"):
        assert words in " ".join(receipt.split()), words  # long reasons wrap onto a second line
    total_line = next(line for line in receipt.splitlines() if line.startswith("TOTAL"))
    cents = f"{due // 100},{due % 100:02d}\xa0€"
    assert total_line.endswith(cents)
    change = next(line for line in receipt.splitlines() if line.startswith("Cambio"))
    assert change.endswith(f"{(5000 - due) // 100},{(5000 - due) % 100:02d}\xa0€")
    # every amount on it is written the es-ES way; no English words or euro-first amounts are left
    assert ES_MONEY.search(receipt)
    assert not re.search(r"€\d", receipt)
    for english in ("Paid by", "Change", "Thank you", "Points earned", "off", "of which"):
        assert english not in receipt, english
    stored = sqlite3.connect(spanish_settings.database_path).execute("SELECT receipt, tendered_cents FROM sales")
    assert stored.fetchall() == [(receipt, 5000)]


def test_a_member_who_reads_english_gets_an_english_receipt_in_the_spanish_store(
    spanish_settings: Settings,
) -> None:
    db = open_database(spanish_settings.database_path)
    try:
        member = Repository(db).find_customer("+34 612 34 56 13", "ES")  # every 13th demo member reads English
        assert member is not None and member.preferences.get("language") == "en"
        service = SalesService(db, LoyaltyRules(),
                               store_name="Supermercado Demo", formats=spanish_settings.store.formats)
        basket = Basket(customer=CustomerContext(member.id, member.tier))
        product = Repository(db).product(MILK)
        assert product is not None
        basket.add(product)
        offers = Repository(db).offers_for(member.id)
        sale = service.complete(basket, offers, payment_method="card", now=FIXED_NOW)
        reasons = [r[0] for r in db.execute("SELECT reason FROM sale_discounts WHERE sale_id = ?", [sale.sale_id])]
    finally:
        db.close()
    assert "Paid by card" in sale.receipt and "Thank you for shopping with us" in sale.receipt
    assert "Milk deal" not in sale.receipt  # offer names are the store's data; the wording around them is English
    assert "Oferta leche: 20% off Leche entera 1L" in " ".join(sale.receipt.split())
    assert ES_MONEY.search(sale.receipt)  # the store's money, still euros written in Spain
    assert reasons == ["Oferta leche: 20\xa0% de descuento en Leche entera 1L"]  # the store's records stay Spanish


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_spanish_amounts_are_shown_whole_at_every_size(spanish_settings: Settings, size: tuple[int, int]) -> None:
    """The till's money is written the store's way on the screen a cashier sees, never cut."""
    app = make_app(spanish_settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for text in ("612 34 56 01", MILK, CHOCOLATE, CHOCOLATE, CHOCOLATE):
            await type_in(app, pilot, text)
        await pilot.pause()
        assert app.snapshot is not None
        screen = "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())
        due = spanish_settings.store.formats.money(app.snapshot.settlement.amount_due_cents)
        assert due in screen, (due, screen)
        assert not re.search(r"€\d", screen)  # no amount is written the English way
        if size[0] >= 80:  # at 60 columns the basket shows the totals first (the till's adaptive layout)
            basket = [line for line in screen.splitlines() if "Leche entera" in line]
            assert basket and "7,44\xa0€" in basket[0]  # the line amount, whole


async def _spanish_basket(pilot) -> None:
    app = pilot.app
    for widget in app.query(Input):
        widget.cursor_blink = False
    await settle(app, pilot)
    for text in ("612 34 56 01", MILK, CHOCOLATE, CHOCOLATE, CHOCOLATE, "SAVE3-ALPHA"):
        await type_in(app, pilot, text)
    await settled_layout(app, pilot)


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40), (200, 60)], ids=["60x20", "80x24", "120x40", "200x60"])
def test_spanish_till_layout_snapshot(spanish_settings: Settings, snap_compare, size: tuple[int, int]) -> None:
    """Every label, key and amount of the sale screen in Spanish, none cut (checked by eye on the SVG's text
    and by ``test_spanish_screens_show_their_words_whole``)."""
    assert snap_compare(make_app(spanish_settings, clock=lambda: FIXED_NOW), terminal_size=size,
                        run_before=_spanish_basket)  # fmt: skip


def test_spanish_receipt_snapshot_80x24(spanish_settings: Settings, snap_compare) -> None:
    async def pay(pilot) -> None:
        await _spanish_basket(pilot)
        app = pilot.app
        await pilot.press("f9")
        await pilot.pause()
        await type_in(app, pilot, "50")
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)

    assert snap_compare(make_app(spanish_settings, clock=lambda: FIXED_NOW), terminal_size=(80, 24), run_before=pay)


def _screen_text(app: TillApp) -> str:
    return "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40), (200, 60)])
async def test_spanish_screens_show_their_words_whole(spanish_settings: Settings, size: tuple[int, int]) -> None:
    """The texts a cashier needs are on screen whole in Spanish at every size: the key bar, the totals, the
    customer panel's points and the amount due; no English word of the till is left."""
    app = make_app(spanish_settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for text in ("612 34 56 01", MILK, CHOCOLATE):
            await type_in(app, pilot, text)
        await pilot.pause()
        screen = _screen_text(app)
        for words in ("Cobrar", "Aparcar", "Nueva", "TOTAL", "Artículo", "Cant", "Importe"):
            assert words in screen, (words, screen)
        for english in ("Ready", "Guest", "Pay ", "Points:", "Subtotal €", "items", "Hub online", "to sync"):
            assert english not in screen, (english, screen)
        await pilot.press("f9")
        await pilot.pause()
        dialog = _screen_text(app)
        due = spanish_settings.store.formats.money(app.snapshot.settlement.amount_due_cents)
        assert f"A pagar {due}" in dialog and "Tarjeta: pulse F12." in dialog, dialog


async def test_a_misread_barcode_is_explained_in_spanish(spanish_settings: Settings) -> None:
    """A decode error made in ``devices`` (a bad GS1 check digit) reaches the cashier in the store's language."""
    from tests.support.till import message

    wrong = MILK[:-1] + str((int(MILK[-1]) + 1) % 10)
    app = make_app(spanish_settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, wrong)
        said = message(app)
    assert "El dígito de control es erróneo" in said and f"debería ser {MILK[-1]}" in said, said
    assert "vuelva a escanear" in said and "Check digit" not in said and "rescan" not in said
