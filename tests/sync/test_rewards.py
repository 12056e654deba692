"""Rewards, event bonuses and personal coupons (issue 15 item 3), against the real hub over HTTP on 127.0.0.1 on
SQLite and PostgreSQL, with tills on real SQLite files and the real sync client.

The journeys: the catalogue reaches the till; a reward claimed at a till without the hub is written with its
outbox event, confirmed by the hub once (reason "reward: <name>", source "reward:<claim id>") and the till's
pending burn clears; an uncovered claim stands and is reported; the app claims through the API; the birthday
coupon reaches a store that learns the member later; bonuses are posted once, referrals capped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from edge.core.contract import EventType, reward_coupon_code
from edge.core.i18n import ENGLISH
from edge.core.loyalty import LoyaltyRules
from edge.store.repository import Repository
from edge.store.rewards import RewardError, claim, rewards
from sync import outbox
from sync.hub.personal_coupons import BirthdayPlan, NextOrderRule
from sync.hub.server import HubServer
from sync.hub.tables import coupons, ledger, offers
from sync.ids import uuid7
from tests.support.hub import Edge, make_edge, seed

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
RULES = LoyaltyRules()
COFFEE = "08710000001007"


@pytest.fixture
def shop(hub: HubServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Stores s1 (tills t1) and s2 (till t2); ada (home s1, 1,000 points), bob (home s2, 100 points); a
    product reward (300 points) and an amount-off reward (400 points, EUR 5)."""
    codes = seed(hub.storage, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 1000), "bob": ("s2", 100)})
    hub.storage.upsert_products([{"gtin": COFFEE, "name": "Ground Coffee 250g", "price_cents": 214,
                                  "vat_rate_bp": 2100, "category": "Beverages"}])
    hub.storage.add_reward({"id": "coffee", "name": "Free coffee", "kind": "product", "points": 300, "gtin": COFFEE})
    hub.storage.add_reward({"id": "five-off", "name": "EUR 5 off", "kind": "amount_off", "points": 400,
                            "amount_cents": 500})
    t1 = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    t2 = make_edge(tmp_path, "t2", hub.url, codes["t2"])
    for edge in (t1, t2):
        edge.client(hub.url).sync_once()
    yield {"hub": hub, "t1": t1, "t2": t2}
    for edge in (t1, t2):
        edge.db.close()


def _claim(edge: Edge, reward_id: str, customer_id: str, *, online: bool = False) -> Any:
    return claim(edge.db, RULES, reward_id, customer_id, hub_online=online, now=datetime.now(UTC), tr=ENGLISH)


def _hub_rows(hub: HubServer, customer_id: str) -> list[dict[str, Any]]:
    with hub.storage.read() as conn:
        rows = conn.execute(select(ledger.c.entry_id, ledger.c.kind, ledger.c.points, ledger.c.reason,
                                   ledger.c.source, ledger.c.store_id).where(ledger.c.customer_id == customer_id)
                            .order_by(ledger.c.applied_at, ledger.c.entry_id))
        return [dict(r._mapping) for r in rows]


def test_the_catalogue_reaches_every_till_and_a_retired_reward_leaves_them(shop: dict[str, Any]) -> None:
    hub, t1, t2 = shop["hub"], shop["t1"], shop["t2"]
    for edge in (t1, t2):
        assert [(r.id, r.points, r.kind) for r in rewards(edge.db)] == [("coffee", 300, "product"),
                                                                        ("five-off", 400, "amount_off")]
    # the amount-off reward's offer needs its coupon: it reaches the tills but no basket without the code
    offer = t1.db.execute("SELECT requires_coupon, customer_id FROM offers WHERE id = 'reward-five-off'").fetchone()
    assert offer == (1, None)
    hub.storage.retire_reward("coffee")
    t1.client(hub.url).sync_once()
    assert [r.id for r in rewards(t1.db)] == ["five-off"]
    with pytest.raises(RewardError, match="no longer offered"):
        _claim(t1, "coffee", "ada")


