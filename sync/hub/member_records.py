"""Member records at the hub, for the member API (``sync/hub/member_api.py``) and the admin commands: creation
with a hub-allocated card number, partial updates, the member's profile (balance, tier and progress, history
across channels with items, points movements, consents), consent history, merging two records, the manual tier
override.

Rules:
- A card number is ``edge.core.contract.member_card_number``: the programme's prefix, 11 random digits (not a
  counter: a number says nothing about the others) and the Luhn check digit, unique among members and among
  the cards of merged records.
- Profile writes go through ``members.upsert`` (the same partial update as ``hub create-customer``: a field
  not given keeps its value) and consent through ``members.set_consent`` (history kept, location tags and keys
  reach the stores); ``customers.consents`` stays the current state the tills pull.
- A merge moves the absorbed member's balance to the survivor with two ledger entries through ``post_points``
  (``merge-<absorbed>-out`` / ``-in``, source ``merge:<id>``; idempotent), adds the absorbed 12-month spend,
  re-points sales, orders, personal offers and coupons, records the absorbed id, card, contact hashes and
  external id as aliases of the survivor, makes the survivor relevant to the absorbed member's stores and
  erases the absorbed record there (``members.forget``). Both ledgers stay: the survivor's profile lists the
  absorbed member's movements too.
- A tier override (``tier_override*`` columns) is the member's tier until its end date (inclusive, UTC);
  the programme's own evaluation honours it (issue 15 item 3).

Functions take the caller's transaction; refusals raise ``HubError`` (404 for an unknown member).
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, desc, select, update

from edge.core.contract import (
    MEMBER_CARD_DIGITS,
    MEMBER_CARD_PREFIX,
    ChangeKind,
    member_card_number,
    text_problem,
)
from edge.core.tiers import next_tier
from sync.hub import bonuses, members, programme
from sync.hub.admin import store_exists
from sync.hub.changes import record_many, relevant_stores
from sync.hub.common import HubError, chunks, now_iso
from sync.hub.db import insert
from sync.hub.ledger import post_points
from sync.hub.members import resolve_alias, resolve_id
from sync.hub.tables import (
    consent_history,
    coupons,
    customers,
    ledger,
    member_aliases,
    member_merges,
    offers,
    orders,
    sales,
)

ALIAS_KINDS = ("id", "card", "phone_hash", "email_hash", "external_id")
HISTORY_LIMIT = 50
OLDEST_BIRTHDAY = date(1900, 1, 1)
_BODY_DIGITS = MEMBER_CARD_DIGITS - len(MEMBER_CARD_PREFIX) - 1
_PROFILE_COLUMNS = ("id", "card_number", "display_name", "external_id", "home_store_id", "birthday", "preferences",
                    "balance", "tier", "spend_12m_cents", "consents", "phone_hash", "email_hash", "tier_override",
                    "tier_override_reason", "tier_override_until", "tier_override_by", "updated_at")


MAX_DISPLAY_NAME = 100
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def display_name_problem(value: Any) -> str | None:
    """Why ``value`` is not a member's name, or None. A name a cashier reads on the till and a receipt prints:
    a string of 1..100 characters (not only spaces), valid UTF-8 without NUL, at least one visible character,
    and no bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE and its kin, Unicode TR #9 section 2: they
    reorder the text around the name, the receipt's included). Zero-width joiners stay allowed inside a name
    (scripts and emoji need them). The member API, the CSV import and ``hub create-customer`` all ask it."""
    if not isinstance(value, str):
        return f"must be a string of 1 to {MAX_DISPLAY_NAME} characters"
    if not value.strip() or len(value) > MAX_DISPLAY_NAME:
        return f"must be 1 to {MAX_DISPLAY_NAME} characters long, got {len(value)}"
    problem = text_problem(value)
    if problem:
        return problem
    bidi = sorted({f"U+{ord(ch):04X}" for ch in value if ch in _BIDI_CONTROLS})
    if bidi:
        return f"contains the text-direction control {', '.join(bidi)}; send the name as it is written"
    if not any(unicodedata.category(ch)[0] in "LNPS" for ch in value):
        return "has no visible character (only spaces or invisible characters)"
    return None


def birthday_problem(value: str) -> str | None:
    """Why ``value`` is not a birthday (``YYYY-MM-DD``, from 1900-01-01 to today, UTC), or None."""
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return f"{value[:20]!r} is not a date written YYYY-MM-DD"
    return None if OLDEST_BIRTHDAY <= day <= datetime.now(UTC).date() else f"must be between {OLDEST_BIRTHDAY} and today"


def unknown_member(member_id: str) -> HubError:
    return HubError("unknown_member", f"there is no member {member_id!r}", 404)


# ------------------------------------------------------------------------------------------- ids, cards, aliases
def require_member(conn: Connection, member_id: str) -> str:
    """``resolve_id`` or ``HubError`` 404."""
    found = resolve_id(conn, member_id)
    if found is None:
        raise unknown_member(member_id)
    return found


def cards_taken(conn: Connection, cards: Sequence[str]) -> set[str]:
    """Which of ``cards`` a member or a merged record already holds."""
    taken: set[str] = set()
    for chunk in chunks(list(cards)):
        taken.update(r[0] for r in conn.execute(select(customers.c.card_number).where(
            customers.c.card_number.in_(chunk))))
        taken.update(r[0] for r in conn.execute(select(member_aliases.c.value).where(
            member_aliases.c.kind == "card", member_aliases.c.value.in_(chunk))))
    return taken


def new_card_numbers(conn: Connection, count: int) -> list[str]:
    """``count`` distinct unused card numbers (prefix + random digits + Luhn check digit)."""
    found: list[str] = []
    while len(found) < count:
        wanted = count - len(found)
        fresh = {member_card_number(f"{secrets.randbelow(10**_BODY_DIGITS):0{_BODY_DIGITS}d}") for _ in range(wanted)}
        fresh -= set(found)
        found.extend(sorted(fresh - cards_taken(conn, sorted(fresh))))
    return found


def external_ids_taken(conn: Connection, external_ids: Sequence[str]) -> dict[str, str]:
    """external id -> the member holding it (directly, or through a merged record)."""
    held: dict[str, str] = {}
    for chunk in chunks(list(external_ids)):
        held.update((e, c) for e, c in conn.execute(select(customers.c.external_id, customers.c.id).where(
            customers.c.external_id.in_(chunk))))
        held.update((e, c) for e, c in conn.execute(select(member_aliases.c.value, member_aliases.c.customer_id)
                                                    .where(member_aliases.c.kind == "external_id",
                                                           member_aliases.c.value.in_(chunk))))
    return held


# ------------------------------------------------------------------------------------------- create and update
def create(conn: Connection, member_id: str, fields: Mapping[str, Any], consents: Sequence[Mapping[str, Any]], *,
           source: str) -> tuple[str, bool]:
    """A new member ``member_id`` from checked ``fields`` (customers columns: display_name, phone_hash,
    email_hash, birthday, home_store_id, preferences, external_id, optionally card_number) and the consents
    given at sign-up (``name, granted, wording_version``). Returns (id, created): an ``external_id`` already
    held returns that member, unchanged (a retried sign-up). 409 for a card number already in use, 422 for
    an unknown home store."""
    external = fields.get("external_id")
    if external:
        held = external_ids_taken(conn, [external]).get(external)
        if held:
            return held, False
    _check_store(conn, fields.get("home_store_id"))
    card = fields.get("card_number")
    if card and cards_taken(conn, [card]):
        raise HubError("card_taken", f"card number {card} already belongs to a member", 409)
    data = {**fields, "id": member_id, "card_number": card or new_card_numbers(conn, 1)[0]}
    members.upsert(conn, data)
    for consent in consents:
        members.set_consent(conn, member_id, consent["name"], consent["granted"], source=source,
                            wording_version=consent["wording_version"])
    bonuses.award(conn, bonuses.BonusKind.SIGN_UP, member_id, now_iso())  # when configured (hub set-bonus)
    return member_id, True


def update_member(conn: Connection, member_id: str, fields: Mapping[str, Any],
                  consents: Sequence[Mapping[str, Any]], *, source: str) -> str:
    """Change only the given ``fields`` (``members.upsert``, as ``hub create-customer`` does) and record the
    given consents; returns the member's (resolved) id. 404 unknown, 409 card in use, 422 unknown store."""
    cid = require_member(conn, member_id)
    _check_store(conn, fields.get("home_store_id"))
    card = fields.get("card_number")
    if card:
        holder = conn.execute(select(customers.c.id).where(customers.c.card_number == card)).scalar()
        if (holder is not None and holder != cid) or resolve_alias(conn, "card", card) not in (None, cid):
            raise HubError("card_taken", f"card number {card} already belongs to another member", 409)
    external = fields.get("external_id")
    if external and external_ids_taken(conn, [external]).get(external, cid) != cid:
        raise HubError("external_id_taken", f"external id {external!r} already belongs to another member", 409)
    if fields:
        members.upsert(conn, {**fields, "id": cid})
    for consent in consents:
        members.set_consent(conn, cid, consent["name"], consent["granted"], source=source,
                            wording_version=consent["wording_version"])
    return cid


