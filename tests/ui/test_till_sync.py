"""The till with its sync worker against the real reference hub on 127.0.0.1 (as `make run` wires it)."""

from __future__ import annotations

import time
from pathlib import Path

from edge.db import open_database
from edge.demo.seed import demo_card, demo_gtin, seed_hub
from edge.settings import Settings, load_settings
from edge.ui.app import make_app
from sync.client import SyncClient
from sync.credentials import load as load_credential
from sync.enroll import enroll
from sync.hub.server import start_demo_hub


async def test_sale_reaches_the_hub_and_the_status_bar_says_online(tmp_path: Path) -> None:
    settings: Settings = load_settings(environ={}).replace(data_dir=tmp_path / "till")
    hub = start_demo_hub(tmp_path / "hub", store_id=settings.store.id, device_id=settings.device.id,
                         seed=lambda storage: seed_hub(storage, settings.store.id))  # fmt: skip
    try:
        enroll(hub.url, hub.enrolment_code, settings.data_dir)
        first = SyncClient(settings.database_path, load_credential(settings.data_dir), settings.hub)
        report = first.sync_once()
        first.close()
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
        with hub.server.storage.engine.tx(write=False) as tx:  # the hub holds the sale exactly once
            assert tx.one("SELECT count(*) FROM sales WHERE sale_id = ?", [sale_id])[0] == 1
        db = open_database(settings.database_path)
        states = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        assert set(states) == {"acked"}
    finally:
        hub.stop()


async def test_a_hub_answering_503_shows_as_in_trouble_with_the_error(tmp_path: Path) -> None:
    """The hub is reachable but answers 503 to everything (through the fault proxy): the status bar must not
    say 'online' or 'connecting' - it says the hub is in trouble, and why, and sales keep being taken."""
    import dataclasses

    from sync.faultproxy import FaultProxy, Faults

    settings: Settings = load_settings(environ={}).replace(data_dir=tmp_path / "till")
    hub = start_demo_hub(tmp_path / "hub", store_id=settings.store.id, device_id=settings.device.id,
                         seed=lambda storage: seed_hub(storage, settings.store.id))  # fmt: skip
    try:
        enroll(hub.url, hub.enrolment_code, settings.data_dir)
        first = SyncClient(settings.database_path, load_credential(settings.data_dir), settings.hub)
        first.sync_once()
        first.close()
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
    finally:
        hub.stop()
