"""`store-edge demo`: a seeded store in its own data dir, its own local hub on 127.0.0.1, and the till.

With the hub (the default) the demo shows real syncing: the hub holds the demo retailer's data, the till
enrols with a one-time code, pulls the store's catalogue, customers and offers, and pushes every sale.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from edge.db import open_database
from edge.demo import spanish
from edge.demo.seed import seed_demo
from edge.settings import Settings
from edge.store.presence_store import DEMO_FILE, seed_demo_presence


def demo_locale_settings(settings: Settings, locale: str) -> Settings:
    """``settings`` for the demo store in ``locale``: ``es`` is a shop in Madrid (es_ES, euros, Europe/Madrid,
    Spanish phone numbers); ``en`` leaves the settings as they are. ValueError for any other locale."""
    if locale == "en":
        return settings
    if not locale.lower().startswith("es"):
        raise ValueError(f"the demo speaks en and es, not {locale!r}")
    return settings.replace(store=dataclasses.replace(settings.store, **spanish.STORE))


def demo_data_dir(base: Path, locale: str) -> Path:
    """Each demo language keeps its own data (a Spanish store's database is not the English one)."""
    return base if locale == "en" else base.with_name(f"{base.name}-{locale.lower()[:2]}")


def prepare_demo(settings: Settings, data_dir: Path, *, offline_seed: bool = True) -> Settings:
    """Create the demo data dir. ``offline_seed`` fills the till's database directly (no hub)."""
    demo = settings.replace(data_dir=data_dir)
    db = open_database(demo.database_path)
    try:
        if offline_seed and db.execute("SELECT count(*) FROM products").fetchone()[0] == 0:
            seed_demo(db, locale=settings.store.locale)
    finally:
        db.close()
    return demo


def with_presence(settings: Settings) -> Settings:
    """Presence identities and rules for the demo walk, replayed in real time (a paced replay keeps dwells)."""
    db = open_database(settings.database_path)
    try:
        # every start: the EID identities are relative to seeding and resolve for about a day
        seed_demo_presence(db)
    finally:
        db.close()
    # the demo store never closes, so the presence offers show whatever the hour the demo is run at
    return settings.replace(
        ble=dataclasses.replace(settings.ble, replay=f"{DEMO_FILE}@1"),
        store=dataclasses.replace(settings.store, opening_hours="00:00-23:59"),
    )

DEMO_HUB_PORT = 8700  # the demo's hub listens here when the port is free (README, "A new member from the web shop")


def start_hub_and_sync(settings: Settings) -> Any:
    """Start the demo's own hub on 127.0.0.1, enrol this till with it and sync once; returns the running hub
    (``.stop()`` it). Says on stderr where the demo's data lives and what the first sync did, in words."""
    from edge.demo.seed import seed_hub
    from sync import credentials
    from sync.client import SyncClient, SyncError
    from sync.enroll import enroll
    from sync.hub.server import start_demo_hub

    hub = start_demo_hub(settings.data_dir / "hub", store_id=settings.store.id, device_id=settings.device.id,
                         seed=lambda storage: seed_hub(storage, settings.store.id,
                                                       locale=settings.store.locale),
                         preferred_port=DEMO_HUB_PORT)  # fmt: skip
    print(f"demo hub listening on {hub.url} (127.0.0.1 only); enrolling this till ...", file=sys.stderr)
    enroll(hub.url, hub.enrolment_code, settings.data_dir)
    client = SyncClient(lambda: open_database(settings.database_path), credentials.load(settings.data_dir),
                        settings.hub)
    try:
        report = client.sync_once()
        print(f"first sync: {report.summary()}", file=sys.stderr)
    except SyncError as exc:
        print(f"first sync failed ({exc}); the till starts offline and keeps retrying", file=sys.stderr)
    finally:
        client.close()
    return hub


def run_demo(settings: Settings, with_hub: bool = True) -> int:
    """The demo till (``make run``): its data in ``settings.data_dir``, with its own hub unless ``with_hub`` is
    False."""
    from edge.ui.app import run_till

    print(f"demo data in {settings.data_dir} ('store-edge demo --fresh' starts again from fresh data)",
          file=sys.stderr)
    hub = start_hub_and_sync(settings) if with_hub else None
    settings = with_presence(settings)
    try:
        return run_till(settings)  # 1 when an error stopped the till, never 0 after a failure
    finally:
        if hub is not None:
            hub.stop()
