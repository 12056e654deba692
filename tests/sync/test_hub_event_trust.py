"""The hub trusts nothing a device says (issue 12): each hostile event is rejected on its own, with a reason,
while an honest event in the same batch is accepted, and the next pull of an honest till still works.
Against the real hub over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from edge.core.contract import EventType
from sync.hub.server import HubServer
from sync.ids import uuid7
from tests.support.hub import seed
from tests.support.raw_device import Till, earn, priced_sale


@pytest.fixture
def tills(hub: HubServer) -> Iterator[dict[str, Till]]:
    codes = seed(hub.storage, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 100), "bob": ("s2", 50)})
    made = {"t1": Till(hub, codes["t1"], "t1", "s1"), "t2": Till(hub, codes["t2"], "t2", "s2")}
    yield made
    for till in made.values():
        till.client.close()


HOSTILE: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "2^62 points": (EventType.LEDGER_EARN, {"points": 2**62}, {}),
    "1,000,000 points": (EventType.LEDGER_EARN, {"points": 1_000_000}, {}),
    "2^63 balance": (EventType.LEDGER_EARN, {"points": 2**63 - 5}, {}),
    "negative total": (EventType.SALE_COMPLETED, {"total_cents": -100_000_000}, {}),
    "seq 2^63": (EventType.LEDGER_EARN, {}, {"seq": 2**63}),
    "seq 2^64": (EventType.LEDGER_EARN, {}, {"seq": 2**64 + 1}),
}


def _hostile_event(till: Till, name: str) -> dict[str, Any]:
    event_type, override, envelope = HOSTILE[name]
    base = priced_sale("ada") if event_type == EventType.SALE_COMPLETED else earn("ada", 5)
    return till.event(event_type, {**base, **override}, **envelope)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_an_out_of_range_event_is_rejected_alone(hub: HubServer, tills: dict[str, Till], name: str) -> None:
    t1 = tills["t1"]
    honest = t1.event(EventType.LEDGER_EARN, earn("ada", 7))
    hostile = _hostile_event(t1, name)
    results = t1.push(hostile, honest)
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["reason"]
    assert hub.storage.balance("ada") == 107
    assert any(c["kind"] == "customer" and c["key"] == "ada" for c in t1.pull_all())
    assert tills["t2"].pull_all() is not None


def _raw_batch(events: list[dict[str, Any]], replace: tuple[str, str]) -> str:
    return json.dumps({"protocol": 1, "events": events}).replace(*replace)


def test_a_nan_sale_line_is_rejected_and_every_pull_still_works(hub: HubServer, tills: dict[str, Till]) -> None:
    t1 = tills["t1"]
    sale = priced_sale("ada")
    sale["lines"][0]["gross_cents"] = 1798.5  # the marker the raw NaN replaces
    body = _raw_batch([t1.event(EventType.SALE_COMPLETED, sale), t1.event(EventType.LEDGER_EARN, earn("ada", 3))],
                      ("1798.5", "NaN"))
    assert "NaN" in body
    results = t1.push_raw(body)
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert "gross_cents" in results[0]["reason"]
    assert hub.storage.balance("ada") == 103
    assert any(c["kind"] == "customer" and c["key"] == "ada" for c in t1.pull_all())


@pytest.mark.parametrize("bad", ["\\ud800", "\\u0000"], ids=["lone surrogate", "NUL"])
@pytest.mark.parametrize("where", ["payload", "device_time", "id"])
def test_bad_text_is_rejected_alone(hub: HubServer, tills: dict[str, Till], bad: str, where: str) -> None:
    t1 = tills["t1"]
    hostile = t1.event(EventType.LEDGER_EARN, {**earn("ada", 5), "reason": "MARK"})
    if where == "device_time":
        hostile["device_time"] = "MARK"
    elif where == "id":
        hostile["id"] = "MARK" + hostile["id"][:20]
    body = _raw_batch([hostile, t1.event(EventType.LEDGER_EARN, earn("ada", 7))], ("MARK", f"x{bad}x"))
    results = t1.push_raw(body)
    assert [r["status"] for r in results] == ["rejected", "accepted"], results
    assert "NUL" in results[0]["reason"] or "surrogate" in results[0]["reason"]
    assert hub.storage.balance("ada") == 107
    assert tills["t1"].pull_all()


def test_a_sale_total_unrelated_to_its_lines_is_rejected(hub: HubServer, tills: dict[str, Till]) -> None:
    t1 = tills["t1"]
    honest, inflated, off_by_one = (priced_sale("ada"), priced_sale("ada", total=100_000_000),
                                    priced_sale("ada", total=1899))
    results = t1.push(*(t1.event(EventType.SALE_COMPLETED, s) for s in (inflated, honest, off_by_one)))
    assert [r["status"] for r in results] == ["rejected", "accepted", "accepted"]
    assert "does not match its lines" in results[0]["reason"]
    ada = next(c["data"] for c in t1.pull_all() if c["kind"] == "customer" and c["key"] == "ada")
    assert ada["spend_12m_cents"] == 1898 + 1899


def test_a_resent_sale_counts_its_spend_once(hub: HubServer, tills: dict[str, Till]) -> None:
    t1 = tills["t1"]
    sale = priced_sale("ada")
    assert [r["status"] for r in t1.push(t1.event(EventType.SALE_COMPLETED, sale))] == ["accepted"]
    # the same sale under new event ids, in a later batch and twice in one batch
    again = [t1.event(EventType.SALE_COMPLETED, sale) for _ in range(2)]
    assert [r["status"] for r in t1.push(*again)] == ["accepted", "accepted"]
    ada = next(c["data"] for c in t1.pull_all() if c["kind"] == "customer" and c["key"] == "ada")
    assert ada["spend_12m_cents"] == 1898
    reported = hub.storage.exceptions("duplicate_sale")
    assert len(reported) == 2 and all(sale["id"] in r["detail"] for r in reported)
    assert {r["entry_id"] for r in reported} == {e["id"] for e in again}


def _customer_keys(changes: list[dict[str, Any]]) -> set[str]:
    return {c["key"] for c in changes if c["kind"] == "customer"}


@pytest.mark.parametrize("event_type", [EventType.LEDGER_EARN, EventType.PRESENCE_VISIT, EventType.SALE_COMPLETED,
                                        EventType.LEDGER_BURN, EventType.PRESENCE_NOTIFICATION_REQUESTED])
def test_a_till_cannot_claim_another_stores_customer(hub: HubServer, tills: dict[str, Till], event_type: str) -> None:
    t2 = tills["t2"]
    hub.storage.create_coupon("ADA-ONLY", _personal_offer(hub), "ada", True)
    payloads: dict[str, dict[str, Any]] = {
        EventType.LEDGER_EARN: earn("ada", 1), EventType.LEDGER_BURN: earn("ada", 4_999),
        EventType.PRESENCE_VISIT: {"visit_id": uuid7(), "customer_id": "ada", "zone": "entrance", "dwell_s": 5},
        EventType.SALE_COMPLETED: priced_sale("ada"),
        EventType.PRESENCE_NOTIFICATION_REQUESTED: {"customer_id": "ada", "title": "Hi", "message": "Click here"},
    }
    payload = payloads[event_type]
    results = t2.push(t2.event(event_type, payload), t2.event(EventType.LEDGER_EARN, earn("bob", 2)))
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert "not a customer of store s2" in results[0]["reason"]
    assert hub.storage.balance("ada") == 100 and hub.storage.balance("bob") == 52
    reported = hub.storage.exceptions("out_of_scope")
    assert [(r["customer_id"], r["store_id"], r["device_id"]) for r in reported] == [("ada", "s2", "t2")]
    pulled = t2.pull_all()
    assert _customer_keys(pulled) == {"bob"}
    assert not [c for c in pulled if c["kind"] in ("coupon", "offer", "presence_identity")
                and "ada" in json.dumps(c["data"])]


def _personal_offer(hub: HubServer) -> str:
    hub.storage.upsert_offer({"id": "ADA-10", "name": "10% for Ada", "kind": "percent_off", "params": {"percent": 10},
                              "active": True, "customer_id": "ada"})
    return "ADA-10"


def test_make_relevant_lets_a_store_serve_a_member(hub: HubServer, tills: dict[str, Till]) -> None:
    t2 = tills["t2"]
    assert t2.push(t2.event(EventType.LEDGER_EARN, earn("ada", 1)))[0]["status"] == "rejected"
    hub.storage.make_relevant("s2", "ada", "member look-up")
    assert "ada" in _customer_keys(t2.pull_all())
    assert t2.push(t2.event(EventType.SALE_COMPLETED, priced_sale("ada")))[0]["status"] == "accepted"
    assert t2.push(t2.event(EventType.LEDGER_EARN, earn("ada", 1)))[0]["status"] == "accepted"
    assert hub.storage.balance("ada") == 101


def test_a_stored_value_that_cannot_be_served_is_skipped_not_a_500(hub: HubServer, tills: dict[str, Till]) -> None:
    """A NaN stored before the checks existed (in a profile's preferences): the pull skips that one change and
    serves the rest."""
    from sync.hub.tables import customers

    t1 = tills["t1"]
    with hub.storage.db.write() as conn:
        conn.execute(customers.update().where(customers.c.id == "ada").values(preferences='{"shoe_size": NaN}'))
    hub.storage.upsert_customer({"id": "cy", "display_name": "Cy", "home_store_id": "s1"})
    hub.storage.upsert_customer({"id": "ada", "display_name": "Ada", "home_store_id": "s1"})
    keys = _customer_keys(t1.pull_all())
    assert "cy" in keys and "ada" not in keys
    assert tills["t1"].push(t1.event(EventType.LEDGER_EARN, earn("cy", 1)))[0]["status"] == "accepted"


def test_a_burn_without_a_sale_of_its_device_is_reported(hub: HubServer, tills: dict[str, Till]) -> None:
    t1 = tills["t1"]
    sale = priced_sale("ada")
    honest_burn = {**earn("ada", 10), "sale_id": sale["id"]}
    no_sale = {**earn("ada", 20), "sale_id": None}
    results = t1.push(t1.event(EventType.LEDGER_BURN, honest_burn), t1.event(EventType.SALE_COMPLETED, sale),
                      t1.event(EventType.LEDGER_BURN, no_sale))
    assert [r["status"] for r in results] == ["accepted"] * 3
    reported = hub.storage.exceptions("burn_without_sale")
    assert [r["entry_id"] for r in reported] == [no_sale["entry_id"]]
    assert "names no sale" in reported[0]["detail"]
    assert hub.storage.balance("ada") == 70


def test_notification_words_come_from_the_hubs_rule_never_the_device(hub: HubServer, tills: dict[str, Till]) -> None:
    t1 = tills["t1"]
    hub.storage.set_presence_rule("s1", {"campaign_id": "WELCOME", "trigger": "enter", "message": "Welcome back",
                                         "offer": {"kind": "percent_off", "name": "10% today",
                                                   "params": {"percent": 10}}})
    hostile = {"customer_id": "ada", "campaign_id": "WELCOME", "offer_id": "o-1", "store_id": "s9",
               "title": "You won! Click http://evil.example", "message": "Send your PIN to claim"}
    unknown = {**hostile, "campaign_id": "NOPE"}
    results = t1.push(*(t1.event(EventType.PRESENCE_NOTIFICATION_REQUESTED, p) for p in (hostile, unknown)))
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    with hub.storage.read() as conn:
        from sqlalchemy import select

        from sync.hub.tables import presence_notifications as pn
        queued = [json.loads(p) for (p,) in conn.execute(select(pn.c.payload).order_by(pn.c.received_at, pn.c.event_id))]
    by_campaign = {q["campaign_id"]: q for q in queued}
    assert by_campaign["WELCOME"]["title"] == "10% today" and by_campaign["WELCOME"]["message"] == "Welcome back"
    assert "title" not in by_campaign["NOPE"] and "message" not in by_campaign["NOPE"]
    assert all(q["store_id"] == "s1" for q in queued)
    assert "evil" not in json.dumps(queued) and "PIN" not in json.dumps(queued)
