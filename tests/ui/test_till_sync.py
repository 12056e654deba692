"""The till with its sync worker against the real reference hub on 127.0.0.1 (as `make run` wires it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from edge.db import open_database
from edge.demo.seed import demo_card, demo_gtin, seed_hub
from edge.settings import Settings, load_settings
from edge.ui.app import make_app
from sync.client import SyncClient, SyncReport
from sync.credentials import load as load_credential
from sync.enroll import enroll
from sync.hub.server import DemoHub, start_demo_hub


@pytest.fixture
def synced_till(tmp_path: Path) -> Iterator[tuple[Settings, DemoHub, SyncReport]]:
    """A demo hub on 127.0.0.1 seeded with the demo store, and a till enrolled with it that has pulled once."""
    settings: Settings = load_settings(environ={}).replace(data_dir=tmp_path / "till")
    hub = start_demo_hub(tmp_path / "hub", store_id=settings.store.id, device_id=settings.device.id,
                         seed=lambda storage: seed_hub(storage, settings.store.id))  # fmt: skip
    try:
        enroll(hub.url, hub.enrolment_code, settings.data_dir)
        first = SyncClient(lambda: open_database(settings.database_path), load_credential(settings.data_dir), settings.hub)
        report = first.sync_once()
        first.close()
        yield settings, hub, report
    finally:
        hub.stop()


async def test_sale_reaches_the_hub_and_the_status_bar_says_online(synced_till: tuple[Settings, DemoHub, SyncReport]) -> None:
    settings, hub, report = synced_till
    assert report.pulled >= 214 + 54  # the store's catalogue and customers came from the hub
    app = make_app(settings)
    assert app.sync_worker is not None
    async with app.run_test(size=(80, 24)) as pilot:

        async def until(cond, what: str, limit: float = 30.0) -> None:
            deadline = time.monotonic() + limit
            while not cond():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await pilot.pause(0.05)

        await until(lambda: app.status_source.hub == "online", "the hub to be online")
        for text in (demo_card(1), demo_gtin(1), demo_gtin(2)):
            app.query_one("#scan").value = text
            await pilot.press("enter")
            await app.workers.wait_for_complete([w for w in app.workers if w.group == "session"])
            await pilot.pause()
        await pilot.press("f9")
        await pilot.pause()
        await pilot.press("enter")  # exact cash
        await until(lambda: app.session.last_sale is not None, "the sale")
        sale_id = app.session.last_sale.sale_id
        await until(lambda: app.status_source.read().pending == 0, "the outbox to drain")
        assert "Hub online" in str(app.screen_stack[0].query_one("#status").render())
    with hub.server.storage.read() as conn:  # the hub holds the sale exactly once
        assert conn.execute(sa.text("SELECT count(*) FROM sales WHERE sale_id = :s"), {"s": sale_id}).scalar() == 1
    db = open_database(settings.database_path)
    states = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    assert set(states) == {"acked"}


async def test_a_hub_answering_503_shows_as_in_trouble_with_the_error(synced_till: tuple[Settings, DemoHub, SyncReport]) -> None:
    """The hub is reachable but answers 503 to everything (through the fault proxy): the status bar must not
    say 'online' or 'connecting' - it says the hub is in trouble, and why, and sales keep being taken."""
    import dataclasses

    from sync.faultproxy import FaultProxy, Faults

    settings, hub, _ = synced_till
    with FaultProxy("127.0.0.1", hub.server.port, Faults(http_503=1.0, retry_after="1")) as proxy:
        busy = settings.replace(hub=dataclasses.replace(settings.hub, url=proxy.url, backoff_cap_s=1.0))
        app = make_app(busy)
        async with app.run_test(size=(80, 24)) as pilot:
            deadline = time.monotonic() + 30
            while "in trouble" not in (status := str(app.screen_stack[0].query_one("#status").render())):
                assert time.monotonic() < deadline, f"status stayed {status!r}"
                await pilot.pause(0.05)
            assert "Hub in trouble" in status and "503" in status
            assert app.session.hub_online is False  # offline rules (the burn cap) apply meanwhile


async def test_a_web_order_and_a_pickup_order_show_on_the_customer_panel_after_sync(synced_till: tuple[Settings, DemoHub, SyncReport]) -> None:
    """Cross-channel history: the shop's backend posts orders to the hub (API key); after the till syncs, the
    customer panel lists the web order with its channel and total, and the store's pick-up order as waiting."""
    import json

    import httpx
    from textual.widgets import Input

    from edge.core.money import format_money
    from sync import outbox

    settings, hub, _ = synced_till
    key = hub.server.storage.create_api_key("webshop")
    now = outbox.utc_now_iso()  # newer than the seeded history, so it tops the panel's recent purchases
    orders = [
        {"order_id": "WEB-TEST-1", "customer_id": "C1001", "channel": "web", "status": "delivered",
         "created_at": now, "lines": [{"gtin": demo_gtin(1), "name": "x", "qty": 1, "unit_price_cents": 123}]},
        {"order_id": "APP-PICK-7", "customer_id": "C1001", "channel": "app", "status": "ready",
         "pickup_store_id": settings.store.id, "created_at": now,
         "lines": [{"gtin": demo_gtin(2), "name": "y", "qty": 1, "unit_price_cents": 100},
                   {"gtin": demo_gtin(3), "name": "z", "qty": 2, "unit_price_cents": 100}]},
    ]
    auth = {"Authorization": f"Bearer {key}"}
    totals = {}
    for order in orders:  # the shop asks the hub what the order costs (its offers apply), then places it
        quote = httpx.post(f"{hub.url}/v1/orders/quote", json=order, headers=auth)
        assert quote.status_code == 200, quote.text
        answer = httpx.post(f"{hub.url}/v1/orders", json={**order, "total_cents": quote.json()["total_cents"]},
                            headers=auth)
        assert answer.status_code == 201, answer.text
        totals[order["order_id"]] = quote.json()["total_cents"]
    db = open_database(settings.database_path)

    def till_has_orders() -> bool:
        row = db.execute("SELECT recent_purchases, pickup_orders FROM customers WHERE id = 'C1001'").fetchone()
        return "WEB-TEST-1" in row[0] and "APP-PICK-7" in row[1]

    assert not till_has_orders()  # only the till's own sync can bring them
    app = make_app(settings)
    assert app.sync_worker is not None
    async with app.run_test(size=(80, 40)) as pilot:
        deadline = time.monotonic() + 30
        while not till_has_orders():
            assert time.monotonic() < deadline, "the till never pulled the web orders"
            await pilot.pause(0.05)
        app.query_one("#scan", Input).value = demo_card(1)
        await pilot.press("enter")
        await app.workers.wait_for_complete([w for w in app.workers if w.group == "session"])
        await pilot.pause()
        panel = str(app.query_one("#customer").render())
    history = json.loads(db.execute("SELECT recent_purchases FROM customers WHERE id = 'C1001'").fetchone()[0])
    assert history[0]["id"] in ("WEB-TEST-1", "APP-PICK-7")
    recent = panel.split("Recent purchases:", 1)[1]
    money = format_money(totals["WEB-TEST-1"], settings.store.currency)
    assert any(line.split()[1:] == ["web", money] for line in recent.splitlines() if line.strip()), panel
    waiting = panel.split("Pick-up waiting:", 1)[1].split("Recent purchases:")[0]
    assert "APP-PICK-7: 2 items, ready" in waiting, panel
