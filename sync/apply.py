"""Applying pulled changes to the edge database, one page per transaction together with the cursor.

A change the edge cannot store (a constraint fails) is skipped and noted in ``sync_state`` rather than
aborting the page: a pull that fails forever on one bad row would freeze the whole catalog.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from edge.core.contract import (
    PROGRAMME_KEY,
    ChangeKind,
    offer_limits_problem,
    offer_params_problem,
    parse_revocation_key,
    reward_problem,
)
from edge.core.programme import PointsSummary, ProgrammeRules
from sync.outbox import utc_now_iso
from sync.protocol import Change, ChangesPage

log = logging.getLogger(__name__)

CURSOR_KEY = "pull_cursor"
KEYS_KEY = "loyalty_keys"
REVOCATIONS_KEY = "revocations"
STORE_KEY = "store_profile"  # the hub's word on this till's store: name, locale, currency, timezone (JSON)
WARNINGS_KEY = "pull_warnings"
PROGRAMME_STATE_KEY = "programme"  # the hub's programme rules (ChangeKind.PROGRAMME), checked, as JSON


# the hub's clock minus this device's, in seconds: recorded by sync.client, read by edge/clock.py and here
HUB_CLOCK_OFFSET_KEY = "hub_clock_offset_s"


def hub_now(conn: sqlite3.Connection) -> datetime:
    """The device's time corrected by the recorded hub clock offset (the device's own until one is known)."""
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", [HUB_CLOCK_OFFSET_KEY]).fetchone()
    try:
        offset = float(row[0]) if row is not None else 0.0
    except (TypeError, ValueError):
        offset = 0.0
    if offset != offset or abs(offset) > 10 * 365 * 86400:  # NaN or absurd: not trusted
        offset = 0.0
    return datetime.now(UTC) + timedelta(seconds=offset)


def get_state(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_state(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def apply_page(db: sqlite_utils.Database, page: ChangesPage) -> int:
    """Apply one page and store its cursor atomically; returns how many changes were applied."""
    applied, warnings = 0, []
    with db.conn:
        if not db.conn.in_transaction:
            db.conn.execute("BEGIN IMMEDIATE")
        for change in page.changes:
            try:
                _apply(db, change)
                applied += 1
            except (sqlite3.IntegrityError, KeyError, TypeError, ValueError, OverflowError) as exc:
                warnings.append(f"{change.kind} {change.key}: {exc}")
        if warnings:
            old = json.loads(get_state(db, WARNINGS_KEY) or "[]")
            set_state(db, WARNINGS_KEY, json.dumps((old + warnings)[-100:]))
            log.warning("skipped %d pulled changes: %s", len(warnings), warnings[:3])
        set_state(db, CURSOR_KEY, page.cursor)
    return applied


def cache_customer(db: sqlite_utils.Database, data: dict[str, Any]) -> None:
    """Store one customer profile as the change feed sends it (``members.snapshot`` at the hub), in its own
    transaction, through the same code as a pulled ``customer`` change: the member look-up's answer
    (``sync.lookup``) is cached exactly like a pulled profile. Raises KeyError/TypeError/ValueError for a
    profile that lacks its fields."""
    with db.conn:
        if not db.conn.in_transaction:
            db.conn.execute("BEGIN IMMEDIATE")
        _customer(db.conn, str(data["id"]), data)


def _apply(db: sqlite_utils.Database, change: Change) -> None:
    handler = _HANDLERS.get(change.kind)
    if handler is not None:
        handler(db.conn, change.key, change.data)


def _product(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    if d is None:
        return  # products are never deleted at the edge: old sales and receipts refer to them by name
    conn.execute(
        "INSERT INTO products (gtin, name, price_cents, vat_rate_bp, category, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (gtin) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents, "
        "vat_rate_bp = excluded.vat_rate_bp, category = excluded.category, updated_at = excluded.updated_at",
        [d["gtin"], d["name"], int(d["price_cents"]), int(d["vat_rate_bp"]), d["category"], utc_now_iso()],
    )


def _ensure_customer_stub(conn: sqlite3.Connection, customer_id: str | None) -> None:
    # a personal offer can arrive on an earlier page than its customer's profile; the profile fills this in
    if customer_id:
        conn.execute(
            "INSERT INTO customers (id, display_name) VALUES (?, '(syncing)') ON CONFLICT (id) DO NOTHING",
            [customer_id],
        )


def _offer(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    if d is None:
        conn.execute("UPDATE offers SET active = 0 WHERE id = ?", [key])
        return
    # an offer the till cannot price (an old or faulty hub sent it) goes to the pull warnings, not the till
    problem = offer_params_problem(str(d.get("kind")), d.get("params", {}))
    if problem:
        raise ValueError(f"offer not stored: {problem}")
    _ensure_customer_stub(conn, d.get("customer_id"))
    conn.execute(
        "INSERT INTO offers (id, kind, name, params, priority, stackable, tiers, customer_id, requires_coupon, "
        "birthday_month, valid_from, valid_until, source, active, limits) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'hub', ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, params = excluded.params, "
        "priority = excluded.priority, stackable = excluded.stackable, tiers = excluded.tiers, "
        "customer_id = excluded.customer_id, requires_coupon = excluded.requires_coupon, "
        "birthday_month = excluded.birthday_month, valid_from = excluded.valid_from, "
        "valid_until = excluded.valid_until, source = 'hub', active = excluded.active, limits = excluded.limits",
        [d["id"], d["kind"], d.get("name", d["id"]), json.dumps(d.get("params", {})), int(d.get("priority", 0)),
         int(bool(d.get("stackable"))), json.dumps(d.get("tiers", [])), d.get("customer_id"),
         int(bool(d.get("requires_coupon"))), int(d.get("birthday_month", 0)), d.get("valid_from"),
         d.get("valid_until"), int(bool(d.get("active", True))), json.dumps(_limits(d))],
    )


def _limits(d: dict[str, Any]) -> dict[str, Any]:
    """The offer's usage limits with the hub's count of its uses (``used_total``); a malformed one is refused."""
    limits = d.get("limits") or {}
    problem = offer_limits_problem(limits)
    if problem:
        raise ValueError(f"offer not stored: {problem}")
    used = d.get("used_total")
    return {**limits, "used_total": used} if isinstance(used, int) and not isinstance(used, bool) else dict(limits)


def _coupon(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    if d is None or d.get("revoked_at"):
        # a revoked coupon must not be redeemable offline; unless this till already redeemed it
        conn.execute("DELETE FROM coupons WHERE code = ? AND redeemed_at IS NULL", [key])
        return
    if conn.execute("SELECT 1 FROM offers WHERE id = ?", [d["offer_id"]]).fetchone() is None:
        raise ValueError(f"offer {d['offer_id']} is not known here")
    _ensure_customer_stub(conn, d.get("customer_id"))
    # a local redemption not yet confirmed by the hub wins over the hub's older "not redeemed"
    conn.execute(
        "INSERT INTO coupons (code, offer_id, customer_id, single_use, redeemed_at, redeemed_sale_id) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET offer_id = excluded.offer_id, "
        "customer_id = excluded.customer_id, single_use = excluded.single_use, "
        "redeemed_at = coalesce(coupons.redeemed_at, excluded.redeemed_at), "
        "redeemed_sale_id = coalesce(coupons.redeemed_sale_id, excluded.redeemed_sale_id)",
        [d["code"], d["offer_id"], d.get("customer_id"), int(bool(d.get("single_use", True))), d.get("redeemed_at"),
         d.get("redeemed_sale_id")],
    )


def _customer(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    if d is None:
        _forget_customer(conn, key)
        return
    conn.execute(
        "INSERT INTO customers (id, card_number, display_name, phone_hash, email_hash, tier, confirmed_points, "
        "spend_12m_cents, consents, birthday, preferences, recent_purchases, pickup_orders, rewards, updated_at, "
        "points_summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "points_summary = excluded.points_summary, "
        "card_number = excluded.card_number, display_name = excluded.display_name, phone_hash = excluded.phone_hash, "
        "email_hash = excluded.email_hash, tier = excluded.tier, confirmed_points = excluded.confirmed_points, "
        "spend_12m_cents = excluded.spend_12m_cents, consents = excluded.consents, birthday = excluded.birthday, "
        "preferences = excluded.preferences, recent_purchases = excluded.recent_purchases, "
        "pickup_orders = excluded.pickup_orders, rewards = excluded.rewards, updated_at = excluded.updated_at",
        [d["id"], d.get("card_number"), d.get("display_name") or d["id"], d.get("phone_hash"), d.get("email_hash"),
         d.get("tier") or "Bronze", int(d.get("confirmed_points", 0)), int(d.get("spend_12m_cents", 0)),
         json.dumps(d.get("consents", {})), d.get("birthday"), json.dumps(d.get("preferences", {})),
         json.dumps(d.get("recent_purchases", [])), json.dumps(d.get("pickup_orders", [])),
         json.dumps(d.get("rewards", [])), utc_now_iso(),
         json.dumps(PointsSummary.from_doc(d.get("points")).to_doc())],  # what the till can read, nothing else
    )
    uses = d.get("offer_uses")
    if isinstance(uses, dict):
        conn.execute("UPDATE customers SET offer_uses = ? WHERE id = ?", [json.dumps(
            {k: v for k, v in uses.items() if isinstance(k, str) and isinstance(v, int)}), d["id"]])
    # the confirmed balance includes these entries, so they stop counting as pending on this device
    applied = [e for e in d.get("applied_entry_ids", []) if isinstance(e, str)]
    now = utc_now_iso()
    for i in range(0, len(applied), 500):
        chunk = applied[i : i + 500]
        conn.execute(
            f"INSERT OR IGNORE INTO ledger_confirmations (entry_id, confirmed_at) SELECT entry_id, ? FROM ledger "
            f"WHERE entry_id IN ({','.join('?' * len(chunk))})",
            [now, *chunk],
        )


def _forget_customer(conn: sqlite3.Connection, cid: str) -> None:
    """The hub erased the customer (or they stopped being relevant here): their identities, queued sightings,
    personal offers and unredeemed coupons go, and the customer row with them. Rows the append-only ledger or
    past sales still name keep a stub with every personal field cleared."""
    for sql in (
        "DELETE FROM presence_identities WHERE customer_id = ?",
        "DELETE FROM presence_sightings WHERE customer_id = ?",
        "DELETE FROM token_sightings WHERE customer_id = ?",
        "DELETE FROM coupons WHERE customer_id = ? AND redeemed_at IS NULL",
        "UPDATE coupons SET customer_id = NULL WHERE customer_id = ?",  # redeemed: the sale stands, not the person
        "DELETE FROM presence_offers_issued WHERE customer_id = ?",
        "DELETE FROM offers WHERE customer_id = ? AND id NOT IN (SELECT offer_id FROM coupons)",
        "UPDATE offers SET customer_id = NULL, active = 0 WHERE customer_id = ?",
        "DELETE FROM presence_visits WHERE customer_id = ?",
    ):
        conn.execute(sql, [cid])
    if any(conn.execute(f"SELECT 1 FROM {table} WHERE customer_id = ? LIMIT 1", [cid]).fetchone()
           for table in ("ledger", "sales", "feedback")):
        conn.execute(
            "UPDATE customers SET card_number = NULL, display_name = '(removed)', phone_hash = NULL, "
            "email_hash = NULL, consents = '{}', birthday = NULL, preferences = '{}', recent_purchases = '[]', "
            "pickup_orders = '[]', rewards = '[]', updated_at = ? WHERE id = ?", [utc_now_iso(), cid])
    else:
        conn.execute("DELETE FROM customers WHERE id = ?", [cid])


def _presence_identity(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    # the hub sends null when consent is withdrawn or the tag/key unlinked: the device must not keep it
    if d is None:
        conn.execute("DELETE FROM presence_identities WHERE id = ?", [key])
        return
    _ensure_customer_stub(conn, d["customer_id"])
    conn.execute(
        "INSERT INTO presence_identities (id, customer_id, kind, beacon_key, eid_identity_key, eid_rotation_exponent, "
        "eid_clock_offset_s, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "customer_id = excluded.customer_id, kind = excluded.kind, beacon_key = excluded.beacon_key, "
        "eid_identity_key = excluded.eid_identity_key, eid_rotation_exponent = excluded.eid_rotation_exponent, "
        "eid_clock_offset_s = excluded.eid_clock_offset_s, updated_at = excluded.updated_at",
        [key, d["customer_id"], d["kind"], d.get("beacon_key"), d.get("eid_identity_key"),
         d.get("eid_rotation_exponent"), int(d.get("eid_clock_offset_s") or 0), utc_now_iso()],
    )


def _store_beacon(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    if d is None:
        conn.execute("DELETE FROM store_beacons WHERE beacon_key = ?", [key])
        return
    conn.execute(
        "INSERT INTO store_beacons (beacon_key, zone, label) VALUES (?, ?, ?) ON CONFLICT (beacon_key) DO UPDATE "
        "SET zone = excluded.zone, label = excluded.label",
        [key, str(d["zone"]), str(d.get("label") or "")],
    )


def _presence_rule(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    if d is None:
        conn.execute("DELETE FROM presence_rules WHERE campaign_id = ?", [key])
        return
    if not isinstance(d.get("rule"), dict):
        raise ValueError("the rule is not an object")
    conn.execute(
        "INSERT INTO presence_rules (campaign_id, rule, active, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (campaign_id) DO UPDATE SET rule = excluded.rule, active = excluded.active, "
        "updated_at = excluded.updated_at",
        [key, json.dumps(d["rule"], sort_keys=True), int(bool(d.get("active", True))), utc_now_iso()],
    )


def _sighting(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    # queued for the presence runner (edge/presence_runner.py), which feeds PresenceService.handle_sighting
    if d is None:
        conn.execute("DELETE FROM presence_sightings WHERE id = ?", [key])  # consent withdrawn meanwhile
        return
    conn.execute(
        "INSERT INTO presence_sightings (id, customer_id, zone, beacon_key, kind, seen_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        [key, d["customer_id"], d.get("zone"), d.get("beacon"), d["kind"], str(d["time"])],
    )


def _token_sighting(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    """Another till of this store saw a loyalty-app code: the same code here within its window is a copy."""
    till, _, token = key.rpartition(":")
    if d is None:
        conn.execute("DELETE FROM token_sightings WHERE token_hash = ? AND till_id = ?", [token, till])
        return
    expires = datetime.fromisoformat(str(d["expires_at"]).replace("Z", "+00:00"))
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= hub_now(conn):
        return  # the code is no longer valid anywhere: nothing to compare with
    # the till (edge/session.py) compares expires_at as text with datetime.now(UTC).isoformat(): same format
    conn.execute(
        "INSERT OR REPLACE INTO token_sightings (token_hash, till_id, customer_id, seen_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [d["token_hash"], d["till_id"], d["customer_id"], str(d["seen_at"]), expires.astimezone(UTC).isoformat()],
    )


def _json_state(conn: sqlite3.Connection, key: str, default: str) -> Any:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
    return json.loads(row[0] if row else default)


def _put_state(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value, sort_keys=True)],
    )


def _signing_key(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    keys = _json_state(conn, KEYS_KEY, "{}")
    if d is None:
        keys.pop(key, None)
    else:
        keys[key] = {"kid": d["kid"], "public_key_b64": d["public_key_b64"], "not_after": d["not_after"],
                     "revoked": bool(d.get("revoked"))}
    _put_state(conn, KEYS_KEY, keys)
    # schema v2 has a token_keys table for the offline verifier of app codes; older schemas do not
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'token_keys'").fetchone():
        if d is None or d.get("revoked"):
            conn.execute("DELETE FROM token_keys WHERE kid = ?", [key])
        else:
            conn.execute(
                "INSERT INTO token_keys (kid, public_key, not_after) VALUES (?, ?, ?) ON CONFLICT (kid) DO UPDATE "
                "SET public_key = excluded.public_key, not_after = excluded.not_after",
                [d["kid"], d["public_key_b64"], d["not_after"]],
            )


def _revocation(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    revoked = _json_state(conn, REVOCATIONS_KEY, "[]")
    if key not in revoked:
        revoked.append(key)
    _put_state(conn, REVOCATIONS_KEY, revoked[-10_000:])
    what, ident = parse_revocation_key(key)
    if what == ChangeKind.COUPON:
        conn.execute("DELETE FROM coupons WHERE code = ? AND redeemed_at IS NULL", [ident])


def _programme(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    """The hub's programme rules: checked like the hub checks them; a document this till cannot use goes to the
    pull warnings and the rules in force stay (the built-in defaults until a good one arrives)."""
    if key != PROGRAMME_KEY or d is None:
        return
    rules = ProgrammeRules.from_doc(d)  # ValueError: skipped, noted in the pull warnings
    _put_state(conn, PROGRAMME_STATE_KEY, rules.to_doc())


def _store(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    """The hub's store record (change kind ``store``): its name, locale, currency and time zone, each checked
    as the till's settings are (``edge.core.l10n``); a value the till could not use refuses the change (it
    goes to the pull warnings) and the till keeps what it had."""
    if d is None:
        return
    from edge.core.l10n import check_locale, check_timezone
    from edge.core.money import minor_exponent

    profile: dict[str, str] = {}
    for name, check in (("locale", check_locale), ("currency", minor_exponent), ("timezone", check_timezone)):
        value = d.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"the store's {name} is not text")
        check(value)  # ValueError in words
        profile[name] = check_locale(value) if name == "locale" else value.upper() if name == "currency" else value
    if isinstance(d.get("name"), str) and d["name"].strip() and d["name"].isprintable():
        profile["name"] = d["name"][:80]
    _put_state(conn, STORE_KEY, profile)


def store_profile(db: sqlite_utils.Database) -> dict[str, str]:
    """What the hub last said about this till's store (``name``, ``locale``, ``currency``, ``timezone``; any of
    them absent), ``{}`` before the first pull that carried it."""
    row = db.conn.execute("SELECT value FROM sync_state WHERE key = ?", [STORE_KEY]).fetchone()
    try:
        found = json.loads(row[0]) if row is not None else {}
    except ValueError:
        return {}
    return {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


def _reward(conn: sqlite3.Connection, key: str, d: dict[str, Any] | None) -> None:
    """A reward of the hub's catalogue (``contract.reward_problem``); null: retired, the till stops offering it
    (claims made stay in ``reward_claims``)."""
    if d is None:
        conn.execute("DELETE FROM rewards WHERE id = ?", [key])
        return
    problem = reward_problem(d)
    if problem or d["id"] != key:
        raise ValueError(f"reward not stored: {problem or 'its id is not its key'}")
    conn.execute(
        "INSERT INTO rewards (id, name, kind, points, gtin, amount_cents, offer_id, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
        "points = excluded.points, gtin = excluded.gtin, amount_cents = excluded.amount_cents, "
        "offer_id = excluded.offer_id, updated_at = excluded.updated_at",
        [key, d["name"], d["kind"], int(d["points"]), d.get("gtin"), d.get("amount_cents"), d.get("offer_id"),
         utc_now_iso()],
    )


_HANDLERS: dict[str, Callable[[sqlite3.Connection, str, dict[str, Any] | None], None]] = {
    ChangeKind.PRODUCT: _product,
    ChangeKind.OFFER: _offer,
    ChangeKind.COUPON: _coupon,
    ChangeKind.CUSTOMER: _customer,
    ChangeKind.SIGNING_KEY: _signing_key,
    ChangeKind.REVOCATION: _revocation,
    ChangeKind.PRESENCE_IDENTITY: _presence_identity,
    ChangeKind.STORE_BEACON: _store_beacon,
    ChangeKind.PRESENCE_RULE: _presence_rule,
    ChangeKind.SIGHTING: _sighting,
    ChangeKind.TOKEN_SIGHTING: _token_sighting,
    ChangeKind.PROGRAMME: _programme,
    ChangeKind.STORE: _store,
    ChangeKind.REWARD: _reward,
}


def programme_rules(conn: sqlite3.Connection) -> ProgrammeRules | None:
    """The programme pulled from the hub, or None until one arrived (the till then uses its settings)."""
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", [PROGRAMME_STATE_KEY]).fetchone()
    if row is None:
        return None
    try:
        return ProgrammeRules.from_doc(json.loads(row[0]))
    except ValueError:  # damaged by hand: the built-in defaults, as before any pull
        return None


def loyalty_public_keys(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """The hub's Ed25519 public keys for loyalty tokens: {kid: {kid, public_key_b64, not_after, revoked}}."""
    return dict(json.loads(get_state(db, KEYS_KEY) or "{}"))


def revocations(db: sqlite_utils.Database) -> list[str]:
    """Revoked things as 'what:id' strings (e.g. 'signing_key:k01...', 'coupon:SUMMER5')."""
    return list(json.loads(get_state(db, REVOCATIONS_KEY) or "[]"))
