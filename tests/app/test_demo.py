"""The demo's set-up (what `make run` does before the till starts), against a real data dir."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.demo.runner import demo_data_dir, demo_locale_settings, prepare_demo, with_presence
from edge.settings import load_settings


def test_demo_store_is_seeded_and_its_floor_is_open_all_day(tmp_path: Path) -> None:
    settings = prepare_demo(load_settings(environ={}), tmp_path / "demo")
    demo = with_presence(settings)
    db = sqlite3.connect(demo.database_path)
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] >= 200
    assert db.execute("SELECT count(*) FROM customers").fetchone()[0] >= 50
    kinds = {r[0] for r in db.execute("SELECT kind FROM offers")}
    assert kinds == {"percent_off", "amount_off_basket", "buy_x_get_y", "points_multiplier"}
    assert db.execute("SELECT count(*) FROM presence_identities").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM presence_rules").fetchone()[0] > 0
    # the recorded walk is replayed in real time and offers are given whatever the hour the demo runs at
    assert demo.ble.replay.endswith("demo_walk.jsonl@1") and Path(demo.ble.replay[:-2]).exists()
    assert demo.store.opening_hours == "00:00-23:59"


def test_offline_demo_keeps_existing_data(tmp_path: Path) -> None:
    settings = prepare_demo(load_settings(environ={}), tmp_path / "demo")
    db = sqlite3.connect(settings.database_path)
    db.execute("DELETE FROM products WHERE category = 'Deli'")
    db.commit()
    prepare_demo(load_settings(environ={}), tmp_path / "demo")  # a second start does not reseed over sales
    assert sqlite3.connect(settings.database_path).execute(
        "SELECT count(*) FROM products WHERE category = 'Deli'"
    ).fetchone()[0] == 0


def test_the_hub_is_seeded_with_the_same_demo_store_the_offline_till_gets(tmp_path: Path) -> None:
    """One dataset, two seeders: what a till pulls from a demo hub equals what the offline demo writes."""
    from edge.demo.seed import hub_dataset, seed_demo_hub
    from sync.client import SyncClient
    from sync.credentials import load as load_credential
    from sync.enroll import enroll
    from sync.hub.server import start_demo_hub

    offline = prepare_demo(load_settings(environ={}), tmp_path / "offline")
    synced = load_settings(environ={}).replace(data_dir=tmp_path / "synced")
    codes: list[str] = []
    hub = start_demo_hub(tmp_path / "hub", store_id=synced.store.id, device_id="till-x",
                         seed=lambda storage: codes.append(seed_demo_hub(storage, synced.store.id)))
    try:
        assert codes and len(codes[0]) == 14  # seed_demo_hub enrolled its own till-1 as well
        enroll(hub.url, hub.enrolment_code, synced.data_dir)
        from edge.db.connection import open_database

        client = SyncClient(lambda: open_database(synced.database_path), load_credential(synced.data_dir),
                            synced.hub)
        client.sync_once()
        client.close()
    finally:
        hub.stop()

    def content(path: Path) -> dict[str, set[tuple[object, ...]]]:
        db = sqlite3.connect(path)
        return {
            "products": set(db.execute("SELECT gtin, name, price_cents, vat_rate_bp, category FROM products")),
            "customers": set(db.execute("SELECT id, card_number, display_name, tier FROM customers")),
            "offers": set(db.execute("SELECT id, kind, params FROM offers")),
            "coupons": set(db.execute("SELECT code, offer_id, customer_id FROM coupons")),
        }

    at_offline, at_synced = content(offline.database_path), content(synced.database_path)
    assert at_synced["products"] == at_offline["products"]
    assert at_synced["customers"] == at_offline["customers"]
    assert {o[:2] for o in at_synced["offers"]} == {o[:2] for o in at_offline["offers"]}
    assert at_synced["coupons"] == at_offline["coupons"]
    data = hub_dataset("s1")
    assert len(data["products"]) == len(at_offline["products"]) and data["store"] == {"id": "s1", "name": "Demo Store"}
def test_demo_start_says_in_words_what_the_first_sync_did(tmp_path: Path, capsys) -> None:
    from edge.demo.runner import start_hub_and_sync

    settings = prepare_demo(load_settings(environ={}), tmp_path / "demo", offline_seed=False)
    hub = start_hub_and_sync(settings)
    try:
        err = capsys.readouterr().err
    finally:
        hub.stop()
    assert "SyncReport(" not in err
    line = next(line for line in err.splitlines() if line.startswith("first sync: "))
    assert line.startswith("first sync: sent 0 new, 0 already on the hub, 0 rejected; received ")
    assert int(line.rsplit("received ", 1)[1].split()[0]) > 200  # the store's catalogue, customers, offers


def test_make_run_says_where_the_demo_data_lives(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "demo", "--no-hub", "--data-dir", str(data)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # said before the till takes the terminal
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert first.strip() == f"demo data in {data} ('store-edge demo --fresh' starts again from fresh data)"


def test_the_spanish_demo_is_a_shop_in_madrid_with_the_same_data_in_spanish(tmp_path: Path) -> None:
    english = prepare_demo(load_settings(environ={}), tmp_path / "demo")
    spanish = prepare_demo(demo_locale_settings(load_settings(environ={}), "es"), tmp_path / "demo-es")
    assert (spanish.store.locale, spanish.store.currency, spanish.store.timezone, spanish.store.country) == (
        "es_ES", "EUR", "Europe/Madrid", "ES")
    assert demo_data_dir(tmp_path / "demo", "es") == tmp_path / "demo-es"
    en_db, es_db = sqlite3.connect(english.database_path), sqlite3.connect(spanish.database_path)
    query = "SELECT gtin, price_cents, name FROM products ORDER BY gtin"
    en_rows, es_rows = en_db.execute(query).fetchall(), es_db.execute(query).fetchall()
    assert [r[:2] for r in en_rows] == [r[:2] for r in es_rows]  # the same products at the same prices
    names = {r[2] for r in es_rows}
    assert {"Leche entera 1L", "Jamón serrano (por kg)", "Salmón ahumado (por kg)"} <= names
    assert not names & {r[2] for r in en_rows} - {"Mozzarella 125g", "Skyr 450g", "Brioche", "Focaccia",
                                                  "Pretzels 250g"}  # fmt: skip
    offers = {r[0] for r in es_db.execute("SELECT name FROM offers")}
    assert "Oferta leche" in offers and "Milk deal" not in offers
    languages = [r[0] for r in es_db.execute("SELECT json_extract(preferences, '$.language') FROM customers")]
    assert set(languages) == {"es", "en"}  # most members read Spanish; a few chose English in their profile
