"""The till <-> hub contract: every name and rule both sides must agree on, in one place.

What lives here (and nowhere else):
- ``EventType``: the outbox event types a device pushes (``docs/sync-protocol.md``, "Events").
- ``ChangeKind``: the kinds of change the hub's pull stream carries (``docs/sync-protocol.md``, "Changes").
- Payload field checks: ``EVENT_FIELDS`` (one declarative table: per event type its fields, their types and
  declared ranges) and ``check_event_payload(type, payload)``, used by the hub on every pushed event and by
  the till before an event enters its outbox.
- Offer kinds: ``OFFER_KINDS``, a registry with one entry per kind (its role in pricing and its parameter
  check); ``offer_params_problem(kind, params)``. A new kind is added there and nowhere else.
- Beacon keys: ``ibeacon_key`` / ``eddystone_uid_key`` / ``altbeacon_key`` build the text key of a static
  beacon id, ``parse_beacon_key`` reads (and normalises) one typed by an administrator.
- The presence-rule schema: ``presence_rule_problem(doc)``.

Both enums are ``StrEnum``: a member *is* its wire string (``EventType.SALE_COMPLETED == "sale.completed"``),
so JSON encoding and SQL parameters need no conversion. This module is pure (``edge.core``): the till, the
sync client and the hub all import it; it imports nothing from them.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

from edge.core.presence import DWELL, ENTER


class EventType(StrEnum):
    """Outbox event types pushed by a device to the hub (``POST /v1/events``)."""

    SALE_COMPLETED = "sale.completed"
    LEDGER_EARN = "ledger.earn"
    LEDGER_BURN = "ledger.burn"
    COUPON_REDEEMED = "coupon.redeemed"
    FEEDBACK_SUBMITTED = "feedback.submitted"
    LOYALTY_TOKEN_SEEN = "loyalty.token_seen"
    RECEIPT_CLAIMED = "receipt.claimed"  # a member claims a guest receipt's points (edge.core.claims)
    PRESENCE_VISIT = "presence.visit"
    PRESENCE_NOTIFICATION_REQUESTED = "presence.notification_requested"
    PRESENCE_ANONYMOUS_COUNT = "presence.anonymous_count"
    PRESENCE_ANALYTICS = "presence.analytics"
    REWARD_CLAIMED = "reward.claimed"


LEDGER_EVENTS = frozenset({EventType.LEDGER_EARN, EventType.LEDGER_BURN})
PRESENCE_EVENTS = frozenset(t for t in EventType if t.startswith("presence."))


def ledger_event(kind: str) -> EventType:
    """The event type of a ledger entry of ``kind`` (``"earn"`` or ``"burn"``); ValueError for another."""
    return EventType(f"ledger.{kind}")


class ChangeKind(StrEnum):
    """Kinds of change carried by the hub's pull stream (``GET /v1/changes``)."""

    PRODUCT = "product"
    OFFER = "offer"
    COUPON = "coupon"
    CUSTOMER = "customer"
    SIGNING_KEY = "signing_key"
    REVOCATION = "revocation"
    PRESENCE_IDENTITY = "presence_identity"
    STORE_BEACON = "store_beacon"
    PRESENCE_RULE = "presence_rule"
    SIGHTING = "sighting"
    TOKEN_SIGHTING = "token_sighting"
    PROGRAMME = "programme"  # the programme's rules (edge.core.programme), key PROGRAMME_KEY, every store
    STORE = "store"  # the till's own store: name, locale, currency, time zone (key: the store id)
    REWARD = "reward"


PROGRAMME_KEY = "rules"  # the one key of a ``programme`` change


def revocation_key(kind: str, ident: str) -> str:
    """The key of a ``revocation`` change: what was revoked (``coupon`` or ``signing_key``) and its id."""
    return f"{kind}:{ident}"


def parse_revocation_key(key: str) -> tuple[str, str]:
    """``revocation_key`` read back: (kind, id); the kind is ``""`` for a key without one."""
    kind, sep, ident = key.partition(":")
    return (kind, ident) if sep else ("", key)


# ============================================================================================ declared ranges
# Each bound is far above what an honest till sends (tests/core/test_contract.py runs the demo's sales and a
# store-day simulation through check_event_payload) and far below what breaks a 64-bit column or a float.
MAX_QTY = 999  # units on one sale line (the till's basket refuses more)
MAX_SALE_LINES = 10_000  # lines on one sale, and the highest line number
MAX_CENTS = 10**11  # any one amount in cents (a billion in the currency)
MAX_POINTS_PER_ENTRY = 100_000  # points in one ledger entry (a 100,000-euro sale at 1 point per euro)
MAX_POINTS_PER_SALE = MAX_POINTS_PER_ENTRY  # points earned or redeemed by one sale (one entry each)
MAX_FEEDBACK_SCORE = 10  # feedback scores are 0..10
MAX_ID_CHARS = 64  # ids a device or the hub generates (uuid7 is 36) and customer ids
MAX_NAME_CHARS = 200  # administrator-chosen names: offer ids, campaign ids, coupon codes, zones, categories
MAX_TEXT_CHARS = 2_000  # free text: product names, reasons, notification text
MAX_TIMESTAMP_CHARS = 40  # an ISO 8601 timestamp
MAX_DWELL_S = 10**7  # a visit's dwell (about 115 days)
MAX_DEVICES = 10**6  # devices counted in one anonymous bucket
MAX_COUNT = 10**9  # any other count in analytics
MAX_DEPTH = 8  # nested objects/lists in a payload (a sale is 3 deep)
MAX_SAFE_INT = 2**53  # the largest integer every JSON reader keeps exactly
MAX_ANY_STRING_CHARS = 10_000  # a string in a field the table does not declare
MAX_ANY_LIST_ITEMS = 10_000  # a list in a field the table does not declare
PAYMENT_METHODS = ("cash", "card")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    # ints are always finite (and math.isfinite would overflow on a huge one)
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def text_problem(value: str) -> str | None:
    """Why a string cannot cross the wire (NUL, or a lone UTF-16 surrogate: not valid UTF-8), or None."""
    if value.isascii():
        return "contains a NUL character" if "\x00" in value else None
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (a lone surrogate)"
    return None


