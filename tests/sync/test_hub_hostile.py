"""The hub's newer HTTP APIs attacked as a hostile web shop, app backend and device would, over HTTP on 127.0.0.1
on both engines: requests raced in parallel threads (on PostgreSQL they really overlap; on SQLite one writer
serialises them, and the answers must be the same), ids chosen to collide with the hub's own, and bodies no
parser should choke on. Every refusal is a 4xx naming what is wrong; no race gives a 500, a double spend or
another member's data."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from edge.core.contract import EventType
from sync.hub.server import HubServer
from sync.ids import uuid7
from tests.support.hub import seed

BREAD = "4000000000028"
ALL_SCOPES = ["orders", "members:read", "members:write", "rewards"]


class Attacker:
    """An API key holding every scope the member, order and reward APIs need, and a device of store s1."""

    def __init__(self, hub: HubServer) -> None:
        self.hub, self.storage = hub, hub.storage
        self.key = hub.storage.create_api_key("attacker", ALL_SCOPES)
        code = hub.storage.create_device("s1", "t1")
        self.token = httpx.post(f"{hub.url}/v1/enroll", json={"code": code}).json()["token"]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.hub.url, timeout=60, headers={"Authorization": f"Bearer {self.key}"})

    def burst(self, n: int, call: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
        """``n`` requests released at once from ``n`` threads (a barrier), each on its own connection."""
        answers: list[Any] = [None] * n
        gate = threading.Barrier(n)

        def run(i: int) -> None:
            with self.client() as c:
                gate.wait()
                answers[i] = call(c, i)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return answers

    def push(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        event = {"id": uuid7(), "device_id": "t1", "store_id": "s1", "seq": 1, "type": event_type,
                 "payload": payload, "device_time": "2026-11-30T10:00:00Z"}
        answer = httpx.post(f"{self.hub.url}/v1/events", json={"protocol": 1, "events": [event]},
                            headers={"Authorization": f"Bearer {self.token}"}, timeout=20)
        assert answer.status_code == 200, answer.text
        return answer.json()["results"][0]  # type: ignore[no-any-return]


@pytest.fixture
def attacker(hub: HubServer) -> Attacker:
    seed(hub.storage, {"s1": []}, {f"c{i}": ("s1", 1000) for i in range(10)})
    hub.storage.upsert_products([{"gtin": BREAD, "name": "Bread", "price_cents": 149, "vat_rate_bp": 900,
                                  "category": "Bakery"}])
    hub.storage.add_reward({"id": "five-off", "name": "EUR 5 off", "kind": "amount_off", "points": 400,
                            "amount_cents": 500})
    return Attacker(hub)


@pytest.fixture
def api(attacker: Attacker) -> Iterator[httpx.Client]:
    with attacker.client() as client:
        yield client


def _order(order_id: str, customer: str, qty: int = 1, **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "customer_id": customer, "channel": "web", "total_cents": 149 * qty,
            "lines": [{"gtin": BREAD, "qty": qty, "unit_price_cents": 149}], **extra}


def _priced(api: httpx.Client, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the total the hub quotes for it (the shop's checkout asks first)."""
    quote = api.post("/v1/orders/quote", json={k: v for k, v in doc.items() if k != "total_cents"})
    assert quote.status_code == 200, quote.text
    return {**doc, "total_cents": quote.json()["total_cents"]}


def _statuses(answers: list[httpx.Response]) -> list[int]:
    return sorted(a.status_code for a in answers)


# ------------------------------------------------------------------------------------------- rewards
def test_a_reward_claim_id_that_is_already_a_ledger_entry_is_refused_and_charges_nothing(
        attacker: Attacker, api: httpx.Client) -> None:
    # the burn is posted under the claim id, idempotently: an id the ledger holds posted nothing, and the app got
    # the reward's coupon for free (the member's own entry ids are in their profile)
    entry = api.get("/v1/members/c1").json()["points"][0]["entry_id"]
    answer = api.post("/v1/members/c1/rewards/five-off/claim", json={"claim_id": entry})
    assert answer.status_code == 409 and "another points movement" in answer.json()["message"], answer.text
    assert attacker.storage.balance("c1") == 1000
    assert api.post("/v1/members/c1/rewards/five-off/claim", json={"claim_id": "app-1"}).status_code == 201
    assert attacker.storage.balance("c1") == 600
    # a till's reward.claimed under an existing entry id is rejected the same way; its own retry still applies once
    claim = {"reward_id": "five-off", "customer_id": "c2", "points": 400, "created_at": "2026-11-30T10:00:00Z"}
    taken = api.get("/v1/members/c2").json()["points"][0]["entry_id"]
    result = attacker.push(EventType.REWARD_CLAIMED, {**claim, "claim_id": taken})
    assert result["status"] == "rejected" and "another points movement" in result["reason"]
    fresh = uuid7()
    assert attacker.push(EventType.REWARD_CLAIMED, {**claim, "claim_id": fresh})["status"] == "accepted"
    assert attacker.push(EventType.REWARD_CLAIMED, {**claim, "claim_id": fresh})["status"] == "accepted"
    assert attacker.storage.balance("c2") == 600


