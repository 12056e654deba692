"""The till <-> hub contract: payload checks per event type, the offer-kind registry, beacon keys, rule schema.

Honest payloads (what ``edge/store`` enqueues, sampled from the demo walk) pass; each attack of issue #12
item 2 is named by the check. The store-day simulation's honest events are checked in
``tests/simulate/test_store_day.py``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.beacons.frames import ALTBEACON, EDDYSTONE_UID, IBEACON, BeaconFrame
from devices.beacons.identity import beacon_key as frame_beacon_key
from edge.core import contract
from edge.core.contract import (
    EVENT_FIELDS,
    MAX_POINTS_PER_ENTRY,
    OFFER_KINDS,
    BeaconKeyError,
    BeaconKind,
    EventType,
    OfferRole,
    check_event_payload,
    offer_kinds,
    parse_beacon_key,
    presence_rule_problem,
)

T = "2026-11-23T10:00:00.000Z"
SALE: dict[str, Any] = {
    "id": "01900000-0000-7000-8000-000000000000", "customer_id": "C1001", "created_at": T,
    "subtotal_cents": 1250, "discount_cents": 125, "points_redeemed": 0, "points_value_cents": 0,
    "total_cents": 1125, "vat_cents": 93, "payment_method": "card", "tendered_cents": None, "points_earned": 11,
    "lines": [{"line_no": 1, "gtin": "08710000000010", "name": "Whole Milk 1L", "category": "Dairy", "qty": 5,
               "unit_price_cents": 250, "gross_cents": 1250, "discount_cents": 125, "vat_rate_bp": 900}],
    "discounts": [{"n": 0, "line_no": 1, "offer_id": "OFF-DAIRY10", "amount_cents": 125,
                   "reason": "Dairy week: 10% off Whole Milk 1L"}],
}  # fmt: skip
EARN = {"entry_id": "01900000-0000-7000-8000-000000000001", "customer_id": "C1001", "points": 11,
        "sale_id": SALE["id"], "reason": "purchase at Demo Store", "created_at": T}


def test_every_event_type_has_its_fields_declared() -> None:
    assert set(EVENT_FIELDS) == set(EventType)


def test_honest_payloads_pass() -> None:
    assert check_event_payload(EventType.SALE_COMPLETED, SALE) is None
    assert check_event_payload(EventType.LEDGER_EARN, EARN) is None
    assert check_event_payload(EventType.LEDGER_BURN, {**EARN, "points": MAX_POINTS_PER_ENTRY}) is None
    assert check_event_payload("sale.completed", {"sale_id": "s-1"}) is None  # older tills named the id so
    assert check_event_payload("some.future_type", {"anything": [1, 2.5, "x", None, True]}) is None


@pytest.mark.parametrize(
    ("event_type", "payload", "fragment"),
    [
        ("ledger.earn", {**EARN, "points": 2**62}, "'points' must be a whole number from 1 to 100000"),
        ("ledger.earn", {**EARN, "points": 1_000_000}, "'points'"),
        ("ledger.burn", {**EARN, "points": 0}, "'points'"),
        ("ledger.burn", {**EARN, "points": True}, "'points'"),
        ("ledger.burn", {**EARN, "points": 5.0}, "'points'"),
        ("ledger.earn", {k: v for k, v in EARN.items() if k != "entry_id"}, "needs 'entry_id'"),
        ("ledger.earn", {**EARN, "customer_id": "C" * 65}, "'customer_id' must be a string of 1 to 64"),
        ("sale.completed", {**SALE, "total_cents": -100_000_000}, "'total_cents'"),
        ("sale.completed", {**SALE, "lines": [{**SALE["lines"][0], "gross_cents": math.nan}]}, "item 0: 'gross_cents'"),
        ("sale.completed", {**SALE, "lines": [{**SALE["lines"][0], "qty": 1000}]}, "'qty'"),
        ("sale.completed", {**SALE, "note": math.inf}, "not finite"),
        ("sale.completed", {**SALE, "payment_method": "voucher"}, "'payment_method' must be one of cash, card"),
        ("sale.completed", {"total_cents": 5}, "needs 'id'"),
        ("coupon.redeemed", {"code": "SAVE\ud800"}, "lone surrogate"),
        ("coupon.redeemed", {"code": "SAVE\x00"}, "NUL"),
        ("feedback.submitted", {"id": "f", "score": 11}, "'score'"),
        ("loyalty.token_seen", {"token_hash": 7}, "'token_hash'"),
        ("presence.visit", {"dwell_s": math.nan}, "'dwell_s'"),
        ("presence.anonymous_count", {"bucket_start": T, "zone": "store", "devices": -1}, "'devices'"),
        ("presence.notification_requested", {"customer_id": "ada", "x": {"\x00": 1}}, "NUL"),
        ("presence.analytics", {"since": T, "until": T, "big": 2**63}, "-2^53..2^53"),
        ("presence.analytics", [1], "must be a JSON object"),
    ],
)
def test_hostile_payloads_are_named(event_type: str, payload: Any, fragment: str) -> None:
    problem = check_event_payload(event_type, payload)
    assert problem is not None and fragment in problem, problem
    assert problem.startswith(event_type)


def test_depth_is_bounded_without_recursion() -> None:
    deep: Any = 1
    for _ in range(5_000):
        deep = [deep]
    problem = check_event_payload("presence.visit", {"x": deep})
    assert problem is not None and "nested deeper than 8" in problem
    assert check_event_payload("sale.completed", SALE) is None  # a sale is 3 deep


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*EventType, "x.unknown"]), st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_the_check_never_raises_and_accepts_only_clean_json(event_type: str, payload: dict[str, Any]) -> None:
    problem = check_event_payload(event_type, payload)
    if problem is None:  # whatever passes is strict JSON, encodable as UTF-8 text
        json.dumps(payload, allow_nan=False).encode("utf-8")


# the fast path (``contract._FAST_CHECKS``) must give the slow path's answer for any payload, valid or not
class _Key(str):
    pass


class _Count(int):
    pass


VISIT = {"visit_id": "v1", "customer_id": "C1001", "store_id": "s1", "zone": "coffee", "entered_at": T,
         "exited_at": T, "dwell_s": 312.5, "source": "ble"}
BASES: list[tuple[str, dict[str, Any]]] = [
    ("sale.completed", SALE), ("ledger.earn", EARN), ("ledger.burn", EARN), ("presence.visit", VISIT),
    ("presence.anonymous_count", {"store_id": "s1", "bucket_start": T, "zone": "coffee", "devices": 17}),
    ("presence.analytics", {"since": T, "until": T, "zone_visits": {"coffee": 3}, "conversion_rate": 0.5}),
]
EDGES = [None, True, False, 0, 1, -1, 12, 64, 65, 999, 1000, 10**5, 10**5 + 1, 10**11, 10**11 + 1, 2**53, 2**53 + 1,
         0.5, 1.0, -0.0, 1e7, 1e7 + 1, math.inf, math.nan, "", "x" * 12, "x" * 40, "x" * 41, "x" * 64, "x" * 65,
         "x" * 200, "x" * 201, "x" * 2000, "x" * 2001, "x" * 10_001, "a\x00", "\ud800", "é", "card", "cash",
         _Key("card"), _Count(1), [], {}, [{}], [[]], {"a": "\x00"}, {"\x00": 1}, [SALE["lines"][0]] * 2]
ODD_VALUES = st.one_of(st.sampled_from(EDGES), st.sampled_from(EDGES), st.builds(_Key, st.text(max_size=3)),
                       st.integers(), st.floats(), st.text(max_size=70), JSON)


@st.composite
def near_valid(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An honest payload with a few of its fields (or a sale line's) replaced, removed or added."""
    event_type, base = draw(st.sampled_from(BASES))
    payload = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 3))):
        target, lines = payload, payload.get("lines")
        if isinstance(lines, list) and lines and isinstance(lines[0], dict) and draw(st.booleans()):
            target = lines[0]
        declared = st.sampled_from(sorted(target))
        key = draw(st.one_of(declared, declared, declared, st.text(max_size=8), st.builds(_Key, declared)))
        target.pop(key, None)  # a key of another type than the one it replaces (_Key) is then kept
        if draw(st.integers(0, 4)):
            target[key] = draw(ODD_VALUES)
    return event_type, payload


