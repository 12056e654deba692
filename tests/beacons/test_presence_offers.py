from datetime import UTC, datetime, time, timedelta

import pytest

from edge.core.presence import DWELL, ENTER, EXIT, STORE_ZONE, PresenceEvent
from edge.core.presence_offers import (
    CustomerProfile,
    OpeningHours,
    RuleError,
    decide_offers,
    rule_from_dict,
    store_timezone,
)

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOURS = OpeningHours.parse("08:00-21:00")
TZ = store_timezone("Europe/Amsterdam")


def rule(**extra):
    base = {"campaign_id": "C1", "offer": {"kind": "percent_off", "name": "10% off", "params": {"percent": 10}}}
    return rule_from_dict({**base, **extra})


def ev(kind=ENTER, zone=STORE_ZONE, dwell_s=0.0):
    return PresenceEvent(kind, "cust", zone, 100.0, dwell_s)


def never(_c, _k, _s):
    return 0


def test_enter_rule_issues_an_offer_valid_n_minutes():
    [d] = decide_offers(ev(), CustomerProfile("cust"), [rule(valid_minutes=45)], NOON, HOURS, TZ, never)
    assert d.customer_id == "cust" and d.offer_kind == "percent_off"
    assert d.valid_until - d.valid_from == timedelta(minutes=45)


def test_dwell_rule_waits_for_n_minutes_and_zone():
    r = rule(trigger="dwell", dwell_min=5, zone="wine")
    p = CustomerProfile("cust")
    assert decide_offers(ev(DWELL, "wine", 240), p, [r], NOON, HOURS, TZ, never) == []
    assert decide_offers(ev(DWELL, "bakery", 400), p, [r], NOON, HOURS, TZ, never) == []
    assert decide_offers(ev(ENTER, "wine"), p, [r], NOON, HOURS, TZ, never) == []
    assert len(decide_offers(ev(DWELL, "wine", 300), p, [r], NOON, HOURS, TZ, never)) == 1
    assert decide_offers(ev(EXIT, "wine", 900), p, [r], NOON, HOURS, TZ, never) == []


def test_tiers_and_segments():
    r = rule(tiers=["Gold"], segments=["coffee", "wine"])
    assert decide_offers(ev(), CustomerProfile("cust", "Silver", frozenset({"coffee"})), [r], NOON, HOURS, TZ, never) == []
    assert decide_offers(ev(), CustomerProfile("cust", "Gold", frozenset({"tea"})), [r], NOON, HOURS, TZ, never) == []
    assert decide_offers(ev(), CustomerProfile("cust", "Gold", frozenset({"wine"})), [r], NOON, HOURS, TZ, never)


def test_opening_hours_in_store_local_time():
    # 19:30 UTC is 21:30 in Amsterdam (summer): closed
    late = datetime(2024, 5, 1, 19, 30, tzinfo=UTC)
    assert decide_offers(ev(), CustomerProfile("cust"), [rule()], late, HOURS, TZ, never) == []
    overnight = OpeningHours.parse("22:00-06:00")
    assert overnight.is_open(time(23, 0)) and overnight.is_open(time(5, 59)) and not overnight.is_open(time(12, 0))


def test_frequency_cap_per_customer_and_campaign():
    seen = []

    def issued(customer, campaign, since):
        seen.append((customer, campaign, since))
        return 2

    r = rule(cap_count=2, cap_window_h=12)
    assert decide_offers(ev(), CustomerProfile("cust"), [r], NOON, HOURS, TZ, issued) == []
    assert seen == [("cust", "C1", NOON - timedelta(hours=12))]
    assert decide_offers(ev(), CustomerProfile("cust"), [rule(cap_count=3)], NOON, HOURS, TZ, issued)


def test_bad_rules_and_settings_are_explained():
    with pytest.raises(RuleError, match="offer.kind"):
        rule_from_dict({"campaign_id": "X", "offer": {"kind": "free_car"}})
    with pytest.raises(RuleError, match="trigger"):
        rule(trigger="leave")
    with pytest.raises(RuleError, match="campaign_id"):
        rule_from_dict({"offer": {}})
    with pytest.raises(RuleError, match="positive"):
        rule(valid_minutes=0)
    with pytest.raises(RuleError, match="08:00-21:00"):
        OpeningHours.parse("all day")
    with pytest.raises(RuleError, match="time zone"):
        store_timezone("Mars/Olympus")


def test_the_offer_message_is_in_the_members_language_else_the_stores():
    r = rule(valid_minutes=45, message="")
    [spanish] = decide_offers(ev(), CustomerProfile("cust", language="es"), [r], NOON, HOURS, TZ, never)
    [english] = decide_offers(ev(), CustomerProfile("cust", language="en"), [r], NOON, HOURS, TZ, never, "es_ES")
    [store] = decide_offers(ev(), CustomerProfile("cust"), [r], NOON, HOURS, TZ, never, "es_ES")
    name = r.offer_name
    assert spanish.message == f"{name}: válido 45 min"
    assert english.message == f"{name} - valid 45 min"
    assert store.message == f"{name}: válido 45 min"
