"""The till flow of a member from another store (issue 15 item 5), through Textual Pilot against the real
reference hub on 127.0.0.1: the unknown card is looked up at the hub in a thread worker, the member is
identified, the sale earns; with the hub gone, the next unknown card gives a guest sale with a claim code."""

from __future__ import annotations

import time
from pathlib import Path

from edge.core.claims import format_claim_code
from edge.db import open_database
from edge.demo.seed import demo_card, demo_gtin, seed_hub
from edge.settings import Settings, load_settings
from edge.ui.app import make_app
from sync.client import SyncClient
from sync.credentials import load as load_credential
from sync.enroll import enroll
from sync.hub.server import start_demo_hub

OTHER_CARD = demo_card(9001)


async def test_a_member_from_another_store_is_found_at_the_hub_then_a_guest_sale_carries_a_claim_code(
        tmp_path: Path) -> None:
    settings: Settings = load_settings(environ={}).replace(data_dir=tmp_path / "till")
    hub = start_demo_hub(tmp_path / "hub", store_id=settings.store.id, device_id=settings.device.id,
                         seed=lambda storage: seed_hub(storage, settings.store.id))  # fmt: skip
    storage = hub.server.storage
    storage.create_store("far-store", "Far Store")
    storage.upsert_customer({"id": "FAR1", "display_name": "Farah Far", "card_number": OTHER_CARD,
                             "home_store_id": "far-store", "tier": "Silver"})
    storage.upsert_customer({"id": "FAR2", "display_name": "Fernando Far", "card_number": demo_card(9002),
                             "home_store_id": "far-store"})
    try:
        enroll(hub.url, hub.enrolment_code, settings.data_dir)
        first = SyncClient(lambda: open_database(settings.database_path), load_credential(settings.data_dir),
                           settings.hub)
        first.sync_once()
        first.close()
        app = make_app(settings)
        async with app.run_test(size=(100, 30)) as pilot:

            async def until(cond, what: str, limit: float = 30.0) -> None:
                deadline = time.monotonic() + limit
                while not cond():
                    assert time.monotonic() < deadline, f"timed out waiting for {what}"
                    await pilot.pause(0.05)

            def message() -> str:
                return str(app.query_one("#message").render())

            async def scan(text: str) -> None:
                app.query_one("#scan").value = text
                await pilot.press("enter")

            await until(lambda: app.status_source.hub == "online", "the hub to be online")
            await scan(OTHER_CARD)
            await until(lambda: "Member found at the hub" in message(), "the hub's answer")
            assert "Farah Far (Silver)" in message()
            assert app.snapshot is not None and app.snapshot.customer is not None
            assert app.snapshot.customer.id == "FAR1"
            await scan(demo_gtin(1))
            await until(lambda: app.snapshot is not None and app.snapshot.settlement.pricing.lines, "the item")
            await pilot.press("f9")
            await pilot.pause()
            await pilot.press("enter")
            await until(lambda: app.session.last_sale is not None, "the sale")
            assert app.session.last_sale.points_earned > 0 and app.session.last_sale.claim_code is None
            deadline = time.monotonic() + 30
            while len(app.screen_stack) > 1:  # the receipt ignores keys typed before it was up; Esc again
                assert time.monotonic() < deadline, "the receipt did not close"
                await pilot.press("escape")
                await pilot.pause(0.2)

            hub.server.stop()  # the hub goes away; the till says so on its next round
            await until(lambda: app.session.hub_online is False, "the till to notice", 60)
            await scan(demo_card(9002))
            await until(lambda: "Hub not reachable" in message(), "the guest fallback")
            assert app.snapshot.customer is None
            await scan(demo_gtin(1))
            await until(lambda: app.snapshot is not None and app.snapshot.settlement.pricing.lines, "the item")
            await pilot.press("f9")
            await pilot.pause()
            await pilot.press("enter")
            await until(lambda: app.session.last_sale is not None and app.session.last_sale.claim_code, "guest sale")
            code = format_claim_code(app.session.last_sale.claim_code)
            assert code in app.session.last_sale.receipt
            await until(lambda: f"claim code {code}" in message(), "the cashier told of the claim code")
    finally:
        hub.stop()


async def test_a_hub_answer_that_comes_after_its_sale_is_over_never_lands_on_the_next_sale(tmp_path: Path) -> None:
    """The card is scanned, the cashier discards the sale (F10) before the hub answers: the member found is not
    put on the next customer's sale; scanned again, the card identifies them at once (stored when found)."""
    import threading

    settings: Settings = load_settings(environ={}).replace(data_dir=tmp_path / "till")
    hub = start_demo_hub(tmp_path / "hub", store_id=settings.store.id, device_id=settings.device.id,
                         seed=lambda storage: seed_hub(storage, settings.store.id))  # fmt: skip
    storage = hub.server.storage
    storage.create_store("far-store", "Far Store")
    storage.upsert_customer({"id": "FAR1", "display_name": "Farah Far", "card_number": OTHER_CARD,
                             "home_store_id": "far-store", "tier": "Silver"})
    try:
        enroll(hub.url, hub.enrolment_code, settings.data_dir)
        app = make_app(settings)
        async with app.run_test(size=(100, 30)) as pilot:

            async def until(cond, what: str, limit: float = 30.0) -> None:
                deadline = time.monotonic() + limit
                while not cond():
                    assert time.monotonic() < deadline, f"timed out waiting for {what}"
                    await pilot.pause(0.05)

            def message() -> str:
                return str(app.query_one("#message").render())

            async def scan(text: str) -> None:
                app.query_one("#scan").value = text
                await pilot.press("enter")

            lookup = app.session.member_lookup
            assert lookup is not None
            gate, real_ask = threading.Event(), lookup.ask

            def slow_ask(kind: str, value: str):  # the real look-up on a slow link: the answer waits for the gate
                gate.wait(30)
                return real_ask(kind, value)

            lookup.ask = slow_ask  # type: ignore[method-assign]
            await until(lambda: app.status_source.hub == "online", "the hub to be online")
            await scan(OTHER_CARD)
            await until(lambda: "Asking the hub" in message(), "the question to the hub")
            await pilot.press("f10")  # an empty basket: a new sale at once
            await until(lambda: "New sale" in message(), "the new sale")
            gate.set()
            await until(lambda: "for a sale that is over" in message(), "the late answer")
            assert "Farah Far" in message()
            await scan(demo_gtin(1))
            await until(lambda: app.snapshot is not None and app.snapshot.settlement.pricing.lines, "the item")
            assert app.snapshot.customer is None  # the next customer's sale stays theirs
            await scan(OTHER_CARD)
            await until(lambda: app.snapshot.customer is not None, "the card again")
            assert app.snapshot.customer.id == "FAR1"
            assert app.ui_errors == 0
    finally:
        hub.stop()