def _check_store(conn: Connection, store_id: str | None) -> None:
    if store_id and not store_exists(conn, store_id):
        raise HubError("unknown_store", f"there is no store {store_id!r}; create it with 'store-edge hub "
                       "create-store'", 422)


# ------------------------------------------------------------------------------------------- the profile
def tier_thresholds(conn: Connection) -> dict[str, int]:
    """Tier name -> net spend in cents (over the programme's window) from which it applies: the programme's
    ladder (``hub programme set tiers=...``, sync/hub/programme.py)."""
    from sync.hub.programme import get_rules

    return get_rules(conn).thresholds_cents


def override_active(until: str | None, today: date | None = None) -> bool:
    """Whether an override ending on ``until`` (ISO date, inclusive) still holds ``today`` (UTC)."""
    if not until:
        return False
    try:
        end = date.fromisoformat(until[:10])
    except ValueError:
        return False
    return end >= (today or datetime.now(UTC).date())


def profile(conn: Connection, member_id: str, history_limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    """The member as the API shows them: identity, balance, tier (an active override wins) and the progress to
    the next tier, consents with their time/source/wording, purchases across channels with items, points
    movements with reason and source, the points summary (earned, spent, expired, points still pending, the
    next expiry dates: ``programme.points_summary``), and the records merged into this one. 404 for an
    unknown member."""
    cid = require_member(conn, member_id)
    row = conn.execute(select(*(customers.c[c] for c in _PROFILE_COLUMNS)).where(customers.c.id == cid)).one()
    m = dict(row._mapping)
    merged = [r[0] for r in conn.execute(select(member_merges.c.absorbed_id).where(
        member_merges.c.survivor_id == cid).order_by(member_merges.c.merged_at))]
    thresholds = tier_thresholds(conn)
    spend = int(m["spend_12m_cents"])
    override = m["tier_override"] if override_active(m["tier_override_until"]) else None
    upcoming = next_tier(spend, thresholds)
    return {
        "id": cid, "card_number": m["card_number"], "display_name": m["display_name"],
        "external_id": m["external_id"], "home_store_id": m["home_store_id"], "birthday": m["birthday"],
        "preferences": json.loads(m["preferences"]), "has_phone": m["phone_hash"] is not None,
        "has_email": m["email_hash"] is not None, "balance": int(m["balance"]),
        "tier": override or m["tier"], "spend_12m_cents": spend,
        "next_tier": None if upcoming is None else {"tier": upcoming[0], "cents_to_go": upcoming[1],
                                                    "threshold_cents": thresholds[upcoming[0]]},
        "tier_override": None if override is None else {
            "tier": override, "reason": m["tier_override_reason"], "until": m["tier_override_until"],
            "by": m["tier_override_by"]},
        "consents": current_consents(conn, cid),
        "purchases": purchases(conn, [cid, *merged], history_limit),
        "points": movements(conn, [cid, *merged], history_limit),
        "points_summary": programme.points_summary(conn, cid),  # earned/spent/expired, locked, next expiries
        "merged_from": merged, "updated_at": m["updated_at"],
    }


def _items(lines: Any) -> list[dict[str, Any]]:
    if not isinstance(lines, list):
        return []
    keys = ("gtin", "name", "category", "qty", "unit_price_cents", "gross_cents", "discount_cents", "points")
    return [{k: line[k] for k in keys if k in line} for line in lines[:200] if isinstance(line, dict)]


def purchases(conn: Connection, ids: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """Till sales and web/app orders of these member ids, newest first, each with its items."""
    found: list[dict[str, Any]] = []
    for sale_id, sid, total, created, payload in conn.execute(
            select(sales.c.sale_id, sales.c.store_id, sales.c.total_cents, sales.c.created_at, sales.c.payload)
            .where(sales.c.customer_id.in_(ids)).order_by(desc(sales.c.created_at)).limit(limit)):
        found.append({"channel": "store", "id": sale_id, "store_id": sid, "status": "completed",
                      "total_cents": int(total), "created_at": created,
                      "items": _items(json.loads(payload).get("lines"))})
    for oid, channel, status, total, created, lines in conn.execute(
            select(orders.c.order_id, orders.c.channel, orders.c.status, orders.c.total_cents, orders.c.created_at,
                   orders.c.lines).where(orders.c.customer_id.in_(ids)).order_by(desc(orders.c.created_at))
            .limit(limit)):
        found.append({"channel": channel, "id": oid, "store_id": None, "status": status, "total_cents": int(total),
                      "created_at": created, "items": _items(json.loads(lines))})
    found.sort(key=lambda h: str(h["created_at"]), reverse=True)
    return found[:limit]


def movements(conn: Connection, ids: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """Ledger rows of these member ids, newest first: signed points, reason, source, where, balance after."""
    lc = ledger.c
    rows = conn.execute(select(lc.entry_id, lc.customer_id, lc.kind, lc.points, lc.reason, lc.source, lc.sale_id,
                               lc.store_id, lc.created_at, lc.applied_at, lc.balance_after)
                        .where(lc.customer_id.in_(ids)).order_by(desc(lc.applied_at), desc(lc.entry_id)).limit(limit))
    return [{"entry_id": r.entry_id, "member_id": r.customer_id,
             "points": int(r.points) if r.kind == "earn" else -int(r.points), "reason": r.reason,
             "source": r.source or (f"sale:{r.sale_id}" if r.sale_id else None), "store_id": r.store_id,
             "created_at": r.created_at, "applied_at": r.applied_at, "balance_after": int(r.balance_after)}
            for r in rows]


# ------------------------------------------------------------------------------------------- consents
def current_consents(conn: Connection, cid: str) -> dict[str, dict[str, Any]]:
    """name -> {granted, at, source, wording_version} from the latest history row of each consent; a consent
    set before history was kept shows its state with ``at``/``source`` null."""
    raw = conn.execute(select(customers.c.consents).where(customers.c.id == cid)).scalar()
    state = json.loads(raw) if raw else {}
    result: dict[str, dict[str, Any]] = {
        str(name): {"granted": bool(granted), "at": None, "source": None, "wording_version": None}
        for name, granted in state.items()}
    for row in consent_rows(conn, cid):  # oldest first: the last one of a name wins
        result[row["name"]] = {k: row[k] for k in ("granted", "at", "source", "wording_version")}
    return result


def consent_rows(conn: Connection, cid: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The consent history of a member, oldest first (``limit``: the newest ``limit`` rows)."""
    h = consent_history.c
    stmt = select(h.id, h.name, h.granted, h.wording_version, h.source, h.recorded_at).where(h.customer_id == cid)
    stmt = stmt.order_by(desc(h.id)).limit(limit) if limit else stmt.order_by(h.id)
    rows = [{"name": r.name, "granted": bool(r.granted), "wording_version": r.wording_version, "source": r.source,
             "at": r.recorded_at} for r in conn.execute(stmt)]
    return rows[::-1] if limit else rows


# ------------------------------------------------------------------------------------------- tier override
def set_tier_override(conn: Connection, member_id: str, tier: str | None, *, reason: str = "", until: str = "",
                      who: str = "admin") -> str:
    """Give a member ``tier`` until ``until`` (ISO date, inclusive) for ``reason``, by ``who``; ``tier`` None
    clears the override. The stores re-read the profile. ``ValueError`` for an unknown tier, an end date that
    is not a date or has passed, an empty reason; ``HubError`` 404 for an unknown member."""
    cid = require_member(conn, member_id)
    if tier is None:
        values: dict[str, Any] = dict.fromkeys(("tier_override", "tier_override_reason", "tier_override_until",
                                                "tier_override_by"))
    else:
        thresholds = tier_thresholds(conn)
        if tier not in thresholds:
            raise ValueError(f"there is no tier {tier!r}; the tiers are {', '.join(thresholds)}")
        try:
            end = date.fromisoformat(until)
        except ValueError:
            raise ValueError(f"the end date {until!r} is not a date like 2027-03-31") from None
        if end < datetime.now(UTC).date():
            raise ValueError(f"the end date {until} has passed")
        if not reason.strip():
            raise ValueError("say why the tier is overridden (--reason)")
        values = {"tier_override": tier, "tier_override_reason": reason.strip(), "tier_override_until": end.isoformat(),
                  "tier_override_by": who}
    conn.execute(update(customers).where(customers.c.id == cid).values(**values, updated_at=now_iso()))
    members.customer_changed(conn, cid)
    return cid


# ------------------------------------------------------------------------------------------- merge
def merge(conn: Connection, survivor_id: str, absorbed_id: str, *, who: str, reason: str) -> dict[str, Any]:
    """Merge ``absorbed_id`` into ``survivor_id`` (see the module's rules). Idempotent: merging the same pair
    again changes nothing and answers ``merged: false``. 404 for an unknown member, 409 when the absorbed
    record was merged into another member, 400 for a member merged with themself."""
    if survivor_id == absorbed_id:
        raise HubError("bad_request", "a member cannot be merged with themself: give two different ids", 400)
    survivor = _lock_pair(conn, survivor_id, absorbed_id)  # every check below reads the state after the lock
    done = conn.execute(select(member_merges.c.survivor_id, member_merges.c.points_moved).where(
        member_merges.c.absorbed_id == absorbed_id)).first()
    if survivor == absorbed_id:  # the survivor named was itself absorbed into the other one
        raise HubError("already_merged", f"member {survivor_id} was merged into {absorbed_id}; nothing to do", 409)
    if done is not None:
        if resolve_id(conn, done[0]) != survivor:
            raise HubError("already_merged", f"member {absorbed_id} was already merged into {done[0]}", 409)
        return _merge_result(conn, survivor, absorbed_id, int(done[1]), merged=False)
    if not members.exists(conn, absorbed_id):
        raise unknown_member(absorbed_id)
    c = customers.c
    gone = conn.execute(select(c.balance, c.spend_12m_cents, c.card_number, c.phone_hash, c.email_hash, c.birthday,
                               c.external_id).where(c.id == absorbed_id)).one()
    at = now_iso()
    moved = int(gone.balance)
    post_points(conn, customer_id=absorbed_id, points=-moved, reason=f"merged into member {survivor}",
                source=f"merge:{survivor}", entry_id=f"merge-{absorbed_id}-out", at=at, device_id="admin",
                event_id="admin")
    post_points(conn, customer_id=survivor, points=moved, reason=f"merged from member {absorbed_id}",
                source=f"merge:{absorbed_id}", entry_id=f"merge-{absorbed_id}-in", at=at, device_id="admin",
                event_id="admin")
    _absorb_fields(conn, survivor, gone)
    _repoint(conn, absorbed_id, survivor)
    stores = relevant_stores(conn, absorbed_id)
    members.forget(conn, absorbed_id)  # the absorbed record's stores delete it; identities go with it
    _add_aliases(conn, survivor, absorbed_id, gone, at)
    for store_id in stores:
        members.make_relevant(conn, survivor, store_id, f"merged member {absorbed_id}")
    conn.execute(member_merges.insert().values(absorbed_id=absorbed_id, survivor_id=survivor, points_moved=moved,
                                               merged_by=who, reason=reason, merged_at=at))
    members.customer_changed(conn, survivor)
    return _merge_result(conn, survivor, absorbed_id, moved, merged=True)


def _lock_pair(conn: Connection, survivor_id: str, absorbed_id: str) -> str:
    """Lock the survivor's and the absorbed member's rows (in id order, as every writer does) and return the
    survivor's current id. Two merges at once (A into B and B into A, or A into B and A into C) then run one
    after the other, and the second sees what the first did: without this both passed their checks before
    either locked, and the second failed half-way (500) on a row the first had erased. 404 unknown."""
    for _ in range(3):
        survivor = require_member(conn, survivor_id)
        for cid in sorted({survivor, absorbed_id}):
            conn.execute(select(customers.c.id).where(customers.c.id == cid).with_for_update())
        if resolve_id(conn, survivor_id) == survivor:  # not absorbed by a merge that committed meanwhile
            return survivor
    raise HubError("busy", f"member {survivor_id} is being merged by another request; retry shortly", 503)


def _merge_result(conn: Connection, survivor: str, absorbed: str, moved: int, *, merged: bool) -> dict[str, Any]:
    return {"survivor_id": survivor, "absorbed_id": absorbed, "points_moved": moved, "merged": merged,
            "balance": members.balance(conn, survivor)}


def _absorb_fields(conn: Connection, survivor: str, gone: Any) -> None:
    """Spend adds up; contact hashes and birthday the survivor lacks come from the absorbed record."""
    c = customers.c
    mine = conn.execute(select(c.phone_hash, c.email_hash, c.birthday).where(c.id == survivor)).one()
    fill = {k: getattr(gone, k) for k in ("phone_hash", "email_hash", "birthday")
            if getattr(mine, k) is None and getattr(gone, k) is not None}
    conn.execute(update(customers).where(c.id == survivor).values(
        spend_12m_cents=c.spend_12m_cents + int(gone.spend_12m_cents), updated_at=now_iso(), **fill))


def _repoint(conn: Connection, absorbed: str, survivor: str) -> None:
    """Sales, orders, personal offers and coupons of the absorbed record belong to the survivor."""
    conn.execute(update(sales).where(sales.c.customer_id == absorbed).values(customer_id=survivor))
    conn.execute(update(orders).where(orders.c.customer_id == absorbed).values(customer_id=survivor))
    changed: list[tuple[str, str, str | None]] = []
    for oid, data in conn.execute(select(offers.c.id, offers.c.data).where(offers.c.customer_id == absorbed)).all():
        conn.execute(update(offers).where(offers.c.id == oid).values(
            customer_id=survivor, data=json.dumps({**json.loads(data), "customer_id": survivor}), updated_at=now_iso()))
        changed.extend((ChangeKind.OFFER, oid, s) for s in relevant_stores(conn, survivor))
    codes = [r[0] for r in conn.execute(select(coupons.c.code).where(coupons.c.customer_id == absorbed))]
    conn.execute(update(coupons).where(coupons.c.customer_id == absorbed).values(customer_id=survivor))
    changed.extend((ChangeKind.COUPON, code, s) for code in codes for s in relevant_stores(conn, survivor))
    record_many(conn, changed)
    # records merged into the absorbed one earlier now resolve to the survivor too
    conn.execute(update(member_aliases).where(member_aliases.c.customer_id == absorbed).values(customer_id=survivor))
    conn.execute(update(member_merges).where(member_merges.c.survivor_id == absorbed).values(survivor_id=survivor))


def _add_aliases(conn: Connection, survivor: str, absorbed: str, gone: Any, at: str) -> None:
    values = {"id": absorbed, "card": gone.card_number, "phone_hash": gone.phone_hash,
              "email_hash": gone.email_hash, "external_id": gone.external_id}
    rows = [{"kind": k, "value": v, "customer_id": survivor, "since": at} for k, v in values.items() if v]
    stmt = insert(conn, member_aliases)
    conn.execute(stmt.on_conflict_do_update(index_elements=["kind", "value"],
                                            set_={"customer_id": stmt.excluded.customer_id}), rows)