@settings(max_examples=1000, deadline=None)
@given(near_valid())
def test_the_fast_path_answers_as_the_slow_path(case: tuple[str, dict[str, Any]]) -> None:
    event_type, payload = case
    assert check_event_payload(event_type, payload) == contract._payload_problem(event_type, payload)


def test_each_field_at_each_edge_is_answered_as_by_the_slow_path() -> None:
    """Every declared field of the honest payloads (and of a sale line) replaced by each edge value, renamed to
    a str subclass, or removed: one change at a time, every one of them."""
    for event_type, base in BASES:
        targets: list[tuple[dict[str, Any], dict[str, Any]]] = []
        payload = json.loads(json.dumps(base))
        targets.append((payload, payload))
        if "lines" in payload:
            targets.append((payload, payload["lines"][0]))
        for whole, target in targets:
            for key in sorted(target):
                value = target.pop(key)
                changes = [*((key, edge) for edge in EDGES), (_Key(key), value)]
                for changed_key, changed in changes:
                    target[changed_key] = changed
                    assert check_event_payload(event_type, whole) == contract._payload_problem(event_type, whole)
                    del target[changed_key]
                assert check_event_payload(event_type, whole) == contract._payload_problem(event_type, whole)
                target[key] = value


def test_the_fast_path_takes_honest_payloads_and_leaves_odd_ones_to_the_slow_path() -> None:
    assert all(contract._FAST_CHECKS[t](p) for t, p in BASES)  # what the hub sees on every push
    odd = [("sale.completed", {"sale_id": "s-1"}),  # an alias: worded by the slow path
           ("ledger.earn", {**EARN, "points": _Count(3)}), ("ledger.earn", {_Key("points"): 3, **EARN}),
           ("presence.visit", {**VISIT, "dwell_s": math.inf}), ("sale.completed", {**SALE, "lines": [[]]})]
    for event_type, payload in odd:
        assert not contract._FAST_CHECKS[event_type](payload)
        assert check_event_payload(event_type, payload) == contract._payload_problem(event_type, payload)