# -------------------------------------------------------------------------------------- value kinds
@dataclass(frozen=True)
class Str:
    """A clean string (``text_problem``) of ``lo``..``hi`` characters."""

    lo: int = 0
    hi: int = MAX_TEXT_CHARS

    def ok(self, value: Any) -> bool:
        return (isinstance(value, str) and self.lo <= len(value) <= self.hi
                and ((value.isascii() and "\x00" not in value) or text_problem(value) is None))

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or not self.lo <= len(value) <= self.hi:
            return f"must be a string of {self.lo} to {self.hi} characters"
        return None if value.isascii() and "\x00" not in value else text_problem(value)


@dataclass(frozen=True)
class Int:
    """A whole number (never a bool) from ``lo`` to ``hi`` inclusive."""

    lo: int
    hi: int

    def ok(self, value: Any) -> bool:
        return (type(value) is int or _is_int(value)) and self.lo <= value <= self.hi

    def problem(self, value: Any) -> str | None:
        return None if self.ok(value) else f"must be a whole number from {self.lo} to {self.hi}"


@dataclass(frozen=True)
class Num:
    """A finite number (int or float, never a bool) from ``lo`` to ``hi`` inclusive."""

    lo: float
    hi: float

    def ok(self, value: Any) -> bool:
        return _is_number(value) and self.lo <= value <= self.hi

    def problem(self, value: Any) -> str | None:
        return None if self.ok(value) else f"must be a finite number from {self.lo:g} to {self.hi:g}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def ok(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def problem(self, value: Any) -> str | None:
        return None if self.ok(value) else f"must be one of {', '.join(self.values)}"


@dataclass(frozen=True)
class Obj:
    """A JSON object; its contents pass the generic checks only (finite numbers, clean strings)."""

    def ok(self, value: Any) -> bool:
        return isinstance(value, dict)

    def problem(self, value: Any) -> str | None:
        return None if self.ok(value) else "must be a JSON object"


@dataclass(frozen=True)
class Items:
    """A list of at most ``max_items`` JSON objects, each checked against ``fields``."""

    fields: tuple[Field, ...]
    max_items: int

    def ok(self, value: Any) -> bool:
        return (isinstance(value, list) and len(value) <= self.max_items
                and all(isinstance(item, dict) and _fields_ok(self.fields, item) for item in value))

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list) or len(value) > self.max_items:
            return f"must be a list of at most {self.max_items} objects"
        for n, item in enumerate(value):
            if not isinstance(item, dict):
                return f"item {n} must be a JSON object"
            problem = _fields_problem(self.fields, item)
            if problem:
                return f"item {n}: {problem}"
        return None