def test_one_claim_id_raced_by_several_members_charges_one_and_shows_nobody_anothers_claim(
        attacker: Attacker) -> None:
    answers = attacker.burst(4, lambda c, i: c.post(f"/v1/members/c{i + 3}/rewards/five-off/claim",
                                                    json={"claim_id": "shared-id"}))
    assert _statuses(answers) == [201, 409, 409, 409], [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 201)
    assert all(set(a.json()) == {"error", "message"} for a in answers if a.status_code == 409)  # no claim shown
    balances = [attacker.storage.balance(f"c{i + 3}") for i in range(4)]
    assert sorted(balances) == [600, 1000, 1000, 1000] and winner["balance"] == 600


# ------------------------------------------------------------------------------------------- orders
def test_one_order_sent_several_times_at_once_is_placed_once_and_another_customers_copy_is_409(
        attacker: Attacker) -> None:
    answers = attacker.burst(4, lambda c, i: c.post("/v1/orders", json=_order("W-SAME", "c1")))
    assert _statuses(answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert attacker.storage.balance("c1") == 1001  # 1 point earned, once
    answers = attacker.burst(3, lambda c, i: c.post("/v1/orders", json=_order("W-TAKEN", f"c{i + 4}")))
    assert _statuses(answers) == [201, 409, 409], [a.text for a in answers]
    assert all(a.json()["error"] == "order_id_taken" for a in answers if a.status_code == 409)
    assert sorted(attacker.storage.balance(f"c{i + 4}") for i in range(3)) == [1000, 1000, 1001]


def test_returns_and_a_cancel_raced_never_reverse_more_than_was_bought(attacker: Attacker, api: httpx.Client) -> None:
    placed = api.post("/v1/orders", json=_priced(api, _order("W-RET", "c2", qty=5, points_redeemed=100)))
    assert placed.status_code == 201, placed.text
    after_order = attacker.storage.balance("c2")
    answers = attacker.burst(4, lambda c, i: c.post("/v1/orders/W-RET/returns", json={
        "return_id": f"r{i}", "lines": [{"line_no": 1, "qty": 2}]}))
    assert _statuses(answers) == [201, 201, 422, 422], [a.text for a in answers]  # 2 + 2 of 5, then 1 left
    answers = attacker.burst(2, lambda c, i: c.post("/v1/orders/W-RET/cancel") if i else c.post(
        "/v1/orders/W-RET/returns", json={"return_id": "last", "lines": [{"line_no": 1, "qty": 1}]}))
    assert all(a.status_code in (200, 201, 409) for a in answers), [a.text for a in answers]
    # whichever won, the order is fully reversed exactly once: the points earned taken back, the 100 redeemed
    # given back, nothing more
    earned = placed.json()["points_earned"]
    assert attacker.storage.balance("c2") == after_order - earned + 100 == 1000


def test_two_orders_spending_the_same_points_at_once_spend_them_once(attacker: Attacker, api: httpx.Client) -> None:
    attacker.storage.adjust_balance("c5", -500, "test: leave 500")
    doc = _priced(api, _order("W-BURN", "c5", qty=40, points_redeemed=400))
    answers = attacker.burst(3, lambda c, i: c.post("/v1/orders", json={**doc, "order_id": f"W-BURN-{i}"}))
    assert _statuses(answers) == [201, 409, 409], [a.text for a in answers]
    assert all(a.json()["error"] == "insufficient_points" for a in answers if a.status_code == 409)
    assert attacker.storage.balance("c5") >= 0


# ------------------------------------------------------------------------------------------- members
def test_one_sign_up_sent_several_times_at_once_makes_one_member(attacker: Attacker) -> None:
    answers = attacker.burst(4, lambda c, i: c.post("/v1/members", json={"display_name": f"Ada {i}",
                                                                          "external_id": "WEB-77"}))
    assert _statuses(answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


def test_merges_raced_in_a_cycle_or_onto_one_record_merge_once_and_keep_every_point(attacker: Attacker) -> None:
    answers = attacker.burst(2, lambda c, i: c.post(f"/v1/members/c{1 + i}/merge",
                                                    json={"absorbed_id": f"c{2 - i}", "reason": "duplicate"}))
    assert _statuses(answers) == [200, 409], [a.text for a in answers]
    assert all(a.json()["error"] == "already_merged" for a in answers if a.status_code == 409)
    survivor = next(a.json()["survivor_id"] for a in answers if a.status_code == 200)
    assert attacker.storage.balance(survivor) == 2000
    answers = attacker.burst(2, lambda c, i: c.post(f"/v1/members/c{3 + i}/merge",
                                                    json={"absorbed_id": "c5", "reason": "duplicate"}))
    assert _statuses(answers) == [200, 409], [a.text for a in answers]
    assert sorted(attacker.storage.balance(c) for c in ("c3", "c4")) == [1000, 2000]


# ------------------------------------------------------------------------------------------- bodies
@pytest.mark.parametrize("path", ["/v1/members", "/v1/orders", "/v1/orders/quote", "/v1/events",
                                  "/v1/members/c1/rewards/five-off/claim", "/v1/enroll"])
def test_a_number_longer_than_python_reads_is_a_400_sentence(attacker: Attacker, api: httpx.Client,
                                                             path: str) -> None:
    body = b'{"display_name": "Ada", "total_cents": ' + b"9" * 5000 + b"}"
    auth = {"Authorization": f"Bearer {attacker.token}"} if path == "/v1/events" else {}
    answer = api.post(path, content=body, headers={"Content-Type": "application/json", **auth})
    if path.endswith("/claim"):  # a claim body is at most 4 KB, and the refusal says so (it said 32 MB)
        assert answer.status_code == 413 and answer.json()["message"] == "the body exceeds 4096 bytes"
        return
    assert answer.status_code == 400, answer.text
    assert "more digits than any field takes" in answer.json()["message"]


@pytest.mark.parametrize(("name", "words"), [
    ("\u202eevil", "text-direction control U+202E"), ("Ada \u2066x\u2069", "U+2066, U+2069"),
    ("\u200b", "no visible character"), ("\u200b\u200d \u2060", "no visible character"),
])
def test_a_display_name_that_reorders_the_receipt_or_shows_nothing_is_refused(
        attacker: Attacker, api: httpx.Client, name: str, words: str) -> None:
    answer = api.post("/v1/members", json={"display_name": name})
    assert answer.status_code == 400 and "'display_name'" in answer.json()["message"], answer.text
    assert words in answer.json()["message"]
    patched = api.patch("/v1/members/c1", json={"display_name": name})
    assert patched.status_code == 400 and words in patched.json()["message"]
    assert api.get("/v1/members/c1").json()["display_name"] == "C1"  # nothing changed


def test_names_in_any_script_with_joiners_are_kept(attacker: Attacker, api: httpx.Client) -> None:
    for name in ("\u0645\u0631\u06cc\u200c\u0645", "\U0001f469\u200d\U0001f373 Ada", "\u0939\u093f\u0928\u094d\u0926\u0940"):
        made = api.post("/v1/members", json={"display_name": name})
        assert made.status_code == 201 and made.json()["display_name"] == name, made.text


@pytest.mark.parametrize(("created_at", "words"), [
    ("9999-12-31T23:59:59Z", "must lie between 2000-01-01 and now"),
    ("0001-01-01T00:00:00+00:00", "must lie between 2000-01-01 and now"),
    ("2026-05-01T10:00:00", "must carry its time zone"),
    ("yesterday", "must be an ISO 8601 time"),
])
def test_an_order_time_outside_the_programme_is_refused(attacker: Attacker, api: httpx.Client, created_at: str,
                                                        words: str) -> None:
    # the spend window compares order times as text: an order of 9999 counted in the member's tier for ever
    answer = api.post("/v1/orders", json=_order("W-TIME", "c1", created_at=created_at))
    assert answer.status_code == 400 and f"'created_at' {words}" in answer.json()["message"], answer.text
    assert attacker.storage.balance("c1") == 1000


def test_an_order_time_with_an_offset_is_kept_in_utc(attacker: Attacker, api: httpx.Client) -> None:
    placed = api.post("/v1/orders", json=_order("W-TZ", "c1", created_at="2026-01-01T01:30:00+02:00"))
    assert placed.status_code == 201, placed.text
    history = api.get("/v1/members/c1").json()["purchases"]
    assert [h["created_at"] for h in history if h["id"] == "W-TZ"] == ["2025-12-31T23:30:00.000Z"]
