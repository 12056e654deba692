"""Presence and till-to-till data through a real hub on 127.0.0.1 (SQLite and PostgreSQL) into real edge
databases: app sightings (iOS background path), identities under consent, analytics in hub tables, app-code
sightings across tills, revocations and erasure."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from edge.cli import main as cli
from edge.settings import Settings, load_settings
from edge.store.presence_store import PresenceService, load_registry
from sync import outbox
from sync.hub.server import HubServer
from sync.hub.storage import HubError, HubStorage
from tests.support.hub import Edge, enqueue_unchecked, make_edge, seed

TAG = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
DOOR = f"ibeacon:{TAG}:1:1"
WELCOME = {"campaign_id": "WELCOME", "trigger": "enter", "zone": "store", "valid_minutes": 30,
           "offer": {"kind": "percent_off", "name": "Coffee 20% off", "params": {"percent": 20}}}


def _settings(edge: Edge, device: str = "till-1", replay: Path | None = None) -> Settings:
    base = load_settings(environ={})
    return base.replace(
        data_dir=edge.data_dir,
        store=dataclasses.replace(base.store, id=edge.cred.store_id, opening_hours="00:00-23:59", timezone="UTC"),
        device=dataclasses.replace(base.device, id=device),
        ble=dataclasses.replace(base.ble, replay=str(replay) if replay else ""),
    )


def _rows(edge: Edge, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in edge.db.execute(sql, params or []).fetchall()]


def _post_sighting(hub: HubServer, key: str | None, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{hub.url}/v1/sightings", json=body, headers=headers, timeout=5)


# ------------------------------------------------------------------------------------------- 1. app sightings
async def test_app_sighting_reaches_the_store_and_issues_a_presence_offer(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 0), "bob": ("s1", 0), "cy": ("s2", 0)})
    st.set_consent("ada", "location", True)
    st.set_consent("cy", "location", False)
    st.add_store_beacon("s1", DOOR, "entrance", "door")
    st.set_presence_rule("s1", WELCOME)
    key = st.create_api_key("app-backend")
    now = datetime.now(UTC).isoformat()

    ada = _post_sighting(hub, key, {"customer_id": "ada", "beacon": DOOR.upper().replace("IBEACON", "ibeacon"),
                                    "kind": "enter", "time": now, "sighting_id": "sg-1"})
    assert ada.status_code == 201 and ada.json() == {"sighting_id": "sg-1", "recorded": True, "forwarded": True}
    again = _post_sighting(hub, key, {"customer_id": "ada", "beacon": DOOR, "kind": "enter", "time": now,
                                      "sighting_id": "sg-1"})
    assert again.status_code == 200 and again.json()["recorded"] is False
    # bob never gave location consent, cy withdrew it: stored at the hub, never relayed
    for cid in ("bob", "cy"):
        r = _post_sighting(hub, key, {"customer_id": cid, "store_id": "s1", "zone": "entrance", "kind": "enter",
                                      "time": time.time()})
        assert r.status_code == 201 and r.json()["forwarded"] is False
    assert _post_sighting(hub, None, {"customer_id": "ada"}).status_code == 401
    bad = _post_sighting(hub, key, {"customer_id": "ada", "kind": "wander", "time": "yesterday"})
    assert bad.status_code == 400 and "'kind'" in bad.json()["message"] and "'time'" in bad.json()["message"]
    unknown = _post_sighting(hub, key, {"customer_id": "ada", "beacon": f"ibeacon:{TAG}:9:9", "kind": "enter",
                                        "time": now})
    assert unknown.status_code == 422 and "not a store beacon" in unknown.json()["message"]
    assert st.count("sightings") == 3

    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.client().sync_once()
    # only the consenting customer's sighting reached the store; the beacon and the rule came along
    assert _rows(edge, "SELECT id, customer_id, zone, kind FROM presence_sightings") == [
        ("sg-1", "ada", "entrance", "enter")]
    assert _rows(edge, "SELECT beacon_key, zone FROM store_beacons") == [(DOOR, "entrance")]
    assert _rows(edge, "SELECT campaign_id FROM presence_rules") == [("WELCOME",)]
    assert not _rows(edge, "SELECT 1 FROM presence_sightings WHERE customer_id IN ('bob', 'cy')")

    empty = tmp_path / "no-adverts.jsonl"
    empty.write_text("")
    from edge.presence_runner import PresenceRunner

    runner = PresenceRunner(_settings(edge, replay=empty), edge.data_dir / "store.db", lambda _s: None, lambda: None)
    await runner.start()
    try:
        deadline = time.monotonic() + 10
        while not _rows(edge, "SELECT 1 FROM presence_offers_issued") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await runner.stop()
    assert _rows(edge, "SELECT customer_id, campaign_id, zone FROM presence_offers_issued") == [
        ("ada", "WELCOME", "store")]
    assert _rows(edge, "SELECT count(*) FROM presence_sightings") == [(0,)]  # drained
    notes = [json.loads(p) for (p,) in _rows(edge, "SELECT payload FROM outbox WHERE type = ?",
                                              ["presence.notification_requested"])]
    assert [n["customer_id"] for n in notes] == ["ada"]
    # the runner queued its analytics when it stopped; the hub stores them, the webhook queue holds none
    assert _rows(edge, "SELECT count(*) FROM outbox WHERE type = 'presence.analytics'") == [(1,)]
    edge.client().sync_once()
    assert st.count("presence_analytics") == 1
    assert [n["type"] for n in st.notifications()] == ["presence.notification_requested"]


def test_a_sighting_relayed_before_consent_was_withdrawn_is_not_used(sqlite_hub: HubServer, tmp_path: Path) -> None:
    st = sqlite_hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    st.set_consent("ada", "location", True)
    st.set_presence_rule("s1", WELCOME)
    st.record_sighting({"customer_id": "ada", "store_id": "s1", "zone": "store", "kind": "enter",
                        "time": time.time(), "sighting_id": "sg-late"})
    st.set_consent("ada", "location", False)
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    edge.client().sync_once()
    assert _rows(edge, "SELECT count(*) FROM presence_sightings") == [(0,)]
    # and a row queued while consent held is dropped by the device once its copy of the consent is gone
    with edge.db.conn:
        edge.db.execute("INSERT INTO presence_sightings (id, customer_id, zone, kind, seen_at) VALUES "
                        "('x', 'ada', 'store', 'enter', ?)", [datetime.now(UTC).isoformat()])
    service = PresenceService(edge.db, store_id="s1", opening_hours="00:00-23:59")
    issued, problems = service.drain_sightings()
    assert issued == [] and "no location consent" in problems[0]
    assert _rows(edge, "SELECT count(*) FROM presence_sightings") == [(0,)]


# ------------------------------------------------------------------------------------------- 2. identities
def test_identities_follow_location_consent(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"], "s2": ["till-9"]}, {"ada": ("s1", 0)})
    st.link_tag("ada", DOOR.replace(":1:1", ":100:2"))
    st.set_eid_key("ada", "0102030405060708090A111213141516", 15, 1234)
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    other = make_edge(tmp_path, "other", hub.url, codes["till-9"])
    edge.client().sync_once()
    assert _rows(edge, "SELECT count(*) FROM presence_identities") == [(0,)]  # no consent: nothing delivered

    st.set_consent("ada", "location", True)
    edge.client().sync_once()
    other.client().sync_once()
    assert _rows(edge, "SELECT id, customer_id, kind, beacon_key, eid_identity_key, eid_rotation_exponent, "
                       "eid_clock_offset_s FROM presence_identities ORDER BY id") == [
        ("eid:ada", "ada", "eid", None, "0102030405060708090a111213141516", 15, 1234),
        (f"ibeacon:{TAG}:100:2", "ada", "ibeacon", f"ibeacon:{TAG}:100:2", None, None, 0)]
    registry = load_registry(edge.db)
    assert registry.tags == {f"ibeacon:{TAG}:100:2": "ada"}
    # a store the customer is not relevant to gets neither the customer nor the keys
    assert _rows(other, "SELECT count(*) FROM presence_identities") == [(0,)]

    st.unlink_identity(f"ibeacon:{TAG}:100:2")
    edge.client().sync_once()
    assert _rows(edge, "SELECT id FROM presence_identities") == [("eid:ada",)]

    st.set_consent("ada", "location", False)
    edge.client().sync_once()
    assert _rows(edge, "SELECT count(*) FROM presence_identities") == [(0,)]
    assert _rows(edge, "SELECT json_extract(consents, '$.location') FROM customers WHERE id = 'ada'") == [(0,)]

    st.remove_store_beacon("s1", DOOR)  # never added: a null the edge absorbs
    st.add_store_beacon("s1", DOOR, "entrance")
    st.set_presence_rule("s1", WELCOME)
    edge.client().sync_once()
    assert _rows(edge, "SELECT beacon_key FROM store_beacons") == [(DOOR,)]
    st.remove_store_beacon("s1", DOOR)
    st.remove_presence_rule("s1", "WELCOME")
    edge.client().sync_once()
    assert _rows(edge, "SELECT count(*) FROM store_beacons") == [(0,)]
    assert _rows(edge, "SELECT count(*) FROM presence_rules") == [(0,)]


def test_bad_presence_admin_input_is_refused_with_a_reason(hub_storage: HubStorage) -> None:
    seed(hub_storage, {"s1": []}, {"ada": ("s1", 0)})
    for call, words in (
        (lambda: hub_storage.link_tag("ada", "ibeacon:not-a-uuid:1:2"), "UUID:MAJOR:MINOR"),
        (lambda: hub_storage.link_tag("nobody", DOOR), "no customer"),
        (lambda: hub_storage.set_eid_key("ada", "abcd", 3), "32 hexadecimal"),
        (lambda: hub_storage.set_eid_key("ada", "00" * 16, 16), "0..15"),
        (lambda: hub_storage.add_store_beacon("s9", DOOR, "door"), "no store"),
        (lambda: hub_storage.set_presence_rule("s1", {"campaign_id": "X", "trigger": "teleport"}), "X"),
    ):
        with pytest.raises(HubError) as info:
            call()
        assert words in str(info.value)


def test_admin_commands_for_presence_data(sqlite_hub: HubServer, tmp_path: Path) -> None:
    st = sqlite_hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    db = str(tmp_path / "hub.db")
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps(WELCOME))

    def run(*argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli(["hub", argv[0], "--db", db, *argv[1:]], stdout=out, stderr=err)
        return code, out.getvalue() + err.getvalue()

    assert run("set-consent", "--customer", "ada", "on")[0] == 0
    assert run("link-tag", "--customer", "ada", "--eddystone-uid", "5354524544474530000A:0000000000AB")[0] == 0
    assert run("set-eid-key", "--customer", "ada", "--key", "11" * 16, "--exponent", "10")[0] == 0
    assert run("add-store-beacon", "--store", "s1", "--key", DOOR, "--zone", "entrance")[0] == 0
    assert run("presence-rule", "--store", "s1", "--file", str(rule))[0] == 0
    code, text = run("link-tag", "--customer", "ada", "--ibeacon", "nonsense")
    assert code == 1 and text.startswith("store-edge: ") and "UUID:MAJOR:MINOR" in text
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    edge.client().sync_once()
    assert _rows(edge, "SELECT id FROM presence_identities ORDER BY id") == [
        ("eddystone-uid:5354524544474530000a:0000000000ab",), ("eid:ada",)]
    assert _rows(edge, "SELECT zone FROM store_beacons") == [("entrance",)]
    assert _rows(edge, "SELECT campaign_id FROM presence_rules") == [("WELCOME",)]
    assert run("unlink-identity", "eid:ada")[0] == 0
    assert run("set-consent", "--customer", "ada", "off")[0] == 0
    edge.client().sync_once()
    assert _rows(edge, "SELECT count(*) FROM presence_identities") == [(0,)]


# ------------------------------------------------------------------------------------------- 3. analytics
def test_presence_analytics_are_stored_and_only_notifications_queue_for_the_webhook(
        hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["box-1"]}, {"ada": ("s1", 0), "bob": ("s1", 0)})
    st.set_consent("ada", "location", True)
    edge = make_edge(tmp_path, "box", hub.url, codes["box-1"])
    t = "2026-11-23T10:00:00.000Z"
    with edge.db.conn:
        for cid in ("ada", "bob"):
            outbox.enqueue(edge.db, "presence.visit", {"visit_id": f"v-{cid}", "customer_id": cid, "store_id": "s1",
                                                       "zone": "bakery", "entered_at": t, "exited_at": t,
                                                       "dwell_s": 61.5, "source": "ble"})
        outbox.enqueue(edge.db, "presence.anonymous_count", {"store_id": "s1", "bucket_start": t, "zone": "store",
                                                             "devices": 7, "address": "AA:BB:CC:DD:EE:FF"})
        outbox.enqueue(edge.db, "presence.analytics", {"store_id": "s1", "since": t, "until": t,
                                                       "zone_visits": {"bakery": 2}, "offers_issued": 1,
                                                       "mac": "AA:BB:CC:DD:EE:FF"})
        note = outbox.enqueue(edge.db, "presence.notification_requested", {"offer_id": "o1", "customer_id": "ada"})
    assert edge.client().sync_once().accepted == 5
    with st.read() as conn:
        visits = sorted(tuple(r) for r in conn.execute(text(
            "SELECT visit_id, customer_id, zone, dwell_s FROM presence_visits")))
        counts = [tuple(r) for r in conn.execute(text("SELECT zone, devices FROM presence_anonymous_counts"))]
        summary = json.loads(conn.execute(text("SELECT summary FROM presence_analytics")).scalar_one())
        stored = " ".join(str(tuple(r)) for table in ("presence_visits", "presence_anonymous_counts",
                                                      "presence_analytics")
                          for r in conn.execute(text(f"SELECT * FROM {table}")))
    # bob has no location consent: his visit is counted, not attributed
    assert visits == [("v-ada", "ada", "bakery", 61.5), ("v-bob", None, "bakery", 61.5)]
    assert counts == [("store", 7)]
    assert summary == {"since": t, "until": t, "zone_visits": {"bakery": 2}, "offers_issued": 1}
    assert "AA:BB" not in stored
    assert [(n["event_id"], n["type"]) for n in st.notifications()] == [(note, "presence.notification_requested")]


def test_runner_queues_analytics_hourly_and_on_stop(tmp_path: Path) -> None:
    from edge.db import open_database
    from edge.store.presence_store import enqueue_analytics_due

    db = open_database(tmp_path / "store.db")
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def at(minutes: int, force: bool = False) -> dict[str, Any] | None:
        return enqueue_analytics_due(db, "s1", t0 + timedelta(minutes=minutes), 3600, force=force)

    assert at(0) is None  # the first period starts now
    assert at(59) is None
    first = at(60)
    assert first is not None and (first["since"], first["until"]) == ("2026-11-23T09:00:00.000Z",
                                                                       "2026-11-23T10:00:00.000Z")
    last = at(75, force=True)
    assert last is not None and last["since"] == "2026-11-23T10:00:00.000Z"
    assert db.execute("SELECT count(*) FROM outbox WHERE type = 'presence.analytics'").fetchone()[0] == 2


# ------------------------------------------------------------------------------------------- 4. app codes across tills
def test_an_app_code_seen_at_one_till_is_flagged_at_another(hub: HubServer, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from devices.barcode.loyalty_token import issue_token
    from edge.session import TillSession

    st = hub.storage
    codes = seed(st, {"s1": ["till-a", "till-b"]}, {"ada": ("s1", 0)})
    kid = st.ensure_signing_key()
    key = load_pem_private_key(str(st.signing_private_key_pem(kid)).encode(), None)
    a = make_edge(tmp_path, "a", hub.url, codes["till-a"])
    b = make_edge(tmp_path, "b", hub.url, codes["till-b"])
    a.client().sync_once()
    b.client().sync_once()
    code = issue_token(key, "ada", time.time(), ttl_s=120, kid=kid)  # type: ignore[arg-type]
    other = issue_token(key, "ada", time.time() - 5, ttl_s=120, kid=kid)  # type: ignore[arg-type]

    till_a = TillSession(_settings(a, "till-a"), a.db)
    first = till_a.scan(code)
    assert first.ok and "WARNING" not in first.message
    a.client().sync_once()
    a.client().sync_once()  # till A does not receive its own sighting back
    assert _rows(a, "SELECT till_id FROM token_sightings") == [("till-a",)]

    b.client().sync_once()
    assert _rows(b, "SELECT till_id, customer_id FROM token_sightings") == [("till-a", "ada")]
    till_b = TillSession(_settings(b, "till-b"), b.db)
    copied = till_b.scan(code)
    assert copied.ok and "WARNING" in copied.message and "cop" in copied.message
    fresh = till_b.scan(other)  # a different code of the same customer is not a copy
    assert fresh.ok and "WARNING" not in fresh.message


def test_expired_code_sightings_are_not_kept(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["till-a", "till-b"]}, {"ada": ("s1", 0)})
    a = make_edge(tmp_path, "a", sqlite_hub.url, codes["till-a"])
    b = make_edge(tmp_path, "b", sqlite_hub.url, codes["till-b"])
    with a.db.conn:
        outbox.enqueue(a.db, "loyalty.token_seen", {"token_hash": "ab" * 16, "till_id": "till-a", "customer_id": "ada",
                                                    "seen_at": "2020-01-01T00:00:00+00:00",
                                                    "expires_at": "2020-01-01T00:01:00+00:00"})
        enqueue_unchecked(a.db, "loyalty.token_seen", {"token_hash": 7})
    report = a.client().sync_once()
    assert (report.accepted, report.rejected) == (1, 1)
    b.client().sync_once()
    assert _rows(b, "SELECT count(*) FROM token_sightings") == [(0,)]


# ------------------------------------------------------------------------------------------- 5. revocations, erasure
def test_revocations_and_erasure_reach_the_edge(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 0), "bob": ("s1", 0)})
    st.set_consent("ada", "location", True)
    st.link_tag("ada", DOOR)
    st.upsert_offer({"id": "p-ada", "kind": "percent_off", "name": "Ada 10%", "params": {"percent": 10},
                     "customer_id": "ada"})
    st.create_coupon("ADA5", "p-ada", "ada")
    st.upsert_offer({"id": "pub", "kind": "percent_off", "name": "5%", "params": {"percent": 5}})
    st.create_coupon("SAVE5", "pub")
    kid = st.ensure_signing_key()
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.client().sync_once()
    assert _rows(edge, "SELECT code FROM coupons ORDER BY code") == [("ADA5",), ("SAVE5",)]
    assert _rows(edge, "SELECT kid FROM token_keys") == [(kid,)]
    assert _rows(edge, "SELECT customer_id FROM presence_identities") == [("ada",)]

    st.revoke_coupon("SAVE5")
    st.revoke_signing_key(kid)
    st.forget_customer("ada")
    edge.client().sync_once()
    assert _rows(edge, "SELECT code FROM coupons") == []
    assert _rows(edge, "SELECT count(*) FROM token_keys") == [(0,)]
    assert _rows(edge, "SELECT id FROM customers") == [("bob",)]
    assert _rows(edge, "SELECT count(*) FROM presence_identities") == [(0,)]
    assert _rows(edge, "SELECT id FROM offers WHERE customer_id IS NOT NULL") == []
    assert _rows(edge, "SELECT id FROM offers") == [("pub",)]


def test_erasure_keeps_a_scrubbed_stub_for_the_ledger(sqlite_hub: HubServer, tmp_path: Path) -> None:
    st = sqlite_hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    st.upsert_customer({"id": "ada", "display_name": "Ada L", "card_number": "card-ada", "home_store_id": "s1",
                        "phone_hash": "h1", "consents": {"location": True}})
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    edge.ledger("earn", "ada", 10)
    edge.client().sync_once()
    st.forget_customer("ada")
    edge.client().sync_once()
    # the append-only ledger still names the id; everything personal is gone
    assert _rows(edge, "SELECT id, display_name, card_number, phone_hash, consents FROM customers") == [
        ("ada", "(removed)", None, None, "{}")]


def test_revocation_commands(sqlite_hub: HubServer, tmp_path: Path) -> None:
    st = sqlite_hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {})
    st.upsert_offer({"id": "pub", "kind": "percent_off", "name": "5%", "params": {"percent": 5}})
    st.create_coupon("SAVE5", "pub")
    kid = st.ensure_signing_key()
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    edge.client().sync_once()
    db = str(tmp_path / "hub.db")
    out = io.StringIO()
    assert cli(["hub", "revoke-coupon", "--db", db, "SAVE5"], stdout=out) == 0
    assert cli(["hub", "revoke-key", "--db", db, kid], stdout=out) == 0
    err = io.StringIO()
    assert cli(["hub", "revoke-coupon", "--db", db, "NOPE"], stdout=out, stderr=err) == 1
    assert "no coupon 'NOPE'" in err.getvalue()
    assert cli(["hub", "forget-customer", "--db", db, "nobody"], stdout=out, stderr=err) == 1
    edge.client().sync_once()
    assert _rows(edge, "SELECT count(*) FROM coupons") == [(0,)]
    assert _rows(edge, "SELECT count(*) FROM token_keys") == [(0,)]
    assert f"signing_key:{kid}" in json.loads(_rows(edge, "SELECT value FROM sync_state WHERE key = 'revocations'")[0][0])
