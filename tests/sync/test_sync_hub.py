"""Real hub on 127.0.0.1 (SQLite and PostgreSQL), real clients, real edge database files."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from sync import credentials, outbox
from sync.apply import loyalty_public_keys
from sync.client import SyncError
from sync.enroll import EnrolmentError, enroll
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from tests.support.hub import enqueue_unchecked, hub_ledger_set, make_edge, seed


def test_enrol_push_pull_round_trip(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 500)})
    st.upsert_products([{"gtin": "05901234123457", "name": "Coffee", "price_cents": 899, "vat_rate_bp": 900,
                         "category": "coffee"}])
    st.upsert_offer({"id": "o1", "kind": "percent_off", "name": "10 %", "params": {"percent": 10}})
    st.ensure_signing_key()
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    client = edge.client()
    client.sync_once()
    assert edge.confirmed_points("ada") == 500
    assert edge.db.execute("SELECT price_cents FROM products").fetchall() == [(899,)]
    assert edge.db.execute("SELECT id, kind FROM offers").fetchall() == [("o1", "percent_off")]
    keys = loyalty_public_keys(edge.db)
    assert len(keys) == 1 and len(next(iter(keys.values()))["public_key_b64"]) == 44
    token_keys = edge.db.execute("SELECT kid, public_key FROM token_keys").fetchall()
    assert token_keys == [(k["kid"], k["public_key_b64"]) for k in keys.values()]

    earn = edge.ledger("earn", "ada", 120)
    burn = edge.ledger("burn", "ada", 100)
    edge.sale("ada", 1299)
    assert edge.pending_points("ada") == 20
    report = client.sync_once()
    assert (report.accepted, report.rejected) == (3, 0)
    assert st.balance("ada") == 520
    # the edge's pending amount shrinks as the hub confirms: the ledger rows stay, confirmations appear
    assert edge.confirmed_points("ada") == 520
    assert edge.pending_points("ada") == 0
    confirmed = {r[0] for r in edge.db.execute("SELECT entry_id FROM ledger_confirmations")}
    assert confirmed == {earn, burn}
    assert hub_ledger_set(st) == edge.ledger_set()
    history = json.loads(edge.db.execute("SELECT recent_purchases FROM customers WHERE id='ada'").fetchone()[0])
    assert history[0]["channel"] == "store" and history[0]["total_cents"] == 1299
    assert outbox.stats(edge.db).acked == 3


def test_resending_events_changes_nothing(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.ledger("earn", "ada", 50)
    client = edge.client()
    client.sync_once()
    # forget the acks: everything is sent again and the hub reports duplicates, applying nothing twice
    with edge.db.conn:
        edge.db.execute("UPDATE outbox SET state = 'pending'")
    report = client.sync_once()
    assert (report.accepted, report.duplicate) == (0, 1)
    assert hub.storage.balance("ada") == 50
    assert hub.storage.count("events") == 1


def test_malformed_event_is_dead_with_reason_and_the_rest_flows(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.ledger("earn", "ada", 10)
    with edge.db.conn:
        enqueue_unchecked(edge.db, "ledger.burn", {"entry_id": "x", "customer_id": "ada", "points": -5})
    edge.ledger("earn", "ada", 15)
    edge.client().sync_once()
    stats = outbox.stats(edge.db)
    assert stats.acked == 2 and stats.dead == 1
    assert "'points' must be a whole number from 1 to" in stats.dead_letters[0].reason
    assert hub.storage.balance("ada") == 25
    assert outbox.retry_dead(edge.db) == 1 and outbox.stats(edge.db).pending == 1


def test_per_device_order_is_kept(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    for i in range(30):
        edge.ledger("earn", "ada", i + 1)
    client = edge.client()
    client.batch_size = 7
    client.sync_once()
    with hub.storage.read() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM events ORDER BY received_at, event_id"))]
        by_event_id = [r[0] for r in conn.execute(text("SELECT seq FROM events ORDER BY event_id"))]
    # UUIDv7 ids are time-ordered, so id order equals outbox order equals seq order
    assert by_event_id == sorted(by_event_id) == list(range(1, 31))
    assert sorted(seqs) == list(range(1, 31))


def test_unknown_and_revoked_devices_are_refused_in_words(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["till-1"]}, {})
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    r = httpx.get(f"{hub.url}/v1/changes", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"] == "unknown_device"
    assert httpx.get(f"{hub.url}/v1/changes").status_code == 401
    hub.storage.revoke_device("till-1")
    with edge.db.conn:
        outbox.enqueue(edge.db, "feedback.submitted", {"id": "f1", "score": 7})
    with pytest.raises(SyncError, match="this device was revoked on the hub; re-enrol"):
        edge.client().sync_once()
    assert outbox.stats(edge.db).pending == 1  # nothing lost
    # re-enrolment with a fresh code restores service
    fresh = make_edge(tmp_path, "till", hub.url, hub.storage.create_device("s1", "till-1"))
    fresh.client().sync_once()
    assert outbox.stats(fresh.db).pending == 0


def test_enrolment_codes_are_one_time_and_credentials_private(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["till-1"]}, {})
    cred = enroll(hub.url, codes["till-1"].lower(), tmp_path / "d")
    path = credentials.credential_path(tmp_path / "d")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cred.token not in repr(cred)
    with pytest.raises(EnrolmentError, match="already used"):
        enroll(hub.url, codes["till-1"], tmp_path / "e")
    with pytest.raises(EnrolmentError, match="not known to the hub"):
        enroll(hub.url, "AAAA-BBBB-CCCC", tmp_path / "e")
    with pytest.raises(EnrolmentError, match="cannot be reached"):
        enroll("http://127.0.0.1:9", codes["till-1"], tmp_path / "e")
    os.chmod(path, 0o644)
    with pytest.raises(credentials.CredentialError, match="chmod 600"):
        credentials.load(tmp_path / "d")


def test_a_store_only_receives_its_customers(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 10), "bob": ("s2", 20), "cy": ("s2", 0)})
    e1 = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    e1.client().sync_once()
    assert {r[0] for r in e1.db.execute("SELECT id FROM customers")} == {"ada"}
    # bob shops at s1 once: the member look-up (the audited way, issue 12) makes him relevant to s1 first
    st.make_relevant("s1", "bob", "member look-up")
    with e1.db.conn:
        e1.db.execute("INSERT INTO customers (id, display_name) VALUES ('bob', 'Bob')")
    e1.ledger("earn", "bob", 5)
    # cy orders online for pick-up at s1 -> relevant to s1 with the pick-up order
    key = st.create_api_key("web")
    order = {"order_id": "w-1", "customer_id": "cy", "channel": "web", "total_cents": 4200, "pickup_store_id": "s1",
             "lines": [{"gtin": "1", "name": "Tea", "qty": 2, "unit_price_cents": 2100}]}
    r = httpx.post(f"{hub.url}/v1/orders", headers={"Authorization": f"Bearer {key}"}, json=order)
    assert r.status_code == 201 and r.json()["points_earned"] == 42 and r.json()["store_id"] == "s1"
    again = httpx.post(f"{hub.url}/v1/orders", headers={"Authorization": f"Bearer {key}"}, json=order)
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert httpx.post(f"{hub.url}/v1/orders", json={}).status_code == 401
    e1.client().sync_once()
    assert {r[0] for r in e1.db.execute("SELECT id FROM customers")} == {"ada", "bob", "cy"}
    assert e1.confirmed_points("bob") == 25
    assert e1.confirmed_points("cy") == 42  # the web order's points reach the pick-up store's till
    pickups = json.loads(e1.db.execute("SELECT pickup_orders FROM customers WHERE id='cy'").fetchone()[0])
    history = json.loads(e1.db.execute("SELECT recent_purchases FROM customers WHERE id='cy'").fetchone()[0])
    assert pickups[0]["order_id"] == "w-1" and history[0]["channel"] == "web"
    e2 = make_edge(tmp_path, "t2", hub.url, codes["t2"])
    e2.client().sync_once()
    assert {r[0] for r in e2.db.execute("SELECT id FROM customers")} == {"bob", "cy"}
    assert json.loads(e2.db.execute("SELECT pickup_orders FROM customers WHERE id='cy'").fetchone()[0]) == []


def test_two_stores_spend_the_same_points_offline(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 1000)})
    st.upsert_customer({"id": "ada", "display_name": "Ada", "card_number": "card-ada", "home_store_id": "s1"})
    st.make_relevant("s2", "ada", "member look-up")  # s2 may name ada (issue 12: scope)
    e1 = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    e2 = make_edge(tmp_path, "t2", hub.url, codes["t2"])
    e1.client().sync_once()
    with e2.db.conn:  # the card was scanned at s2 too; its till knew the balance from an earlier pull
        e2.db.execute("INSERT INTO customers (id, display_name, confirmed_points) VALUES ('ada', 'Ada', 1000)")
    # both tills are offline and each lets Ada spend 800 of her 1000 points
    s1_sale, s2_sale = e1.sale("ada", 500), e2.sale("ada", 700)
    b1 = e1.ledger("burn", "ada", 800, None)
    b2 = e2.ledger("burn", "ada", 800, None)
    e1.client().sync_once()
    e2.client().sync_once()
    assert st.balance("ada") == -600
    overdrafts = st.exceptions("overdraft")
    assert len(overdrafts) == 1
    assert overdrafts[0]["entry_id"] in (b1, b2) and overdrafts[0]["balance_after"] == -600
    with st.read() as conn:
        assert {r[0] for r in conn.execute(text("SELECT sale_id FROM sales"))} == {s1_sale, s2_sale}  # both sales stand
    e1.client().sync_once()
    assert e1.confirmed_points("ada") == -600 and e1.pending_points("ada") == 0
    key = st.create_api_key("ops", ["reports"])
    report = httpx.get(f"{hub.url}/v1/admin/exceptions", params={"kind": "overdraft"},
                       headers={"Authorization": f"Bearer {key}"}).json()
    assert report["exceptions"][0]["kind"] == "overdraft"


def test_coupon_redeemed_in_two_stores_is_reported(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"], "s2": ["t2"]}, {})
    st.upsert_offer({"id": "o5", "kind": "amount_off_basket", "name": "5 off", "params": {"amount_cents": 500}})
    st.create_coupon("SAVE5", "o5")
    e1, e2 = make_edge(tmp_path, "t1", hub.url, codes["t1"]), make_edge(tmp_path, "t2", hub.url, codes["t2"])
    e1.client().sync_once()
    assert e1.db.execute("SELECT code, redeemed_at FROM coupons").fetchall() == [("SAVE5", None)]
    for e in (e1, e2):
        with e.db.conn:
            outbox.enqueue(e.db, "coupon.redeemed", {"code": "SAVE5", "sale_id": "s", "customer_id": None})
        e.client().sync_once()
    assert [x["kind"] for x in st.exceptions()] == ["coupon_reused"]
    assert e2.db.execute("SELECT redeemed_at IS NOT NULL FROM coupons WHERE code='SAVE5'").fetchone() == (1,)
    st.revoke_coupon("SAVE5")


def test_gzip_bomb_and_garbage_are_refused_cleanly(hub: HubServer, tmp_path: Path) -> None:
    codes = seed(hub.storage, {"s1": ["t1"]}, {})
    cred = enroll(hub.url, codes["t1"], tmp_path / "d")
    h = {"Authorization": f"Bearer {cred.token}", "Content-Encoding": "gzip"}
    bomb = gzip.compress(b"[" + b" " * 40_000_000 + b"]")
    r = httpx.post(f"{hub.url}/v1/events", content=bomb, headers=h)
    assert r.status_code == 400 and "bytes once decompressed" in r.json()["message"]
    r = httpx.post(f"{hub.url}/v1/events", content=b"\x1f\x8bxx", headers=h)
    assert r.status_code == 400
    r = httpx.post(f"{hub.url}/v1/events", json={"protocol": 99, "events": []},
                   headers={"Authorization": f"Bearer {cred.token}"})
    assert r.status_code == 400 and "protocol version" in r.json()["message"]
    r = httpx.get(f"{hub.url}/v1/changes", params={"cursor": "bogus"}, headers={"Authorization": f"Bearer {cred.token}"})
    assert r.status_code == 400 and "cursor" in r.json()["message"]


def test_pull_is_paged_and_resumable(hub: HubServer, tmp_path: Path) -> None:
    st: HubStorage = hub.storage
    codes = seed(st, {"s1": ["t1"]}, {})
    st.upsert_products([{"gtin": f"{i:014d}", "name": f"P{i}", "price_cents": i, "vat_rate_bp": 0, "category": "x"}
                        for i in range(1, 1201)])
    e = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    client = e.client()
    report = client.pull_all(max_pages=1)  # interrupted after the first page
    assert report.pulled == 500  # the store's own record first, then 499 products
    assert e.db.execute("SELECT count(*) FROM products").fetchone()[0] == 499
    report = client.pull_all()
    assert report.pulled == 701
    st.upsert_products([{"gtin": f"{1:014d}", "name": "P1 new", "price_cents": 99, "vat_rate_bp": 0, "category": "x"}])
    assert client.pull_all().pulled == 1
    assert e.db.execute("SELECT name, price_cents FROM products WHERE gtin = ?", [f"{1:014d}"]).fetchone() == ("P1 new", 99)


def test_a_catalogue_pull_travels_gzipped_and_the_till_reads_it(hub: HubServer, tmp_path: Path) -> None:
    st: HubStorage = hub.storage
    codes = seed(st, {"s1": ["t1", "t2"]}, {})
    st.upsert_products([{"gtin": f"{i:014d}", "name": f"Product number {i}", "price_cents": i, "vat_rate_bp": 2100,
                         "category": "grocery"} for i in range(1, 501)])
    cred = enroll(hub.url, codes["t1"], tmp_path / "raw")
    r = httpx.get(f"{hub.url}/v1/changes", headers={"Authorization": f"Bearer {cred.token}"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert len(r.json()["changes"]) == 500
    assert r.num_bytes_downloaded * 4 < len(r.content)  # repetitive JSON: well over 4x smaller on the wire
    plain = httpx.get(f"{hub.url}/v1/changes", headers={"Authorization": f"Bearer {cred.token}",
                                                         "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == r.json()  # a client may refuse gzip
    e = make_edge(tmp_path, "t2", hub.url, codes["t2"])
    assert e.client().pull_all().pulled == 501  # the 500 products and the store's own record, gzipped pages
    assert e.db.execute("SELECT count(*) FROM products").fetchone()[0] == 500