def test_the_demo_walks_outbox_events_all_pass(tmp_path: Path) -> None:
    """Sales (guest, member, coupon, points redeemed, weighed), feedback and presence events as the demo makes
    them: every outbox payload passes the contract."""
    from edge.core.basket import Basket
    from edge.core.catalog import Product
    from edge.core.loyalty import LoyaltyRules
    from edge.core.offers import CustomerContext
    from edge.db import open_database
    from edge.demo.seed import seed_demo
    from edge.store import presence_store
    from edge.store.repository import Repository
    from edge.store.sales import SalesService

    db = open_database(tmp_path / "store.db")
    seed_demo(db)
    repo = Repository(db)
    service = SalesService(db, LoyaltyRules())
    now = datetime.now(UTC)
    products = [Product(r[0], r[1], r[2], r[3], r[4]) for r in db.execute(
        "SELECT gtin, name, price_cents, vat_rate_bp, category FROM products ORDER BY gtin LIMIT 40").fetchall()]
    offers = repo.offers_for("C1001")
    for n in range(6):
        basket = Basket()
        for k, p in enumerate(products[n * 5:n * 5 + 5]):
            basket.add(p, k + 1)
        if n % 2:
            basket.customer = CustomerContext("C1001", "Gold")
        if n == 3:
            basket.coupons["SAVE3-ALPHA"] = "OFF-COUPON3"
        if n == 5:
            basket.points_to_redeem = 100
        sale = service.complete(basket, offers, payment_method="cash" if n % 3 else "card",
                                tendered_cents=100_000 if n % 3 else None, now=now)
        service.record_feedback(sale.sale_id, "C1001" if n % 2 else None, n)
    presence_store.record_visit(db, presence_store.Visit("C1002", "bakery", now - timedelta(minutes=3), now,
                                                         183.25, "ble"), "store-1")
    presence_store.enqueue_analytics(db, now - timedelta(hours=1), now, "store-1")
    rows = db.execute("SELECT type, payload FROM outbox").fetchall()
    assert {t for t, _ in rows} >= {"sale.completed", "ledger.earn", "ledger.burn", "coupon.redeemed",
                                   "feedback.submitted", "presence.visit", "presence.analytics"}
    for event_type, payload in rows:
        assert check_event_payload(event_type, json.loads(payload)) is None, (event_type, payload)
    db.close()


# ------------------------------------------------------------------------------------------- offer kinds
def test_each_kind_is_registered_once_with_a_role_and_a_check() -> None:
    assert offer_kinds() == ("percent_off", "buy_x_get_y", "amount_off_basket", "points_multiplier")
    assert offer_kinds(OfferRole.LINE) == ("percent_off", "buy_x_get_y")
    assert offer_kinds(OfferRole.BASKET) == ("amount_off_basket",)
    assert offer_kinds(OfferRole.MULTIPLIER) == ("points_multiplier",)
    for kind, spec in OFFER_KINDS.items():
        assert spec.kind == kind
        assert spec.params_problem(kind, {}) is not None  # every kind has a required parameter