def test_an_offline_claim_is_one_transaction_and_the_hub_confirms_it_once(shop: dict[str, Any]) -> None:
    hub, t1 = shop["hub"], shop["t1"]
    made = _claim(t1, "coffee", "ada")  # the hub is not told: the till is offline
    assert made.product_name == "Ground Coffee 250g" and made.coupon_code is None
    assert made.balance.available == 700
    row = t1.db.execute("SELECT kind, points, reason, offline FROM ledger WHERE entry_id = ?",
                        [made.claim_id]).fetchone()
    assert row == ("burn", 300, "reward: Free coffee", 1)
    events = [(r[0], r[1]) for r in t1.db.execute("SELECT type, state FROM outbox WHERE type = ?",
                                                  [EventType.REWARD_CLAIMED])]
    assert events == [("reward.claimed", "pending")]
    assert Repository(t1.db).balance("ada").available == 700 and hub.storage.balance("ada") == 1000

    report = t1.client(hub.url).sync_once()  # back online: pushed, applied, confirmed by the profile
    assert report.rejected == 0
    assert hub.storage.balance("ada") == 700
    assert t1.pending_points("ada") == 0 and t1.confirmed_points("ada") == 700
    claims = [r for r in _hub_rows(hub, "ada") if r["kind"] == "burn"]
    assert claims == [{"entry_id": made.claim_id, "kind": "burn", "points": 300, "reason": "reward: Free coffee",
                       "source": f"reward:{made.claim_id}", "store_id": "s1"}]
    # the same claim pushed again (a lost acknowledgement) changes nothing
    with t1.db.conn:
        t1.db.execute("UPDATE outbox SET state = 'pending' WHERE type = ?", [EventType.REWARD_CLAIMED])
    t1.client(hub.url).sync_once()
    assert hub.storage.balance("ada") == 700 and hub.storage.count("reward_claims") == 1


def test_a_claim_the_balance_cannot_cover_offline_is_applied_and_reported(shop: dict[str, Any]) -> None:
    hub, t1, t2 = shop["hub"], shop["t1"], shop["t2"]
    # ada is known at both stores; both tills spend her points while offline
    hub.storage.make_relevant("s2", "ada", "member look-up")
    t2.client(hub.url).sync_once()
    _claim(t1, "five-off", "ada")
    _claim(t1, "five-off", "ada")  # 800 of 1,000 at store 1
    with pytest.raises(RewardError, match="needs 400 points; the member has 200"):
        _claim(t1, "five-off", "ada")  # the till refuses what it knows
    _claim(t2, "five-off", "ada")  # store 2 does not know: 1,000 there too
    for edge in (t1, t2):
        assert edge.client(hub.url).sync_once().rejected == 0
    assert hub.storage.balance("ada") == 1000 - 1200
    overdrafts = hub.storage.exceptions("overdraft")
    assert len(overdrafts) == 1 and overdrafts[0]["customer_id"] == "ada" and overdrafts[0]["balance_after"] == -200


def test_a_coupon_reward_issues_the_members_coupon_and_the_sale_that_uses_it_is_not_an_unknown_coupon(
        shop: dict[str, Any]) -> None:
    hub, t1 = shop["hub"], shop["t1"]
    made = _claim(t1, "five-off", "ada")
    assert made.coupon_code == reward_coupon_code(made.claim_id)
    coupon, problem = Repository(t1.db).check_coupon(made.coupon_code, "ada")
    assert problem is None and coupon is not None and coupon["offer_id"] == "reward-five-off"
    assert Repository(t1.db).check_coupon(made.coupon_code, "bob")[1] is not None  # personal
    sale_id = t1.sale("ada", 1000)
    with t1.db.conn:
        outbox.enqueue(t1.db, "coupon.redeemed", {"code": made.coupon_code, "sale_id": sale_id, "customer_id": "ada"})
    assert t1.client(hub.url).sync_once().rejected == 0
    assert hub.storage.exceptions("unknown_coupon") == [] and hub.storage.exceptions("coupon_reused") == []
    assert hub.storage.coupon_exists(made.coupon_code)


