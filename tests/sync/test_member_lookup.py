"""Recognised at any till (issue 15 item 5): the member look-up and receipt claims against the real hub over
HTTP on 127.0.0.1 (SQLite and PostgreSQL), with two tills of two stores on two real SQLite files."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.core.claims import claim_code_valid, format_claim_code, new_claim_code
from edge.core.contacts import contact_hash
from edge.demo.seed import demo_card
from edge.session import Outcome, TillSession
from edge.settings import Settings, load_settings
from sync.hub.common import HubError
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from sync.lookup import MemberLookup
from tests.support.hub import Edge, hub_ledger_set, make_edge

GTIN = "05901234123457"
PHONE = "+34 612 34 56 78"
EMAIL = "Ann.Member@example.com"


def _settings(edge: Edge, device: str) -> Settings:
    base = load_settings(environ={})
    return base.replace(
        data_dir=edge.data_dir,
        store=dataclasses.replace(base.store, id=edge.cred.store_id, opening_hours="00:00-23:59", timezone="UTC"),
        device=dataclasses.replace(base.device, id=device),
    )


def _seed(st: HubStorage) -> dict[str, str]:
    st.create_store("s1")
    st.create_store("s2")
    codes = {"t1": st.create_device("s1", "t1"), "t2": st.create_device("s2", "t2")}
    st.upsert_customer({"id": "ann", "display_name": "Ann", "card_number": demo_card(1), "home_store_id": "s1",
                        "phone_hash": contact_hash("phone", PHONE), "email_hash": contact_hash("email", EMAIL)})
    st.adjust_balance("ann", 500, "opening balance")
    st.upsert_products([{"gtin": GTIN, "name": "Coffee beans 500 g", "price_cents": 1250, "vat_rate_bp": 1000,
                         "category": "Grocery"}])
    return codes


def _till(hub: HubServer, tmp_path: Path, codes: dict[str, str], name: str, *, hub_url: str | None = None
          ) -> tuple[Edge, TillSession]:
    edge = make_edge(tmp_path, name, hub.url, codes[name])
    edge.client().sync_once()  # catalogue, keys; the other store's member is not sent
    session = TillSession(_settings(edge, name), edge.db)
    session.member_lookup = MemberLookup(edge.cred, hub_url=hub_url or hub.url)
    session.hub_online = True
    return edge, session


def _identify(session: TillSession, text: str, *, typed: bool = False) -> Outcome:
    """What the till does: scan (or F2 look-up), then - for an unknown member - ask the hub in a worker and
    apply its answer."""
    outcome = session.lookup_customer(text) if typed else session.scan(text)
    if outcome.kind == "ask_hub":
        assert outcome.ask_hub is not None
        outcome = session.member_from_hub(session.ask_hub(*outcome.ask_hub))
    return outcome


def _app_code(st: HubStorage, customer_id: str) -> str:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from devices.barcode.loyalty_token import issue_token

    kid = st.ensure_signing_key()
    key = load_pem_private_key(str(st.signing_private_key_pem(kid)).encode(), None)
    return issue_token(key, customer_id, time.time(), ttl_s=120, kid=kid)  # type: ignore[arg-type]


def _known(edge: Edge, customer_id: str) -> bool:
    return edge.db.execute("SELECT count(*) FROM customers WHERE id = ?", [customer_id]).fetchone()[0] == 1


# ------------------------------------------------------------------------------------------- the look-up
@pytest.mark.parametrize("how", ["card", "phone", "email", "app"])
def test_a_member_of_store_1_is_identified_at_store_2_and_earns(hub: HubServer, tmp_path: Path, how: str) -> None:
    st = hub.storage
    codes = _seed(st)
    app_code = _app_code(st, "ann")
    edge, till = _till(hub, tmp_path, codes, "t2")
    assert not _known(edge, "ann")  # store 2 was never sent store 1's member
    text = {"card": demo_card(1), "phone": PHONE, "email": EMAIL.upper(), "app": app_code}[how]

    outcome = _identify(till, text, typed=how in ("phone", "email"))

    assert outcome.ok and outcome.message.startswith("Member found at the hub: Ann"), outcome.message
    assert till.customer is not None and till.customer.id == "ann"
    assert _known(edge, "ann") and till.customer.balance.confirmed == 500  # cached like a pulled profile
    assert till.add_gtin(GTIN).ok
    sale = till.complete("card")
    assert sale.points_earned == 12 and sale.claim_code is None
    report = edge.client().sync_once()
    assert report.rejected == 0  # the member is now relevant to store 2: its events are accepted
    assert st.balance("ann") == 512
    assert {(e[1], e[2], e[3]) for e in hub_ledger_set(st, "s2")} == {("ann", "earn", 12)}
    log = st.member_lookups("t2")
    assert [(r["store_id"], r["kind"], r["outcome"], r["customer_id"]) for r in log] == [
        ("s2", {"card": "card", "phone": "phone_hash", "email": "email_hash", "app": "app_token"}[how], "found", "ann")]
    # store 2 now receives the member's changes like any other
    st.adjust_balance("ann", 100, "goodwill")
    edge.client().sync_once()
    assert edge.db.execute("SELECT confirmed_points FROM customers WHERE id = 'ann'").fetchone()[0] == 612


@pytest.mark.parametrize("how", ["card", "phone", "app"])
def test_a_merged_records_card_contact_and_app_code_find_the_survivor(hub: HubServer, tmp_path: Path,
                                                                     how: str) -> None:
    """Two records of one person merged at the hub: the absorbed record's card and an app code made for it
    before the merge still identify the member at another store's till, as the survivor; so does its phone,
    which the survivor (who had none) took over."""
    st = hub.storage
    codes = _seed(st)
    st.upsert_customer({"id": "ann2", "display_name": "Ann M.", "card_number": demo_card(2), "home_store_id": "s1"})
    st.adjust_balance("ann2", 100, "opening balance")
    app_code = _app_code(st, "ann")
    st.merge_members("ann2", "ann", who="test", reason="the same person")
    edge, till = _till(hub, tmp_path, codes, "t2")
    text = {"card": demo_card(1), "phone": PHONE, "app": app_code}[how]

    outcome = _identify(till, text, typed=how == "phone")

    assert outcome.ok and outcome.message.startswith("Member found at the hub: Ann M."), outcome.message
    assert till.customer is not None and till.customer.id == "ann2"
    assert till.customer.balance.confirmed == 600  # both records' points
    assert _known(edge, "ann2") and not _known(edge, "ann")
    log = st.member_lookups("t2")
    assert [(r["outcome"], r["customer_id"]) for r in log] == [("found", "ann2")]


def test_a_phone_two_merged_records_shared_never_finds_one_of_them(hub_storage: HubStorage) -> None:
    """Two members share a phone (a household): the look-up by it is ambiguous. Each is then merged into a
    different survivor that has a phone of its own; the shared phone must never find whichever survivor was
    merged last (``member_aliases`` keeps one survivor per phone hash): no member holds it now, so it finds no
    one, and the cashier scans the card, which still finds the right survivor."""
    from sync.hub.common import DeviceAuth

    st = hub_storage
    st.create_store("s1")
    st.create_device("s1", "t1")
    dev, shared = DeviceAuth("t1", "s1"), contact_hash("phone", PHONE)
    for cid, n, phone in (("a1", 1, shared), ("a2", 2, shared), ("b1", 3, contact_hash("phone", "+34 600 000 003")),
                          ("b2", 4, contact_hash("phone", "+34 600 000 004"))):
        st.upsert_customer({"id": cid, "display_name": cid.upper(), "card_number": demo_card(n), "phone_hash": phone})
    assert st.lookup_member(dev, "phone_hash", shared).outcome == "ambiguous"
    st.merge_members("b1", "a1", who="test", reason="the same person")
    st.merge_members("b2", "a2", who="test", reason="the same person")

    answer = st.lookup_member(dev, "phone_hash", shared)

    assert answer.outcome == "not_found", (answer.outcome, answer.customer and answer.customer["id"])
    for card, survivor in ((demo_card(1), "b1"), (demo_card(2), "b2")):
        found = st.lookup_member(dev, "card", card)
        assert (found.outcome, found.customer and found.customer["id"]) == ("found", survivor)


def _get(hub: HubServer, token: str, **params: str) -> httpx.Response:
    return httpx.get(f"{hub.url}/v1/members/lookup", params=params, headers={"Authorization": f"Bearer {token}"})


def test_enumeration_hits_the_limit_and_every_lookup_is_logged_without_the_identifier(hub: HubServer,
                                                                                       tmp_path: Path) -> None:
    st = hub.storage
    codes = _seed(st)
    st.set_config("lookup_misses_per_minute", "5")
    edge = make_edge(tmp_path, "t2", hub.url, codes["t2"])
    guesses = [demo_card(n) for n in range(100, 105)]
    for card in guesses:
        answer = _get(hub, edge.cred.token, card=card)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"
        assert answer.json()["message"] == "no member has this card"
    limited = _get(hub, edge.cred.token, card=demo_card(1))  # even a real card waits now
    assert limited.status_code == 429 and limited.json()["error"] == "too_many_lookups"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "serve the customer as a guest" in limited.json()["message"]
    other = make_edge(tmp_path, "t1", hub.url, codes["t1"])  # another device has its own allowance
    assert _get(hub, other.cred.token, card=demo_card(1)).status_code == 200
    phone = contact_hash("phone", "+34 699 00 00 00")
    assert _get(hub, other.cred.token, phone_hash=phone).status_code == 404

    log = st.member_lookups()
    assert [(r["device_id"], r["store_id"], r["kind"], r["outcome"]) for r in log] == [
        *[("t2", "s2", "card", "not_found")] * 5, ("t2", "s2", "card", "limited"), ("t1", "s1", "card", "found"),
        ("t1", "s1", "phone_hash", "not_found")]
    assert all(r["at"].endswith("Z") for r in log)
    everything = " ".join(str(v) for r in log for v in r.values())
    assert not any(secret in everything for secret in [*guesses, demo_card(1), phone])  # never the identifier


def test_a_lookup_is_refused_without_a_device_credential_or_with_a_bad_query(hub: HubServer, tmp_path: Path) -> None:
    codes = _seed(hub.storage)
    edge = make_edge(tmp_path, "t2", hub.url, codes["t2"])
    assert _get(hub, "nope", card=demo_card(1)).status_code == 401
    key = hub.storage.create_api_key("shop", ["orders"])
    assert _get(hub, key, card=demo_card(1)).status_code == 401  # an API key is not a till
    for params in ({}, {"card": demo_card(1), "phone_hash": "0" * 64}, {"phone_hash": "+34612345678"},
                   {"card": "x" * 65}):
        answer = _get(hub, edge.cred.token, **params)
        assert answer.status_code == 400 and answer.json()["message"], params
    forged = _app_code(hub.storage, "ann")[:-6] + "AAAAAA"
    assert _get(hub, edge.cred.token, app_token=forged).status_code == 404  # a forged code names nobody
    assert hub.storage.member_lookups("t2")[-1]["outcome"] == "not_found"


# ------------------------------------------------------------------------------------------- offline, then claimed
def test_an_offline_guest_sale_is_claimed_once_at_another_till(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = _seed(st)
    edge2, till2 = _till(hub, tmp_path, codes, "t2", hub_url="http://127.0.0.1:9")  # the hub cannot be reached
    unreachable = _identify(till2, demo_card(1))
    assert not unreachable.ok and unreachable.message == ("Hub not reachable: sale goes on as guest, receipt "
                                                          "carries a claim code.")
    assert till2.customer is None
    till2.add_gtin(GTIN)
    till2.add_gtin(GTIN)
    sale = till2.complete("cash", 2500)
    assert sale.claim_code is not None and claim_code_valid(sale.claim_code)
    assert format_claim_code(sale.claim_code) in sale.receipt
    assert edge2.db.execute("SELECT claim_code FROM sales WHERE id = ?", [sale.sale_id]).fetchone()[0] == sale.claim_code
    assert edge2.client().sync_once().rejected == 0  # the network is back: the guest sale reaches the hub

    edge1, till1 = _till(hub, tmp_path, codes, "t1")  # the member's home store
    assert _identify(till1, demo_card(1)).ok
    typo = till1.scan(format_claim_code(sale.claim_code)[:-1] + ("A" if sale.claim_code[-1] != "A" else "B"))
    assert not typo.ok and "typing error" in typo.message
    sent = till1.scan(format_claim_code(sale.claim_code).lower())
    assert sent.ok and sent.message.startswith("Receipt claim sent for Ann"), sent.message
    again = till1.scan(sale.claim_code)  # the cashier scans it twice: this till knows it sent that claim
    assert not again.ok and "already claimed at this till" in again.message, again.message
    report = edge1.client().sync_once()
    assert (report.accepted, report.rejected) == (1, 0)
    assert st.balance("ann") == 525  # 25.00 of coffee at 1 point per euro, once
    codes["t3"] = st.create_device("s1", "t3")  # another till of the store does not know: the hub refuses it
    edge3, till3 = _till(hub, tmp_path, codes, "t3")
    assert _identify(till3, demo_card(1)).ok
    assert till3.scan(sale.claim_code).ok
    report = edge3.client().sync_once()
    assert (report.accepted, report.rejected) == (0, 1)
    assert st.balance("ann") == 525
    import sqlalchemy as sa

    with st.read() as conn:
        claims = conn.execute(sa.text("SELECT kind, points, reason, source, store_id FROM ledger "
                                      "WHERE customer_id = 'ann' AND sale_id = :s"), {"s": sale.sale_id}).all()
    assert [tuple(c) for c in claims] == [("earn", 25, "claimed receipt", f"claim:{sale.sale_id}", "s2")]
    assert _payload(st, sale.sale_id)["claim_code"] == sale.claim_code
    dead = edge3.db.execute("SELECT last_error FROM outbox WHERE state = 'dead'").fetchall()
    assert len(dead) == 1 and "already claimed" in dead[0][0]
    with pytest.raises(HubError, match="already claimed") as refused:
        st.claim_receipt("ann", sale.claim_code)
    assert refused.value.status == 409


def _api_claim(hub: HubServer, key: str, customer_id: str, code: str) -> httpx.Response:
    return httpx.post(f"{hub.url}/v1/members/{customer_id}/claims", json={"code": code},
                      headers={"Authorization": f"Bearer {key}"})


def _push_sale(edge: Edge, customer_id: str | None, code: str, cents: int = 1000) -> str:
    from sync import outbox
    from sync.ids import uuid7

    sale_id = uuid7()
    with edge.db.conn:
        outbox.enqueue(edge.db, "sale.completed", {
            "id": sale_id, "customer_id": customer_id, "total_cents": cents, "claim_code": code,
            "lines": [{"gtin": GTIN, "qty": 1, "gross_cents": cents, "discount_cents": 0, "category": "Grocery"}]})
    assert edge.client().sync_once().rejected == 0
    return sale_id


def test_the_app_claims_through_the_api_and_the_hub_refuses_in_words(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = _seed(st)
    st.upsert_customer({"id": "bob", "display_name": "Bob", "home_store_id": "s1", "tier": "Silver"})
    st.set_config("loyalty_rules", '{"points_per_unit": 2, "tier_multipliers": {"Silver": 1.25}}')
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    key = st.create_api_key("app", ["members:write"])
    guest, member_sale, old = new_claim_code(), new_claim_code(), new_claim_code()
    _push_sale(edge, None, guest, 1049)
    _push_sale(edge, "ann", member_sale)
    _push_sale(edge, None, old)

    assert _api_claim(hub, st.create_api_key("shop", ["orders"]), "bob", guest).status_code == 403
    made = _api_claim(hub, key, "bob", format_claim_code(guest))
    assert made.status_code == 201 and made.json()["points"] == 26  # 10.49 x 2 x 1.25, the hub's own figure
    assert st.balance("bob") == 26
    refusals: list[tuple[str, str, int, str]] = [
        ("bob", guest, 409, "already claimed"), ("ann", guest, 409, "already claimed"),
        ("ann", member_sale, 409, "already earned points for a member"),
        ("ann", guest[:-1] + ("A" if guest[-1] != "A" else "B"), 422, "typing error"),
        ("ann", new_claim_code(), 404, "no receipt with this claim code"),
        ("nobody", old, 422, "no customer"),
    ]
    for cid, code, status, words in refusals:
        answer = _api_claim(hub, key, cid, code)
        assert answer.status_code == status and words in answer.json()["message"], (cid, answer.text)
    st.set_config("claim_valid_days", "1")
    with st.db.write() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text("UPDATE receipt_claims SET issued_at = '2020-01-01T00:00:00.000Z' WHERE code = :c"),
                     {"c": old})
    expired = _api_claim(hub, key, "ann", old)
    assert expired.status_code == 410 and "expired on 2020-01-02" in expired.json()["message"]
    assert st.balance("ann") == 500 and st.balance("bob") == 26


def test_the_claim_points_follow_the_sale_the_hub_holds(hub: HubServer, tmp_path: Path) -> None:
    """The claim names only the code: a hostile claimer cannot say how many points."""
    st = hub.storage
    codes = _seed(st)
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    code = new_claim_code()
    _push_sale(edge, None, code, 999)
    from sync import outbox

    with edge.db.conn:
        outbox.enqueue(edge.db, "receipt.claimed", {"claim_id": "c1", "code": code, "customer_id": "ann",
                                                     "claimed_at": "2026-01-01T00:00:00Z", "points": 100000})
    assert edge.client().sync_once().rejected == 0
    assert st.balance("ann") == 509


def _payload(st: HubStorage, sale_id: str) -> dict[str, Any]:
    import json

    import sqlalchemy as sa

    with st.read() as conn:
        return json.loads(conn.execute(sa.text("SELECT payload FROM sales WHERE sale_id = :s"), {"s": sale_id}).scalar())
