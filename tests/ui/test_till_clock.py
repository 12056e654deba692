"""Issue #12 item 5, the clock: a till whose clock is 2 hours fast or a day slow, against a real hub running as
its own process (``store-edge hub serve``, with the true time). The whole till process - the Textual app
through Pilot, its sync worker, the session - runs with the device clock moved (time-machine moves the
system clock of this process only); offers are chosen by the hub-corrected time, a genuine loyalty-app code
is accepted, and the status bar warns the cashier."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization

from devices.barcode.loyalty_token import TokenVerifier, issue_token
from edge.clock import WARN_OFFSET_S, clock_warning
from edge.demo.seed import demo_card, demo_gtin, seed_hub
from edge.settings import Settings, load_settings
from edge.ui.app import make_app
from sync.client import SyncClient, hub_clock_offset
from sync.credentials import load as load_credential
from sync.enroll import enroll
from sync.hub.storage import HubStorage

STORE_EDGE = str(Path(sys.executable).parent / "store-edge")
HAPPY_HOUR = "OFF-HAPPY-HOUR"


@dataclass
class Hub:
    url: str
    code: str
    kid: str
    private_pem: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[tuple[Settings, Hub]]:
    """The demo store on a hub in its own process, with a half-price offer valid for the true hour around now."""
    settings: Settings = load_settings(environ={}).replace(data_dir=tmp_path / "till")
    storage = HubStorage.open(tmp_path / "hub.db")
    seed_hub(storage, settings.store.id)
    now = datetime.now(UTC)
    storage.upsert_offer({"id": HAPPY_HOUR, "kind": "percent_off", "name": "Happy hour", "priority": 100,
                          "params": {"percent": 50, "gtins": [demo_gtin(1)]},
                          "valid_from": (now - timedelta(hours=1)).isoformat(),
                          "valid_until": (now + timedelta(hours=1)).isoformat()})
    code = storage.create_device(settings.store.id, settings.device.id)
    kid = storage.ensure_signing_key()
    pem = storage.signing_private_key_pem(kid)
    storage.close()
    assert pem is not None
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_EDGE_")}
    proc = subprocess.Popen([STORE_EDGE, "hub", "serve", "--db", str(tmp_path / "hub.db"), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the hub did not start"
            time.sleep(0.1)
        yield settings, Hub(url, code, kid, pem)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.mark.parametrize(("skew", "warning"), [(timedelta(hours=2), "Till clock 2 h fast"),
                                               (-timedelta(days=1), "Till clock 24 h slow")])
async def test_a_till_with_a_wrong_clock_uses_the_hubs_time_and_says_so(
    hub_process: tuple[Settings, Hub], skew: timedelta, warning: str
) -> None:
    settings, hub = hub_process
    key = serialization.load_pem_private_key(hub.private_pem.encode(), None)
    with time_machine.travel(datetime.now(UTC) + skew, tick=True):
        def true_now() -> datetime:
            return datetime.now(UTC) - skew

        assert abs((datetime.now(UTC) - true_now()) - skew) < timedelta(seconds=1)  # the device clock is off
        enroll(hub.url, hub.code, settings.data_dir)
        first = SyncClient(settings.database_path, load_credential(settings.data_dir), settings.hub)
        first.sync_once()  # the catalogue, offers and signing keys; and the hub's clock
        first.close()
        app = make_app(settings)
        async with app.run_test(size=(200, 24)) as pilot:
            deadline = time.monotonic() + 30
            while warning not in (status := str(app.screen_stack[0].query_one("#status").render())):
                assert time.monotonic() < deadline, f"no clock warning in {status!r}"
                await pilot.pause(0.05)
            session = app.session
            assert abs(session.clock() - true_now()) < timedelta(seconds=3)

            # offers by the corrected time: the happy hour is on (by the device clock it is over / not begun)
            assert session.scan(demo_card(1)).ok
            assert session.scan(demo_gtin(1)).ok
            offers = {d.offer_id for d in session.settlement().pricing.discounts}
            assert HAPPY_HOUR in offers

            # a genuine app code made now (the phone's clock is right) is accepted
            customer = session.customer
            assert customer is not None
            session.new_sale()
            token = issue_token(key, customer.id, true_now().timestamp(), ttl_s=60, kid=hub.kid)  # type: ignore[arg-type]
            by_device_clock = TokenVerifier(session.repo.token_keys(true_now()), skew_s=30, clock=time.time)
            assert not by_device_clock.verify(token).ok  # what the till did before: refused
            outcome = session.scan(token)
            assert outcome.ok and outcome.kind == "customer", outcome.message
            assert session.customer is not None and session.customer.id == customer.id
            # the sync worker's last status refreshes the screen: let it land before the app closes
            assert app.sync_worker is not None
            await asyncio.to_thread(app.sync_worker.stop, 5.0)
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)


def test_the_offset_comes_from_the_date_header_and_the_warning_from_two_minutes() -> None:
    received = datetime(2026, 11, 30, 12, 0, 0, 600000, tzinfo=UTC)
    # the hub said 10:00:00 (to the second) while the device read 12:00:00.6 on receipt, 0.2 s round trip
    offset = hub_clock_offset("Mon, 30 Nov 2026 10:00:00 GMT", received, 0.2)
    assert offset == pytest.approx(-7200.0, abs=0.01)
    assert hub_clock_offset(None, received, 0.1) is None
    assert hub_clock_offset("yesterday-ish", received, 0.1) is None
    assert clock_warning(None) is None
    assert clock_warning(WARN_OFFSET_S) is None  # exactly two minutes: tolerated
    assert clock_warning(-WARN_OFFSET_S - 1) == "Till clock 2 min fast: hub time in use, call the technician"
    assert clock_warning(3 * 86400) == "Till clock 3 days slow: hub time in use, call the technician"


def test_the_recorded_offset_moves_every_reader_of_the_till_clock(tmp_path: Path) -> None:
    from edge.clock import HubClock
    from edge.db.connection import open_database
    from sync.apply import HUB_CLOCK_OFFSET_KEY, hub_now, set_state

    db = open_database(tmp_path / "store.db")
    clock = HubClock(db, refresh_s=0.0)
    assert clock.offset_s() is None and clock.warning() is None  # the hub never answered: the device's time
    assert abs(clock() - datetime.now(UTC)) < timedelta(seconds=1)
    with db.conn:
        set_state(db, HUB_CLOCK_OFFSET_KEY, "-7200.0")  # as the sync client records it: the device is 2 h fast
    expected = datetime.now(UTC) - timedelta(hours=2)
    assert abs(clock() - expected) < timedelta(seconds=1)
    assert abs(hub_now(db.conn) - expected) < timedelta(seconds=1)  # pulled app-code sightings expire by it
    assert clock.warning() == "Till clock 2 h fast: hub time in use, call the technician"
    with db.conn:
        set_state(db, HUB_CLOCK_OFFSET_KEY, "nan")
    assert clock.offset_s() is None and abs(hub_now(db.conn) - datetime.now(UTC)) < timedelta(seconds=1)
