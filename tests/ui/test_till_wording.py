"""What the till says reads the store's way: figures in the locale's number format, dates in the store's date
format, the beacon status in the store's language, and hub trouble whole on an 80-column status bar."""

from __future__ import annotations

from devices.ble.base import SCANNING, SourceStatus
from edge.core.i18n import translator
from edge.demo.seed import demo_card
from edge.presence_runner import status_words
from edge.settings import Settings
from sync.client import SyncStatus
from tests.support.till import flat, screen_text, settle, till_app, type_in


def _panel(app) -> str:
    return flat(str(app.query_one("#customer").render()))


async def test_the_panel_writes_points_and_dates_the_stores_way(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, demo_card(1))
        panel = _panel(app)
        assert "Points: 1,500 available" in panel, panel
        assert "2026-10-17" not in panel and "10/17/2026" in panel, panel  # en: M/d/y, not ISO


async def test_the_spanish_panel_groups_thousands_with_a_dot(spanish_settings: Settings) -> None:
    app = till_app(spanish_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, "612 34 56 01")
        panel = _panel(app)
        assert "1.500" in panel and "1500" not in panel, panel


def test_the_beacon_status_is_in_the_stores_language() -> None:
    words = status_words(SourceStatus(SCANNING, "replaying floor.jsonl"), "hci0", translator("es"))
    assert words == "reproduciendo floor.jsonl"
    assert status_words(SourceStatus(SCANNING, ""), "hci0", translator("es")) == "escaneando hci0"


async def test_hub_trouble_is_shown_whole_on_an_80_column_status_bar(demo_settings: Settings) -> None:
    error = "the hub at http://127.0.0.1:8765 cannot be reached; check the address and the network"
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app._sync_status(SyncStatus(online=True, pending=3, dead=0, oldest_pending_age_s=None,
                                    last_success_at=None, last_error=error))
        await pilot.pause()
        assert error in flat(str(app.query_one("#status").render())), flat(screen_text(app))
        assert error in flat(screen_text(app))
