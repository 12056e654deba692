"""A receipt claim at the till: a code this till already sent a claim for is refused at once, in words; events
the hub refused point at the command that shows them, for this till's own data directory."""

from __future__ import annotations

from edge.core.claims import format_claim_code, new_claim_code
from edge.demo.seed import demo_card
from edge.settings import Settings
from sync.client import SyncStatus
from tests.support.till import count, flat, message, screen_text, settle, till_app, type_in

BRAM = demo_card(1)


async def test_a_receipt_claimed_twice_at_the_till_is_refused_the_second_time(demo_settings: Settings) -> None:
    code = format_claim_code(new_claim_code())
    app = till_app(demo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(app, pilot, BRAM)
        await type_in(app, pilot, code)
        assert "Receipt claim sent" in message(app)
        await type_in(app, pilot, code.replace("-", "").lower())  # the same code, typed differently
        assert "already claimed at this till" in message(app), message(app)
        assert "Receipt claim sent" not in message(app)
    assert count(demo_settings, "SELECT count(*) FROM outbox WHERE type = 'receipt.claimed'") == 1


async def test_events_the_hub_refused_name_the_tills_own_data_directory(demo_settings: Settings) -> None:
    app = till_app(demo_settings)
    async with app.run_test(size=(200, 24)) as pilot:
        await settle(app, pilot)
        app._sync_status(SyncStatus(online=True, pending=0, dead=1, oldest_pending_age_s=None,
                                    last_success_at=None, last_error=None))
        await pilot.pause()
        shown = flat(screen_text(app))
        assert f"see 'store-edge sync status --data-dir {demo_settings.data_dir}'" in shown, shown