def test_the_old_import_path_still_works() -> None:
    from edge.core import offers

    assert offers.offer_params_problem is contract.offer_params_problem
    assert offer_kinds() == offers.KINDS and offer_kinds(OfferRole.LINE) == offers.LINE_KINDS


# ------------------------------------------------------------------------------------------- beacon keys
@pytest.mark.parametrize(
    ("frame", "typed"),
    [
        (BeaconFrame(IBEACON, uuid="e2c56db5-dffb-48d2-b060-d0f5a71096e0", major=100, minor=7),
         " iBeacon:E2C56DB5-DFFB-48D2-B060-D0F5A71096E0:100:7 "),
        (BeaconFrame(EDDYSTONE_UID, namespace="5354524544474530000a", instance="000000000001"),
         "EDDYSTONE-UID:5354524544474530000A:000000000001"),
        (BeaconFrame(ALTBEACON, beacon_id="ab" * 20), "altbeacon:" + "AB" * 20),
    ],
)
def test_a_typed_key_parses_to_the_key_the_scanner_builds(frame: BeaconFrame, typed: str) -> None:
    kind, key = parse_beacon_key(typed)
    assert key == frame_beacon_key(frame)
    assert kind == BeaconKind(frame.format)
    assert parse_beacon_key(key) == (kind, key)  # normalised keys are fixed points


def test_the_builders_spell_the_keys() -> None:
    assert contract.ibeacon_key("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 1, 2) == \
        "ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:2"
    assert contract.eddystone_uid_key("0" * 20, "1" * 12) == f"eddystone-uid:{'0' * 20}:{'1' * 12}"
    assert contract.altbeacon_key("f" * 40) == f"altbeacon:{'f' * 40}"


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("ibeacon:not-a-uuid:1:2", "UUID:MAJOR:MINOR"),
        ("ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:70000", "0..65535"),
        ("ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1", "UUID:MAJOR:MINOR"),
        ("eddystone-uid:1234:5678", "20 hexadecimal digits"),
        ("altbeacon:xyz", "40 hexadecimal digits"),
        ("bluetooth:aa", "starts with ibeacon:"),
    ],
)
def test_a_bad_key_is_refused_with_a_sentence(typed: str, fragment: str) -> None:
    with pytest.raises(BeaconKeyError, match=fragment):
        parse_beacon_key(typed)


# ------------------------------------------------------------------------------------------- presence rules
RULE = {"campaign_id": "bakery-dwell", "trigger": "dwell", "zone": "bakery", "dwell_min": 2,
        "offer": {"kind": "percent_off", "name": "Fresh bread", "params": {"percent": 10}}}


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ([RULE], "must be a JSON object"),
        ({**RULE, "campaign_id": ""}, "has no campaign_id"),
        ({**RULE, "offer": "10%"}, "offer must be an object"),
        ({**RULE, "offer": {"kind": "free_lunch"}}, "offer.kind must be one of percent_off"),
        ({**RULE, "trigger": "exit"}, "trigger must be 'enter' or 'dwell'"),
        ({**RULE, "cap_count": "many"}, "numbers are not valid"),
        ({**RULE, "valid_minutes": 0}, "must be positive"),
    ],
)
def test_the_rule_schema_names_the_field(rule: Any, fragment: str) -> None:
    problem = presence_rule_problem(rule)
    assert problem is not None and fragment in problem


def test_a_good_rule_passes_and_the_till_reads_it_the_same_way() -> None:
    from edge.core.presence_offers import RuleError, rule_from_dict

    assert presence_rule_problem(RULE) is None
    assert rule_from_dict(RULE).dwell_min == 2.0
    with pytest.raises(RuleError) as err:
        rule_from_dict({**RULE, "trigger": "exit"})
    assert str(err.value) == presence_rule_problem({**RULE, "trigger": "exit"})


def test_offer_kinds_are_the_enum_and_revocation_keys_round_trip() -> None:
    assert set(OFFER_KINDS) == set(contract.OfferKind)
    key = contract.revocation_key(contract.ChangeKind.COUPON, "SAVE3-ALPHA")
    assert key == "coupon:SAVE3-ALPHA"
    assert contract.parse_revocation_key(key) == ("coupon", "SAVE3-ALPHA")
    assert contract.parse_revocation_key("signing_key:k:1") == ("signing_key", "k:1")
    assert contract.parse_revocation_key("bare") == ("", "bare")
