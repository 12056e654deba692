"""Presence-triggered offers: which rule fires for a presence event. Pure: returns decisions, writes nothing.

A rule fires on entering the store or a zone, or once a dwell of N minutes is reached there; only for its
tiers / segments (empty = everyone), only within opening hours (store local time), and only while the
customer is under the rule's frequency cap (issued count per customer and campaign in a rolling window,
which the caller looks up - the store layer keeps the issued offers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.core.contract import presence_rule_problem
from edge.core.i18n import translator
from edge.core.presence import DWELL, ENTER, STORE_ZONE, PresenceEvent


class RuleError(ValueError):
    """A presence rule is unusable; the message names the rule and the field."""


@dataclass(frozen=True)
class PresenceRule:
    campaign_id: str
    offer_kind: str
    offer_name: str
    offer_params: dict[str, Any] = field(default_factory=dict)
    trigger: str = ENTER  # ENTER | DWELL
    zone: str = STORE_ZONE
    dwell_min: float = 0.0
    tiers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    valid_minutes: int = 30
    cap_count: int = 1
    cap_window_h: float = 24.0
    message: str = ""

    @property
    def cap_window(self) -> timedelta:
        return timedelta(hours=self.cap_window_h)


def rule_from_dict(data: Any) -> PresenceRule:
    """Read one rule as the hub sends it (JSON object); RuleError names the rule and the field.

    The schema is the contract's (``edge.core.contract.presence_rule_problem``): the hub refuses what the
    till could not run, with the same sentence."""
    problem = presence_rule_problem(data)
    if problem:
        raise RuleError(problem)
    offer = data["offer"]
    return PresenceRule(
        campaign_id=data["campaign_id"],
        offer_kind=offer["kind"],
        offer_name=str(offer.get("name") or data["campaign_id"]),
        offer_params=dict(offer.get("params") or {}),
        trigger=data.get("trigger", ENTER),
        zone=str(data.get("zone") or STORE_ZONE),
        dwell_min=float(data.get("dwell_min", 0)),
        tiers=tuple(str(t) for t in data.get("tiers", ())),
        segments=tuple(str(s) for s in data.get("segments", ())),
        valid_minutes=int(data.get("valid_minutes", 30)),
        cap_count=int(data.get("cap_count", 1)),
        cap_window_h=float(data.get("cap_window_h", 24)),
        message=str(data.get("message", "")),
    )


@dataclass(frozen=True)
class OpeningHours:
    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> OpeningHours:
        """"HH:MM-HH:MM"; a closing time before the opening time means the store is open overnight."""
        try:
            a, b = (part.strip() for part in text.split("-"))
            return cls(time.fromisoformat(a), time.fromisoformat(b))
        except ValueError:
            raise RuleError(f"opening hours {text!r} must look like 08:00-21:00") from None

    def is_open(self, local: time) -> bool:
        if self.opens <= self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes


@dataclass(frozen=True)
class CustomerProfile:
    customer_id: str
    tier: str = "Bronze"
    segments: frozenset[str] = frozenset()
    language: str = ""  # the member's preferred language from the profile; "" reads the store's


@dataclass(frozen=True)
class OfferDecision:
    campaign_id: str
    customer_id: str
    zone: str
    trigger: str
    offer_kind: str
    offer_name: str
    offer_params: dict[str, Any]
    valid_from: datetime
    valid_until: datetime
    message: str


IssuedCount = Callable[[str, str, datetime], int]  # (customer, campaign, since) -> offers issued


def store_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"the store time zone {name!r} is unknown (use a name like Europe/Amsterdam)") from None


def _matches(rule: PresenceRule, event: PresenceEvent, customer: CustomerProfile) -> bool:
    if rule.zone != event.zone:
        return False
    if rule.trigger == ENTER:
        if event.kind != ENTER:
            return False
    elif event.kind != DWELL or event.dwell_s < rule.dwell_min * 60.0:
        return False
    if rule.tiers and customer.tier not in rule.tiers:
        return False
    return not (rule.segments and customer.segments.isdisjoint(rule.segments))


def decide_offers(
    event: PresenceEvent,
    customer: CustomerProfile,
    rules: Iterable[PresenceRule],
    now_utc: datetime,
    hours: OpeningHours,
    tz: ZoneInfo,
    issued_count: IssuedCount,
    store_language: str = "en",
) -> list[OfferDecision]:
    """Offers to issue for one presence event; the frequency cap is checked through ``issued_count``.

    A rule without its own message gets one in the member's language (``customer.language``, else
    ``store_language``), since it is sent to the member.
    """
    tr = translator(customer.language or store_language)
    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=UTC)
    if not hours.is_open(now_utc.astimezone(tz).time()):
        return []
    decisions: list[OfferDecision] = []
    for rule in rules:
        if not _matches(rule, event, customer):
            continue
        if issued_count(customer.customer_id, rule.campaign_id, now_utc - rule.cap_window) >= rule.cap_count:
            continue
        decisions.append(
            OfferDecision(
                campaign_id=rule.campaign_id,
                customer_id=customer.customer_id,
                zone=event.zone,
                trigger=event.kind,
                offer_kind=rule.offer_kind,
                offer_name=rule.offer_name,
                offer_params=rule.offer_params,
                valid_from=now_utc,
                valid_until=now_utc + timedelta(minutes=rule.valid_minutes),
                message=rule.message or tr.ngettext("{offer} - valid {n} min", "{offer} - valid {n} min",
                                                    rule.valid_minutes).format(offer=rule.offer_name,
                                                                               n=rule.valid_minutes),
            )
        )
    return decisions


def rules_from_list(items: Sequence[Any]) -> list[PresenceRule]:
    return [rule_from_dict(item) for item in items]