def _raw_push(hub: HubServer, edge: Edge, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    event = {"id": uuid7(), "device_id": edge.cred.device_id, "store_id": edge.cred.store_id, "seq": 10**6,
             "type": event_type, "payload": payload, "device_time": "2026-11-30T10:00:00Z"}
    answer = httpx.post(f"{hub.url}/v1/events", json={"protocol": 1, "events": [event]},
                        headers={"Authorization": f"Bearer {edge.cred.token}"}, timeout=20)
    assert answer.status_code == 200, answer.text
    return answer.json()["results"][0]  # type: ignore[no-any-return]


def test_a_claim_of_a_reward_the_hub_never_had_or_with_another_coupon_code_is_rejected(shop: dict[str, Any]) -> None:
    hub, t1 = shop["hub"], shop["t1"]
    claim_id = uuid7()
    base = {"claim_id": claim_id, "customer_id": "ada", "points": 1, "created_at": "2026-11-30T10:00:00Z"}
    result = _raw_push(hub, t1, EventType.REWARD_CLAIMED, {**base, "reward_id": "free-car"})
    assert result["status"] == "rejected" and "not in the hub's catalogue" in result["reason"]
    result = _raw_push(hub, t1, EventType.REWARD_CLAIMED, {**base, "reward_id": "five-off", "coupon_code": "SAVE3"})
    assert result["status"] == "rejected" and "is not the one claim" in result["reason"]
    # a till that says 1 point is charged the catalogue's 400, and reported
    result = _raw_push(hub, t1, EventType.REWARD_CLAIMED, {**base, "reward_id": "five-off"})
    assert result["status"] == "accepted"
    assert hub.storage.balance("ada") == 600
    assert [e["entry_id"] for e in hub.storage.exceptions("reward_points_differ")] == [claim_id]
    # bob is store 2's: store 1's till may not claim for him
    result = _raw_push(hub, t1, EventType.REWARD_CLAIMED, {**base, "claim_id": uuid7(), "customer_id": "bob",
                                                           "reward_id": "coffee"})
    assert result["status"] == "rejected" and "not a customer of store s1" in result["reason"]


def test_the_app_claims_through_the_hub_api_once_per_claim_id(shop: dict[str, Any]) -> None:
    hub, t1 = shop["hub"], shop["t1"]
    key = hub.storage.create_api_key("app", ["rewards"])
    orders_only = hub.storage.create_api_key("shop", ["orders"])
    api = httpx.Client(base_url=hub.url, timeout=20, headers={"Authorization": f"Bearer {key}"})
    url = "/v1/members/ada/rewards/five-off/claim"
    first = api.post(url, json={"claim_id": "app-1"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["points"] == 400 and body["balance"] == 600 and body["coupon_code"].startswith("RW-")
    again = api.post(url, json={"claim_id": "app-1"})
    assert again.status_code == 200 and again.json() == body and hub.storage.balance("ada") == 600
    assert api.post("/v1/members/bob/rewards/coffee/claim").status_code == 409  # 100 points, needs 300
    assert api.post("/v1/members/nobody/rewards/coffee/claim").status_code == 404
    assert api.post("/v1/members/ada/rewards/free-car/claim").status_code == 404
    assert api.post(url, json={"claim_id": "app-1", "extra": [1]}).status_code == 200  # claim_id decides
    assert api.post("/v1/members/ada/rewards/coffee/claim", json={"claim_id": "app-1"}).status_code == 409
    assert api.post(url, json={"claim_id": "bad id!"}).status_code == 400
    assert api.post(url, content=b"[1]", headers={"Content-Type": "application/json"}).status_code == 400
    assert httpx.post(f"{hub.url}{url}", headers={"Authorization": f"Bearer {orders_only}"}).status_code == 403
    assert httpx.post(f"{hub.url}{url}").status_code == 401
    assert [r["id"] for r in api.get("/v1/rewards").json()["rewards"]] == ["coffee", "five-off"]
    rows = [r for r in _hub_rows(hub, "ada") if r["kind"] == "burn"]
    assert rows == [{"entry_id": "app-1", "kind": "burn", "points": 400, "reason": "reward: EUR 5 off",
                     "source": "reward:app-1", "store_id": "hub"}]
    # the member's store receives the new balance and the coupon
    t1.client(hub.url).sync_once()
    assert t1.confirmed_points("ada") == 600
    assert Repository(t1.db).check_coupon(body["coupon_code"], "ada")[1] is None
    api.close()


def test_the_birthday_coupon_is_issued_once_a_year_and_reaches_a_store_that_learns_the_member_later(
        shop: dict[str, Any]) -> None:
    hub, t1, t2 = shop["hub"], shop["t1"], shop["t2"]
    hub.storage.upsert_customer({"id": "ada", "birthday": "1990-12-17"})
    hub.storage.set_bonus("birthday", 50)
    plan = BirthdayPlan(amount_cents=500, days_before=3, valid_days=31)
    assert hub.storage.issue_birthday_coupons(date(2026, 11, 27), plan) == []  # four days before: not yet
    issued = hub.storage.issue_birthday_coupons(date(2026, 11, 28), plan)
    assert [(i["customer_id"], i["year"], i["valid_from"]) for i in issued] == [("ada", 2026, "2026-11-28")]
    assert hub.storage.issue_birthday_coupons(date(2026, 12, 5), plan) == []  # once per member per year
    assert hub.storage.balance("ada") == 1050  # the birthday bonus, once
    code = issued[0]["code"]
    t1.client(hub.url).sync_once()
    assert Repository(t1.db).check_coupon(code, "ada") == (Repository(t1.db).coupon(code), None)
    assert t2.db.execute("SELECT 1 FROM coupons WHERE code = ?", [code]).fetchone() is None  # not ada's store
    hub.storage.make_relevant("s2", "ada", "member look-up")  # she walks into store 2
    t2.client(hub.url).sync_once()
    coupon, problem = Repository(t2.db).check_coupon(code, "ada")
    assert problem is None and coupon is not None
    offer = t2.db.execute("SELECT kind, params, customer_id, requires_coupon, valid_from, valid_until FROM offers "
                          "WHERE id = ?", [coupon["offer_id"]]).fetchone()
    assert offer == ("amount_off_basket", '{"amount_cents": 500, "threshold_cents": 0}', "ada", 1,
                     "2026-11-28T00:00:00Z", "2026-12-29T00:00:00Z")


def test_bonuses_are_posted_once_and_referrals_are_capped_per_referrer_per_year(shop: dict[str, Any]) -> None:
    hub, t1 = shop["hub"], shop["t1"]
    s = hub.storage
    s.set_bonus("sign_up", 100)
    s.set_bonus("first_purchase", 25)
    s.set_bonus("referral", 200, cap_per_year=1)
    s.upsert_customer({"id": "cem", "home_store_id": "s1"})
    s.upsert_customer({"id": "cem", "display_name": "Cem"})  # an update is not a sign-up
    assert s.balance("cem") == 100
    t1.client(hub.url).sync_once()
    t1.sale("cem", 1500)
    t1.sale("cem", 900)
    t1.client(hub.url).sync_once()
    assert s.balance("cem") == 125  # the first purchase, once
    reasons = sorted((r["reason"], r["source"]) for r in _hub_rows(hub, "cem"))
    assert reasons == [("first purchase bonus", "bonus:first_purchase:cem"), ("sign-up bonus", "bonus:sign_up:cem")]
    assert s.award_referral("ada", "cem") == "200 points posted to ada"
    assert s.award_referral("bob", "cem").startswith("not posted: cem was referred before")
    s.upsert_customer({"id": "dan", "home_store_id": "s1"})
    assert "the cap" in s.award_referral("ada", "dan")
    assert s.balance("ada") == 1200


def test_a_members_sale_over_the_minimum_issues_a_next_order_coupon(shop: dict[str, Any]) -> None:
    hub, t1 = shop["hub"], shop["t1"]
    hub.storage.set_next_order_coupon(NextOrderRule(min_total_cents=2000, amount_cents=300, valid_days=14))
    small, big = t1.sale("ada", 1999), t1.sale("ada", 2500)
    t1.client(hub.url).sync_once()
    t1.client(hub.url).sync_once()  # the coupon issued by the push arrives with the next pull
    rows = t1.db.execute("SELECT c.code, o.id, o.customer_id FROM coupons c JOIN offers o ON o.id = c.offer_id "
                         "WHERE c.code LIKE 'NX-%'").fetchall()
    assert [(r[1], r[2]) for r in rows] == [(f"next-{big}", "ada")] and small not in rows[0][1]


def test_usage_limits_the_till_keeps_what_it_knows_and_the_hub_reports_overshoots(shop: dict[str, Any]) -> None:
    from edge.db import open_database
    from edge.session import TillSession
    from edge.settings import load_settings

    hub, t1, t2 = shop["hub"], shop["t1"], shop["t2"]
    hub.storage.upsert_offer({"id": "LIM", "kind": "percent_off", "name": "Coffee deal",
                              "params": {"percent": 50, "gtins": [COFFEE]},
                              "limits": {"per_customer": 1, "period_days": 30, "total": 2}})
    with pytest.raises(Exception, match="per_customer' and 'period_days' go together"):
        hub.storage.upsert_offer({"id": "BAD", "kind": "percent_off", "name": "x", "params": {"percent": 5},
                                  "limits": {"per_customer": 1}})
    hub.storage.make_relevant("s2", "ada", "member look-up")
    for edge in (t1, t2):
        edge.client(hub.url).sync_once()

    def till(edge: Edge) -> TillSession:
        settings = load_settings(environ={}).replace(data_dir=edge.data_dir)
        return TillSession(settings, open_database(edge.data_dir / "store.db"))

    def coffee_sale(session: TillSession, card: str) -> set[str]:
        session.scan(card)
        session.add_gtin(COFFEE)
        offers = set(session.settlement().pricing.offer_ids)
        session.complete("card")
        return offers

    s1, s2 = till(t1), till(t2)
    assert coffee_sale(s1, "card-ada") == {"LIM"}
    assert coffee_sale(s1, "card-ada") == set()  # the till knows its own unsent sale: one per member
    assert coffee_sale(s2, "card-ada") == {"LIM"}  # store 2 cannot know, offline: the hub will report it
    for edge in (t1, t2):
        edge.client(hub.url).sync_once()
    over = hub.storage.exceptions("offer_limit_exceeded")
    assert len(over) == 1 and "customer ada used offer LIM 2 times in 30 days" in over[0]["detail"]
    t1.client(hub.url).sync_once()
    assert coffee_sale(s1, "card-ada") == set()  # now from the hub's count in her profile
    # the budget of 2 is used up: nobody gets it any more, at any till that has synced
    hub.storage.upsert_customer({"id": "eve", "home_store_id": "s1", "card_number": "card-eve"})
    t1.client(hub.url).sync_once()
    assert coffee_sale(s1, "card-eve") == set()
    assert hub.storage.exceptions("offer_budget_exceeded") == []


def test_the_hubs_daily_jobs_issue_the_birthday_coupons_of_the_programme(hub: HubServer) -> None:
    """The birthday coupon is a programme rule (``hub programme set birthday_coupon_cents=...``) and ``hub
    run-jobs`` / ``hub serve`` issue the coupons due, once a year; 0 turns them off."""
    seed(hub.storage, {"s1": []}, {"ada": ("s1", 0), "bob": ("s1", 0)})
    hub.storage.upsert_customer({"id": "ada", "birthday": "1990-12-17"})
    hub.storage.upsert_customer({"id": "bob", "birthday": "1985-12-02"})
    hub.storage.set_programme(["birthday_coupon_cents=0"])
    assert hub.storage.run_jobs(datetime(2026, 12, 1, 6, tzinfo=UTC))["birthday_coupons"] == 0
    hub.storage.set_programme(["birthday_coupon_cents=750", "birthday_days_before=1", "birthday_valid_days=10"])
    done = hub.storage.run_jobs(datetime(2026, 11, 30, 6, tzinfo=UTC))  # the day before December
    assert done["birthday_coupons"] == 2
    assert hub.storage.run_jobs(datetime(2026, 12, 1, 6, tzinfo=UTC))["birthday_coupons"] == 0  # once a year
    with hub.storage.read() as conn:
        rows = conn.execute(select(coupons.c.customer_id, offers.c.data).join(offers, offers.c.id == coupons.c.offer_id)
                            .where(coupons.c.customer_id.in_(["ada", "bob"]))).all()
    assert sorted(r[0] for r in rows) == ["ada", "bob"]
    assert all('"amount_cents": 750' in r[1] for r in rows)


def test_a_member_made_through_the_api_gets_the_sign_up_bonus_and_a_web_order_the_first_purchase_bonus(
        hub: HubServer) -> None:
    hub.storage.create_store("s1")
    hub.storage.upsert_products([{"gtin": COFFEE, "name": "Ground Coffee 250g", "price_cents": 214,
                                  "vat_rate_bp": 2100, "category": "Beverages"}])
    hub.storage.set_bonus("sign_up", 100)
    hub.storage.set_bonus("first_purchase", 40)
    headers = {"Authorization": f"Bearer {hub.storage.create_api_key('shop', ['members:write', 'orders'])}"}
    made = httpx.post(f"{hub.url}/v1/members", json={"display_name": "Eve", "home_store_id": "s1"}, headers=headers)
    assert made.status_code == 201, made.text
    member = made.json()["id"]
    assert hub.storage.balance(member) == 100  # the sign-up bonus
    order = {"order_id": "W-EVE-1", "customer_id": member, "channel": "web", "total_cents": 214,
             "lines": [{"gtin": COFFEE, "qty": 1, "unit_price_cents": 214}]}
    assert httpx.post(f"{hub.url}/v1/orders", json=order, headers=headers).status_code == 201
    order2 = {**order, "order_id": "W-EVE-2"}
    assert httpx.post(f"{hub.url}/v1/orders", json=order2, headers=headers).status_code == 201
    assert hub.storage.balance(member) == 100 + 40 + 2 + 2  # the first purchase bonus once, 2 points per order


def test_the_app_claims_for_a_merged_away_member_as_the_survivor(shop: dict[str, Any]) -> None:
    """The app still holds the id of a record the hub merged into another: the claim spends the survivor's
    points and the survivor's store receives the new balance."""
    hub, t1 = shop["hub"], shop["t1"]
    hub.storage.upsert_customer({"id": "ada-old", "display_name": "A. Lovelace", "home_store_id": "s2"})
    hub.storage.adjust_balance("ada-old", 200, "opening balance")
    hub.storage.merge_members("ada", "ada-old", who="test", reason="the same person")
    key = hub.storage.create_api_key("app", ["rewards"])
    with httpx.Client(base_url=hub.url, timeout=20, headers={"Authorization": f"Bearer {key}"}) as api:
        made = api.post("/v1/members/ada-old/rewards/five-off/claim", json={"claim_id": "app-old-1"})
        assert made.status_code == 201, made.text
        assert made.json()["balance"] == 800 and hub.storage.balance("ada") == 800
    assert [r["entry_id"] for r in _hub_rows(hub, "ada") if r["kind"] == "burn"][-1] == "app-old-1"
    t1.client(hub.url).sync_once()
    assert t1.confirmed_points("ada") == 800