Kind = Str | Int | Num | OneOf | Obj | Items
_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One payload field: its name, what its value must be, whether it must be there, whether null is allowed.

    ``aliases`` are older names an honest till may still send (checked the same way when the name is absent).
    """

    name: str
    kind: Kind
    required: bool = False
    nullable: bool = False
    aliases: tuple[str, ...] = ()

    def problem(self, payload: Mapping[str, Any]) -> str | None:
        name = self.name
        value = payload.get(name, _MISSING)
        if value is _MISSING:
            name = next((a for a in self.aliases if a in payload), name)
            value = payload.get(name, _MISSING)
            if value is _MISSING:
                return f"needs '{self.name}'" if self.required else None
        if value is None:
            return None if self.nullable else f"'{name}' must not be null"
        problem = self.kind.problem(value)
        return None if problem is None else f"'{name}' {problem}, got {_show(value)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_ok(fields: tuple[Field, ...], payload: Mapping[str, Any]) -> bool:
    """The fast path: True when every field passes (no sentence built); aliases and absences go the slow way."""
    for f in fields:
        value = payload.get(f.name, _MISSING)
        if value is _MISSING:
            if f.required or f.aliases:
                return False
        elif value is None:
            if not f.nullable:
                return False
        elif not f.kind.ok(value):
            return False
    return True


def _fields_problem(fields: tuple[Field, ...], payload: Mapping[str, Any]) -> str | None:
    if _fields_ok(fields, payload):
        return None
    for f in fields:
        problem = f.problem(payload)
        if problem:
            return problem
    return None


# -------------------------------------------------------------------------------------- the table
ID = Str(1, MAX_ID_CHARS)
NAME = Str(1, MAX_NAME_CHARS)
TEXT = Str(0, MAX_TEXT_CHARS)
TIMESTAMP = Str(1, MAX_TIMESTAMP_CHARS)
CENTS = Int(0, MAX_CENTS)
COUNT = Int(0, MAX_COUNT)

SALE_LINE_FIELDS = (
    Field("line_no", Int(1, MAX_SALE_LINES)),
    Field("gtin", Str(1, MAX_ID_CHARS)),
    Field("name", TEXT),
    Field("category", Str(0, MAX_NAME_CHARS)),
    Field("qty", Int(1, MAX_QTY), required=True),
    Field("unit_price_cents", CENTS),
    Field("gross_cents", CENTS),
    Field("discount_cents", CENTS),
    Field("vat_rate_bp", Int(0, 10_000)),
    # the line's share of the sale's points (rounded once per order, edge.core.money rule 4); absent before v6
    Field("points", Int(0, MAX_POINTS_PER_SALE)),
)
SALE_DISCOUNT_FIELDS = (
    Field("n", Int(0, MAX_COUNT)),
    Field("line_no", Int(1, MAX_SALE_LINES), nullable=True),
    Field("offer_id", NAME),
    Field("amount_cents", CENTS),
    Field("reason", TEXT),
)
_LEDGER_FIELDS = (
    Field("entry_id", ID, required=True),
    Field("customer_id", ID, required=True),
    Field("points", Int(1, MAX_POINTS_PER_ENTRY), required=True),
    Field("sale_id", ID, nullable=True),
    Field("reason", TEXT),
    Field("created_at", TIMESTAMP),
)
REWARD_CLAIM_FIELDS = (
    Field("claim_id", ID, required=True),
    Field("reward_id", NAME, required=True),
    Field("customer_id", ID, required=True),
    Field("points", Int(1, MAX_POINTS_PER_ENTRY), required=True),
    Field("coupon_code", NAME, nullable=True),
    Field("created_at", TIMESTAMP),
)
ANALYTICS_FIELDS = ("since", "until", "zone_visits", "dwell_distribution", "offers_issued", "offers_converted",
                    "conversion_rate", "anonymous_devices")

# Per event type: its declared fields. ``required`` marks what every honest till sends and the hub needs;
# every other declared field is checked when present; undeclared fields pass the generic checks only.
EVENT_FIELDS: Mapping[str, tuple[Field, ...]] = {
    EventType.SALE_COMPLETED: (
        Field("id", ID, required=True, aliases=("sale_id",)),
        Field("customer_id", ID, nullable=True),
        Field("created_at", TIMESTAMP),
        Field("subtotal_cents", CENTS),
        Field("discount_cents", CENTS),
        Field("points_redeemed", Int(0, MAX_POINTS_PER_SALE)),
        Field("points_value_cents", CENTS),
        Field("total_cents", CENTS),
        Field("vat_cents", CENTS),
        Field("payment_method", OneOf(PAYMENT_METHODS)),
        Field("tendered_cents", CENTS, nullable=True),
        Field("points_earned", Int(0, MAX_POINTS_PER_SALE)),
        Field("lines", Items(SALE_LINE_FIELDS, MAX_SALE_LINES)),
        Field("discounts", Items(SALE_DISCOUNT_FIELDS, MAX_SALE_LINES)),
        # a guest sale's receipt claim code (edge.core.claims), canonical form; absent on other sales
        Field("claim_code", Str(12, 12), nullable=True),
    ),
    EventType.LEDGER_EARN: _LEDGER_FIELDS,
    EventType.LEDGER_BURN: _LEDGER_FIELDS,
    EventType.REWARD_CLAIMED: REWARD_CLAIM_FIELDS,
    EventType.COUPON_REDEEMED: (
        Field("code", NAME, required=True),
        Field("sale_id", ID, nullable=True),
        Field("customer_id", ID, nullable=True),
    ),
    EventType.FEEDBACK_SUBMITTED: (
        Field("id", ID, required=True),
        Field("score", Int(0, MAX_FEEDBACK_SCORE), required=True),
        Field("sale_id", ID, nullable=True),
        Field("customer_id", ID, nullable=True),
        Field("created_at", TIMESTAMP),
    ),
    EventType.LOYALTY_TOKEN_SEEN: (
        Field("token_hash", Str(1, 128), required=True),
        Field("customer_id", ID, required=True),
        Field("seen_at", TIMESTAMP, required=True),
        Field("expires_at", TIMESTAMP, required=True),
        Field("till_id", ID),
    ),
    EventType.RECEIPT_CLAIMED: (
        Field("claim_id", ID, required=True),
        Field("code", Str(1, 40), required=True),
        Field("customer_id", ID, required=True),
        Field("claimed_at", TIMESTAMP),
    ),
    EventType.PRESENCE_VISIT: (
        Field("visit_id", ID),
        Field("customer_id", ID, nullable=True),
        Field("store_id", ID),
        Field("zone", NAME),
        Field("entered_at", TIMESTAMP),
        Field("exited_at", TIMESTAMP),
        Field("dwell_s", Num(0, MAX_DWELL_S)),
        Field("source", NAME),
    ),
    EventType.PRESENCE_NOTIFICATION_REQUESTED: (
        Field("customer_id", ID, required=True),
        Field("offer_id", NAME),
        Field("campaign_id", NAME),
        Field("store_id", ID),
        Field("zone", NAME),
        Field("trigger", NAME),
        Field("title", TEXT),
        Field("message", TEXT),
        Field("valid_until", TIMESTAMP),
    ),
    EventType.PRESENCE_ANONYMOUS_COUNT: (
        Field("bucket_start", TIMESTAMP, required=True),
        Field("zone", NAME, required=True),
        Field("devices", Int(0, MAX_DEVICES), required=True),
        Field("store_id", ID),
    ),
    EventType.PRESENCE_ANALYTICS: (
        Field("since", TIMESTAMP, required=True),
        Field("until", TIMESTAMP, required=True),
        Field("store_id", ID),
        Field("zone_visits", Obj()),
        Field("dwell_distribution", Obj()),
        Field("offers_issued", COUNT),
        Field("offers_converted", COUNT),
        Field("conversion_rate", Num(0, 1), nullable=True),
        Field("anonymous_devices", Obj()),
    ),
}


def _scalar_problem(value: Any) -> str | None:
    t = type(value)
    if t is str:
        if len(value) > MAX_ANY_STRING_CHARS:
            return f"a string is longer than {MAX_ANY_STRING_CHARS} characters"
        if value.isascii() and "\x00" not in value:
            return None
        problem = text_problem(value)
        return None if problem is None else f"a string {problem}"
    if t is int:
        return None if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else f"a whole number is outside -2^53..2^53 ({_show(value)})"
    if t is float:
        return None if math.isfinite(value) else f"a number is not finite ({value!r})"
    if value is None or t is bool:
        return None
    return f"a value of type {t.__name__} is not JSON"


def _generic_problem(value: Any, depth: int = 1) -> str | None:
    """Depth, finite numbers, safe integers, clean strings (keys too) and bounded sizes, anywhere inside.

    Recursion stops at ``MAX_DEPTH``, so a payload nested 5,000 deep costs 8 frames."""
    t = type(value)
    if t is not dict and t is not list:
        return _scalar_problem(value)
    if depth > MAX_DEPTH:
        return f"objects and lists are nested deeper than {MAX_DEPTH}"
    if len(value) > MAX_ANY_LIST_ITEMS:
        return f"an object or list holds more than {MAX_ANY_LIST_ITEMS} items"
    items = value.values() if t is dict else value
    if t is dict:
        for k in value:
            if type(k) is not str or not k.isascii() or "\x00" in k:
                problem = _scalar_problem(k)
                if problem:
                    return problem
    for v in items:
        tv = type(v)
        if tv is str:
            if len(v) <= MAX_ANY_STRING_CHARS and v.isascii() and "\x00" not in v:
                continue
        elif (tv is int and -MAX_SAFE_INT <= v <= MAX_SAFE_INT) or v is None or tv is bool:
            continue
        problem = _generic_problem(v, depth + 1)
        if problem:
            return problem
    return None


# -------------------------------------------------------------------------------------- the fast path
# Per event type, one check built once from its fields (``_fast_fields``): True only when the slow path
# (``_fields_problem``, then ``_generic_problem``) would find nothing, in a single walk of the payload (the
# slow path walks a sale's lines twice). It takes exact JSON types only and answers False whenever in doubt;
# the slow path then decides and words the problem. Bounds are narrowed to the generic ones (strings of at
# most MAX_ANY_STRING_CHARS, integers within +-2^53), so a value within them passes both checks.
FastCheck = Callable[[Any], bool]
# a declared field's: (nullable, str or int when checked inline against lo..hi (a string's length), else None
# and its kind's FastCheck)
_FastSpec = tuple[bool, type | None, int, int, FastCheck | None]


def _never(value: Any) -> bool:
    return False


def _fast_kind(kind: Kind, depth: int) -> FastCheck:
    """``kind.ok(value)`` and ``_generic_problem(value, depth) is None``, for a value that is not None."""
    if isinstance(kind, Num):  # finite bounds: a float between them is finite
        lo, hi = max(kind.lo, -MAX_SAFE_INT), min(kind.hi, MAX_SAFE_INT)
        return lambda v: (type(v) is float or type(v) is int) and lo <= v <= hi
    if isinstance(kind, OneOf):
        clean = frozenset(s for s in kind.values if _scalar_problem(s) is None)
        return lambda v: type(v) is str and v in clean
    if isinstance(kind, Items):
        if depth > MAX_DEPTH:
            return _never
        item_ok, most = _fast_fields(kind.fields, depth + 1), min(kind.max_items, MAX_ANY_LIST_ITEMS)
        return lambda v: type(v) is list and len(v) <= most and all(map(item_ok, v))
    # Obj (its contents pass the generic checks only), and Str/Int outside a field (``_fast_spec``)
    return lambda v: kind.ok(v) and _generic_problem(v, depth) is None


def _fast_spec(f: Field, depth: int) -> _FastSpec:
    kind = f.kind
    if isinstance(kind, Str):
        return f.nullable, str, kind.lo, min(kind.hi, MAX_ANY_STRING_CHARS), None
    if isinstance(kind, Int):
        return f.nullable, int, max(kind.lo, -MAX_SAFE_INT), min(kind.hi, MAX_SAFE_INT), None
    return f.nullable, None, 0, 0, _fast_kind(kind, depth)


def _fast_fields(fields: tuple[Field, ...], depth: int) -> FastCheck:
    """``_fields_ok(fields, d)`` and ``_generic_problem(d, depth) is None`` for an object ``d`` at ``depth``,
    each key once: a declared one by its field's check (strings and whole numbers inline), any other by the
    generic checks. An absent required field or alias, or a name declared twice: False (the slow path)."""
    specs = {f.name: _fast_spec(f, depth + 1) for f in fields}
    needed = frozenset(f.name for f in fields if f.required or f.aliases)
    if depth > MAX_DEPTH or len(specs) < len(fields):
        return _never

    def ok(d: Any) -> bool:
        if type(d) is not dict or len(d) > MAX_ANY_LIST_ITEMS or not d.keys() >= needed:
            return False
        for k, v in d.items():
            spec = specs.get(k)
            if spec is None or type(k) is not str:
                if _generic_problem(k) is not None or _generic_problem(v, depth + 1) is not None:
                    return False
                continue
            nullable, tp, lo, hi, check = spec
            tv = type(v)
            if tv is tp:
                if tv is int:
                    if not lo <= v <= hi:
                        return False
                elif not (lo <= len(v) <= hi and ((v.isascii() and "\x00" not in v) or text_problem(v) is None)):
                    return False
            elif v is None:
                if not nullable:
                    return False
            elif check is None or not check(v):
                return False
        return True

    return ok


_FAST_CHECKS: Mapping[str, FastCheck] = {t: _fast_fields(fields, 1) for t, fields in EVENT_FIELDS.items()}


def check_event_payload(event_type: str, payload: Any) -> str | None:
    """Why ``payload`` is not a valid payload of ``event_type`` (one sentence naming the field), or None.

    ``payload`` is the decoded JSON object. Every type: a JSON object, nested at most ``MAX_DEPTH`` deep,
    finite numbers, integers within +-2^53, strings valid UTF-8 without NUL. Known types (``EVENT_FIELDS``):
    each declared field's type and range, required fields present. An unknown type passes the generic checks
    only (a newer till's event types never block the outbox). Pure; never raises.

    A valid payload of a known type is answered by its ``_FAST_CHECKS`` entry in one walk; anything else
    takes ``_payload_problem``, which finds the same answer and words it.
    """
    if type(payload) is dict:
        fast = _FAST_CHECKS.get(event_type)
        if fast is not None and fast(payload):
            return None
    return _payload_problem(event_type, payload)


def _payload_problem(event_type: str, payload: Any) -> str | None:
    """``check_event_payload`` without its fast path: the declared fields, then the generic checks."""
    if not isinstance(payload, dict):
        return f"{event_type} payload must be a JSON object"
    fields = EVENT_FIELDS.get(event_type)
    if fields is not None:
        problem = _fields_problem(fields, payload)
        if problem:
            return f"{event_type} payload {problem}"
    problem = _generic_problem(payload)
    return None if problem is None else f"{event_type} payload: {problem}"


# ============================================================================================ offer kinds
MAX_MULTIPLIER = 1000


class OfferKind(StrEnum):
    """The offer kinds the engine prices (the wire's ``kind``); each has its entry in ``OFFER_KINDS``."""

    PERCENT_OFF = "percent_off"
    BUY_X_GET_Y = "buy_x_get_y"
    AMOUNT_OFF_BASKET = "amount_off_basket"
    POINTS_MULTIPLIER = "points_multiplier"


class OfferRole(StrEnum):
    """Where an offer kind acts in pricing (``edge.core.offers`` module docstring, rules 2-4)."""

    LINE = "line"  # takes an amount off single lines
    BASKET = "basket"  # takes an amount off the basket, spread over the lines
    MULTIPLIER = "multiplier"  # multiplies the points a line earns


ParamsCheck = Callable[[str, Mapping[str, Any]], "str | None"]


@dataclass(frozen=True)
class OfferKindSpec:
    """One offer kind: its wire name, its role in pricing and the check of its own params.

    ``params_problem(kind, params)`` sees a JSON object whose common params (``gtins``, ``category``) are
    already checked; it returns a sentence for an administrator, or None.
    """

    kind: str
    role: OfferRole
    params_problem: ParamsCheck


def _need(kind: str, params: Mapping[str, Any], name: str, ok: bool, what: str) -> str | None:
    return None if ok else f"{kind} params need '{name}' as {what}, got {params.get(name)!r}"


def _percent_off(kind: str, params: Mapping[str, Any]) -> str | None:
    p = params.get("percent")
    return _need(kind, params, "percent", _is_number(p) and 0 < p <= 100, "a number above 0 and at most 100")


def _buy_x_get_y(kind: str, params: Mapping[str, Any]) -> str | None:
    for name in ("buy", "get"):
        v = params.get(name)
        problem = _need(kind, params, name, _is_int(v) and v >= 1, "a whole number >= 1")
        if problem:
            return problem
    return None


def _amount_off_basket(kind: str, params: Mapping[str, Any]) -> str | None:
    a, t = params.get("amount_cents"), params.get("threshold_cents", 0)
    return _need(kind, params, "amount_cents", _is_int(a) and a >= 0, "a whole number of cents >= 0") or _need(
        kind, params, "threshold_cents", _is_int(t) and t >= 0, "a whole number of cents >= 0"
    )


def _points_multiplier(kind: str, params: Mapping[str, Any]) -> str | None:
    m = params.get("multiplier")
    # bounded: a huge multiplier would overflow the receipt's float and the ledger's 64-bit points
    return _need(kind, params, "multiplier", _is_number(m) and 0 < m <= MAX_MULTIPLIER,
                 f"a number above 0, at most {MAX_MULTIPLIER}")


# The registry: one entry per kind. Order is the order messages list them in.
OFFER_KINDS: Mapping[str, OfferKindSpec] = {
    spec.kind: spec
    for spec in (
        OfferKindSpec(OfferKind.PERCENT_OFF, OfferRole.LINE, _percent_off),
        OfferKindSpec(OfferKind.BUY_X_GET_Y, OfferRole.LINE, _buy_x_get_y),
        OfferKindSpec(OfferKind.AMOUNT_OFF_BASKET, OfferRole.BASKET, _amount_off_basket),
        OfferKindSpec(OfferKind.POINTS_MULTIPLIER, OfferRole.MULTIPLIER, _points_multiplier),
    )
}


def offer_kinds(role: OfferRole | None = None) -> tuple[str, ...]:
    """The registered kind names (of one ``role``, or all), in registry order."""
    return tuple(k for k, spec in OFFER_KINDS.items() if role is None or spec.role is role)


def offer_params_problem(kind: str, params: object) -> str | None:
    """Why ``params`` cannot drive an offer of ``kind`` (a sentence for an administrator), or None.

    The hub refuses such offers, the edge's pull skips them and the engine ignores them: one bad offer
    must never stop every sale at every till. Common params: ``gtins`` (a list of 14-digit GTIN strings)
    and ``category`` (a string); the rest is the kind's own check in ``OFFER_KINDS``."""
    spec = OFFER_KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        return f"offer kind {kind!r} is not one of {', '.join(OFFER_KINDS)}"
    if not isinstance(params, Mapping):
        return f"params must be a JSON object, got {type(params).__name__}"
    gtins = params.get("gtins")
    if gtins is not None and not (
        isinstance(gtins, list) and all(isinstance(g, str) and len(g) == 14 and g.isdigit() for g in gtins)
    ):
        return "params 'gtins' must be a list of 14-digit GTIN strings"
    category = params.get("category")
    if category is not None and not isinstance(category, str):
        return "params 'category' must be a string"
    return spec.params_problem(kind, params)


# ============================================================================================ rewards
class RewardKind(StrEnum):
    """What a reward of the catalogue gives for its points (``docs/sync-protocol.md``, "Rewards")."""

    PRODUCT = "product"  # a product (``gtin``), handed over at the till
    AMOUNT_OFF = "amount_off"  # a fixed amount off (``amount_cents``): a single-use personal coupon of its offer
    COUPON = "coupon"  # a single-use personal coupon of an existing offer that needs one (``offer_id``)


REWARD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a reward id is a path segment of the hub API
REWARD_COUPON_PREFIX = "RW-"


def reward_offer_id(reward_id: str) -> str:
    """The offer the hub makes for an ``amount_off`` reward (amount off the basket, needs its coupon)."""
    return f"reward-{reward_id}"


def reward_coupon_code(claim_id: str) -> str:
    """The single-use coupon code a claim of an ``amount_off`` or ``coupon`` reward issues: ``RW-`` and the
    claim id's last 12 hex digits (the random part of a UUIDv7), upper case; the till and the hub derive it
    alike, so an offline claim's coupon is the one the hub records."""
    return REWARD_COUPON_PREFIX + claim_id.replace("-", "")[-12:].upper()


def reward_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a reward the tills can offer (a sentence for an administrator), or None.

    A reward: ``id`` (1-64 of letters, digits, ``.``, ``_``, ``-``; it is a URL path segment), ``name`` (the
    words the cashier and the member read, 1-200 characters), ``kind`` (``RewardKind``), ``points`` (1 to
    ``MAX_POINTS_PER_ENTRY``), and by kind: ``gtin`` (14 digits) for ``product``, ``amount_cents`` (1 to
    ``MAX_CENTS``) for ``amount_off``, ``offer_id`` for ``coupon``. Pure; never raises."""
    if not isinstance(doc, Mapping):
        return "a reward must be a JSON object"
    rid = doc.get("id")
    if not isinstance(rid, str) or not REWARD_ID.match(rid):
        return f"a reward id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got {rid!r}"
    name = doc.get("name")
    if not NAME.ok(name) or not str(name).strip():
        return f"reward {rid}: the name must be 1 to {MAX_NAME_CHARS} characters of text"
    kind = doc.get("kind")
    if kind not in tuple(RewardKind):
        return f"reward {rid}: kind must be one of {', '.join(RewardKind)}, got {kind!r}"
    if not Int(1, MAX_POINTS_PER_ENTRY).ok(doc.get("points")):
        return f"reward {rid}: points must be a whole number from 1 to {MAX_POINTS_PER_ENTRY}, got {doc.get('points')!r}"
    gtin, amount, offer_id = doc.get("gtin"), doc.get("amount_cents"), doc.get("offer_id")
    if kind == RewardKind.PRODUCT and not (isinstance(gtin, str) and len(gtin) == 14 and gtin.isascii()
                                           and gtin.isdigit()):
        return f"reward {rid}: a product reward needs the product's 14-digit GTIN, got {gtin!r}"
    if kind == RewardKind.AMOUNT_OFF and not Int(1, MAX_CENTS).ok(amount):
        return f"reward {rid}: an amount_off reward needs amount_cents, a whole number from 1 to {MAX_CENTS}"
    if kind == RewardKind.COUPON and not NAME.ok(offer_id):
        return f"reward {rid}: a coupon reward needs the offer_id of an offer that needs a coupon"
    return None


# ============================================================================================ offer usage limits
MAX_PERIOD_DAYS = 3660


def offer_limits_problem(limits: Any) -> str | None:
    """Why ``limits`` cannot limit an offer's use (a sentence for an administrator), or None.

    ``limits`` is a JSON object with any of: ``per_customer`` (uses per member within ``period_days``, which it
    then needs: 1 to ``MAX_PERIOD_DAYS``) and ``total`` (the offer's whole budget of uses), each a whole number
    >= 1. A use is one sale (or order) the offer gave a discount to; as in Odoo's loyalty ``max_usage`` and
    Open Loyalty's campaign limits. The hub counts them from pushed sales and reports overshoots; a till
    enforces what it knows offline (the hub's counts plus its own sales not yet sent)."""
    if not isinstance(limits, Mapping):
        return "limits must be a JSON object"
    unknown = sorted(set(limits) - {"per_customer", "period_days", "total"})
    if unknown:
        return f"limits know per_customer, period_days and total, not {', '.join(unknown)}"
    for name in ("per_customer", "total"):
        if name in limits and not Int(1, MAX_COUNT).ok(limits[name]):
            return f"limits '{name}' must be a whole number >= 1, got {limits[name]!r}"
    if ("per_customer" in limits) != ("period_days" in limits):
        return "limits 'per_customer' and 'period_days' go together (uses per member per period of days)"
    if "period_days" in limits and not Int(1, MAX_PERIOD_DAYS).ok(limits["period_days"]):
        return f"limits 'period_days' must be a whole number from 1 to {MAX_PERIOD_DAYS}"
    return None


# ============================================================================================ beacon keys
class BeaconKind(StrEnum):
    """The static beacon formats a registered tag or a store beacon can be; the prefix of its key."""

    IBEACON = "ibeacon"
    EDDYSTONE_UID = "eddystone-uid"
    ALTBEACON = "altbeacon"


EID_IDENTITY_KIND = "eid"  # a presence identity's kind when it is an app's Eddystone-EID key, not a beacon key
EID_IDENTITY_PREFIX = "eid:"  # a customer's app EID identity id is this + the customer id
_HEX = re.compile(r"^[0-9a-f]+$")


class BeaconKeyError(ValueError):
    """A beacon key could not be read; ``str()`` says what was expected."""


def ibeacon_key(beacon_uuid: str, major: int, minor: int) -> str:
    """``ibeacon:<uuid, lower case with dashes>:<major>:<minor>`` (major/minor 0..65535, as decimals)."""
    return f"{BeaconKind.IBEACON}:{beacon_uuid}:{major}:{minor}"


def eddystone_uid_key(namespace: str, instance: str) -> str:
    """``eddystone-uid:<20 hex digits>:<12 hex digits>`` (lower case)."""
    return f"{BeaconKind.EDDYSTONE_UID}:{namespace}:{instance}"


def altbeacon_key(beacon_id: str) -> str:
    """``altbeacon:<40 hex digits>`` (lower case)."""
    return f"{BeaconKind.ALTBEACON}:{beacon_id}"


def _hex(text: str, length: int, what: str) -> str:
    value = text.strip().lower()
    if len(value) != length or not _HEX.match(value):
        raise BeaconKeyError(f"{what} must be {length} hexadecimal digits, got {text!r}")
    return value


def _parse_ibeacon(text: str) -> str:
    parts = text.strip().split(":")
    if len(parts) != 3:
        raise BeaconKeyError(f"an iBeacon is written UUID:MAJOR:MINOR, got {text!r}")
    try:
        uid = str(uuid.UUID(parts[0]))
        major, minor = int(parts[1]), int(parts[2])
    except ValueError:
        raise BeaconKeyError(f"an iBeacon is written UUID:MAJOR:MINOR with numbers 0..65535, got {text!r}") from None
    if not (0 <= major <= 65535 and 0 <= minor <= 65535):
        raise BeaconKeyError(f"iBeacon major and minor must be 0..65535, got {text!r}")
    return ibeacon_key(uid, major, minor)


def _parse_eddystone_uid(text: str) -> str:
    parts = text.strip().split(":")
    if len(parts) != 2:
        raise BeaconKeyError(f"an Eddystone-UID is written NAMESPACE:INSTANCE, got {text!r}")
    return eddystone_uid_key(_hex(parts[0], 20, "the namespace"), _hex(parts[1], 12, "the instance"))


def parse_ibeacon(text: str) -> str:
    """``UUID:MAJOR:MINOR`` as typed -> its key ``ibeacon:<uuid>:<major>:<minor>``; BeaconKeyError if not one."""
    return _parse_ibeacon(text)


def parse_eddystone_uid(text: str) -> str:
    """``NAMESPACE:INSTANCE`` (20 and 12 hex digits) -> ``eddystone-uid:<ns>:<inst>``; BeaconKeyError if not."""
    return _parse_eddystone_uid(text)


def parse_beacon_key(text: str) -> tuple[BeaconKind, str]:
    """A full beacon key as typed (``ibeacon:...``, ``eddystone-uid:...``, ``altbeacon:<40 hex>``; any case,
    spaces around) -> (its kind, the normalised key the till's scanner builds). BeaconKeyError if it is not."""
    prefix, _, rest = text.strip().partition(":")
    prefix = prefix.lower()
    if prefix == BeaconKind.IBEACON:
        return BeaconKind.IBEACON, _parse_ibeacon(rest)
    if prefix == BeaconKind.EDDYSTONE_UID:
        return BeaconKind.EDDYSTONE_UID, _parse_eddystone_uid(rest)
    if prefix == BeaconKind.ALTBEACON:
        return BeaconKind.ALTBEACON, altbeacon_key(_hex(rest, 40, "the AltBeacon id"))
    raise BeaconKeyError(f"a beacon key starts with ibeacon:, eddystone-uid: or altbeacon:, got {text!r}")


# ============================================================================================ presence rules
RULE_TRIGGERS = (ENTER, DWELL)


def presence_rule_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a presence rule the till can run (one sentence naming the rule and field), or None.

    The schema (``docs/sync-protocol.md``, "Presence"): a JSON object with ``campaign_id`` (a non-empty
    string), ``offer`` (an object: ``kind`` from ``OFFER_KINDS``, ``name``, ``params``), ``trigger``
    (``enter``, the default, or ``dwell``); optional ``zone``, ``dwell_min`` (>= 0), ``tiers``, ``segments``,
    ``valid_minutes`` (> 0, default 30), ``cap_count`` (> 0, default 1), ``cap_window_h`` (> 0, default 24),
    ``message``. The hub refuses such a rule; the till skips it."""
    if not isinstance(doc, dict):
        return "a presence rule must be a JSON object"
    cid = doc.get("campaign_id")
    if not isinstance(cid, str) or not cid:
        return "a presence rule has no campaign_id"
    offer = doc.get("offer")
    if not isinstance(offer, dict):
        return f"presence rule {cid}: offer must be an object with kind, name and params"
    kind = offer.get("kind")
    if kind not in OFFER_KINDS:
        return f"presence rule {cid}: offer.kind must be one of {', '.join(OFFER_KINDS)}, got {kind!r}"
    trigger = doc.get("trigger", ENTER)
    if trigger not in RULE_TRIGGERS:
        return f"presence rule {cid}: trigger must be 'enter' or 'dwell', got {trigger!r}"
    try:
        dict(offer.get("params") or {})
        tuple(doc.get("tiers", ()))
        tuple(doc.get("segments", ()))
        dwell_min, cap_window_h = float(doc.get("dwell_min", 0)), float(doc.get("cap_window_h", 24))
        valid_minutes, cap_count = int(doc.get("valid_minutes", 30)), int(doc.get("cap_count", 1))
    except (TypeError, ValueError) as exc:
        return f"presence rule {cid}: numbers are not valid ({exc})"
    if valid_minutes <= 0 or cap_count <= 0 or dwell_min < 0 or cap_window_h <= 0:
        return f"presence rule {cid}: valid_minutes/cap_count/cap_window_h must be positive and dwell_min not negative"
    return None


# -------------------------------------------------------------------------------------- loyalty card numbers
# The hub allocates a new member's card number in the form the till accepts by default (devices/barcode/
# config.py DEFAULT_CARD_PATTERN ``6009`` + 12 digits, ``loyalty_card_check = "luhn"``): the prefix, random
# digits, then the Luhn check digit (ISO/IEC 7812-1 Annex B, through python-stdnum).
MEMBER_CARD_PREFIX = "6009"
MEMBER_CARD_DIGITS = 16  # prefix + body + check digit


def member_card_number(body: str) -> str:
    """``MEMBER_CARD_PREFIX + body`` with its Luhn check digit appended; ``body`` holds the digits between
    (``MEMBER_CARD_DIGITS - len(MEMBER_CARD_PREFIX) - 1`` of them). ValueError for another length or a non-digit."""
    from stdnum import luhn

    if len(body) != MEMBER_CARD_DIGITS - len(MEMBER_CARD_PREFIX) - 1 or not (body.isascii() and body.isdigit()):
        raise ValueError(f"a card body is {MEMBER_CARD_DIGITS - len(MEMBER_CARD_PREFIX) - 1} digits, got {body!r}")
    payload = MEMBER_CARD_PREFIX + body
    return payload + luhn.calc_check_digit(payload)


def member_card_problem(number: str) -> str | None:
    """Why ``number`` is not a card number of the programme (prefix, length, digits, Luhn check digit), or None."""
    from stdnum import luhn

    if not (number.isascii() and number.isdigit()) or len(number) != MEMBER_CARD_DIGITS:
        return f"must be {MEMBER_CARD_DIGITS} digits"
    if not number.startswith(MEMBER_CARD_PREFIX):
        return f"must start with {MEMBER_CARD_PREFIX}"
    if not luhn.is_valid(number):
        return f"has a wrong check digit (the last digit should be {luhn.calc_check_digit(number[:-1])})"
    return None
