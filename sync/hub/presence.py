"""The hub's side of presence and of till-to-till data (docs/sync-protocol.md, "Presence").

- Registered tags and app EID keys go to a store's devices only while the customer holds location consent and
  is relevant to that store; a withdrawn consent or a removed link sends ``data: null`` (the edge deletes).
- Store beacons and presence rules are per store.
- App sightings (iOS: a store iBeacon woke the app, the app backend reports it) are stored and relayed to the
  store only with location consent.
- Presence analytics from the edge are stored in tables; only notification requests go to the webhook.
- Loyalty-app code sightings of one till are relayed to the store's other tills.

Functions here run inside a ``HubStorage`` write transaction (``tx``); the storage wraps them.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sync import protocol
from sync.hub.db import Tx

NOTIFICATION_EVENT = "presence.notification_requested"
VISIT_EVENT = "presence.visit"
ANONYMOUS_EVENT = "presence.anonymous_count"
ANALYTICS_EVENT = "presence.analytics"
TOKEN_SEEN_EVENT = "loyalty.token_seen"
ANALYTICS_FIELDS = ("since", "until", "zone_visits", "dwell_distribution", "offers_issued", "offers_converted",
                    "conversion_rate", "anonymous_devices")
EID_PREFIX = "eid:"
_HEX = re.compile(r"^[0-9a-f]+$")


class PresenceInputError(ValueError):
    """Bad admin or API input; ``str()`` says which value and what is expected."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _change(tx: Tx, kind: str, key: str, store_id: str | None) -> None:
    tx.exe("INSERT INTO changes (kind, key, store_id) VALUES (?, ?, ?)", [kind, key, store_id])


# ------------------------------------------------------------------------------------------- beacon keys
def _hex(text: str, length: int, what: str) -> str:
    value = text.strip().lower()
    if len(value) != length or not _HEX.match(value):
        raise PresenceInputError(f"{what} must be {length} hexadecimal digits, got {text!r}")
    return value


def ibeacon_key(text: str) -> str:
    """``UUID:MAJOR:MINOR`` -> the edge's key ``ibeacon:<uuid>:<major>:<minor>``."""
    parts = text.strip().split(":")
    if len(parts) != 3:
        raise PresenceInputError(f"an iBeacon is written UUID:MAJOR:MINOR, got {text!r}")
    try:
        uid = str(uuid.UUID(parts[0]))
        major, minor = int(parts[1]), int(parts[2])
    except ValueError:
        raise PresenceInputError(f"an iBeacon is written UUID:MAJOR:MINOR with numbers 0..65535, got {text!r}") from None
    if not (0 <= major <= 65535 and 0 <= minor <= 65535):
        raise PresenceInputError(f"iBeacon major and minor must be 0..65535, got {text!r}")
    return f"ibeacon:{uid}:{major}:{minor}"


def eddystone_uid_key(text: str) -> str:
    """``NAMESPACE:INSTANCE`` (20 and 12 hex digits) -> ``eddystone-uid:<ns>:<inst>``."""
    parts = text.strip().split(":")
    if len(parts) != 2:
        raise PresenceInputError(f"an Eddystone-UID is written NAMESPACE:INSTANCE, got {text!r}")
    return f"eddystone-uid:{_hex(parts[0], 20, 'the namespace')}:{_hex(parts[1], 12, 'the instance')}"


def beacon_key(text: str) -> tuple[str, str]:
    """A full beacon key (``ibeacon:...``, ``eddystone-uid:...``, ``altbeacon:<40 hex>``) -> (kind, key)."""
    kind, _, rest = text.strip().partition(":")
    kind = kind.lower()
    if kind == "ibeacon":
        return kind, ibeacon_key(rest)
    if kind == "eddystone-uid":
        return kind, eddystone_uid_key(rest)
    if kind == "altbeacon":
        return kind, f"altbeacon:{_hex(rest, 40, 'the AltBeacon id')}"
    raise PresenceInputError(f"a beacon key starts with ibeacon:, eddystone-uid: or altbeacon:, got {text!r}")


# ------------------------------------------------------------------------------------------- consent
def has_location_consent(tx: Tx, customer_id: str) -> bool:
    raw = tx.scalar("SELECT consents FROM customers WHERE id = ?", [customer_id])
    try:
        consents = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return False
    return isinstance(consents, dict) and consents.get("location") is True


def _relevant_stores(tx: Tx, customer_id: str) -> list[str]:
    return [r[0] for r in tx.all("SELECT store_id FROM customer_stores WHERE customer_id = ?", [customer_id])]


def identities_changed(tx: Tx, customer_id: str, store_id: str | None = None) -> None:
    """The customer's identities to each relevant store (or one store); the snapshot applies consent."""
    ids = [r[0] for r in tx.all("SELECT id FROM presence_identities WHERE customer_id = ?", [customer_id])]
    stores = [store_id] if store_id else _relevant_stores(tx, customer_id)
    for sid in stores:
        for ident in ids:
            _change(tx, protocol.PRESENCE_IDENTITY, ident, sid)


def _put_identity(tx: Tx, ident: str, customer_id: str, kind: str, beacon: str | None, key: str | None,
                  exponent: int | None, offset: int) -> None:
    if tx.one("SELECT 1 FROM customers WHERE id = ?", [customer_id]) is None:
        raise PresenceInputError(f"there is no customer {customer_id!r}")
    previous = tx.scalar("SELECT customer_id FROM presence_identities WHERE id = ?", [ident])
    if previous is not None and previous != customer_id:
        identities_changed_for(tx, ident, previous)  # the former owner's stores forget the tag
    tx.exe("INSERT INTO presence_identities (id, customer_id, kind, beacon_key, eid_identity_key, "
           "eid_rotation_exponent, eid_clock_offset_s, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, kind = excluded.kind, "
           "beacon_key = excluded.beacon_key, eid_identity_key = excluded.eid_identity_key, "
           "eid_rotation_exponent = excluded.eid_rotation_exponent, "
           "eid_clock_offset_s = excluded.eid_clock_offset_s, updated_at = excluded.updated_at",
           [ident, customer_id, kind, beacon, key, exponent, offset, _now()])
    identities_changed_for(tx, ident, customer_id)


def identities_changed_for(tx: Tx, ident: str, customer_id: str) -> None:
    for sid in _relevant_stores(tx, customer_id):
        _change(tx, protocol.PRESENCE_IDENTITY, ident, sid)


def link_tag(tx: Tx, customer_id: str, key: str) -> str:
    """A registered tag (its full beacon key); the tag's key is its identity id (one owner per tag)."""
    kind, normal = beacon_key(key)
    _put_identity(tx, normal, customer_id, kind, normal, None, None, 0)
    return normal


def set_eid_key(tx: Tx, customer_id: str, key_hex: str, exponent: int, clock_offset_s: int = 0) -> str:
    key = _hex(key_hex, 32, "the EID identity key")
    if not 0 <= exponent <= 15:
        raise PresenceInputError(f"the EID rotation exponent must be 0..15, got {exponent}")
    ident = EID_PREFIX + customer_id
    _put_identity(tx, ident, customer_id, "eid", None, key, exponent, int(clock_offset_s))
    return ident


def unlink(tx: Tx, ident: str) -> bool:
    owner = tx.scalar("SELECT customer_id FROM presence_identities WHERE id = ?", [ident])
    if owner is None:
        return False
    tx.exe("DELETE FROM presence_identities WHERE id = ?", [ident])
    identities_changed_for(tx, ident, owner)  # snapshots are now null: the edges delete
    return True


def identity_snapshot(tx: Tx, ident: str, store_id: str) -> dict[str, Any] | None:
    row = tx.one("SELECT id, customer_id, kind, beacon_key, eid_identity_key, eid_rotation_exponent, "
                 "eid_clock_offset_s FROM presence_identities WHERE id = ?", [ident])
    if row is None or not has_location_consent(tx, row[1]):
        return None
    if tx.one("SELECT 1 FROM customer_stores WHERE customer_id = ? AND store_id = ?", [row[1], store_id]) is None:
        return None
    return {"id": row[0], "customer_id": row[1], "kind": row[2], "beacon_key": row[3], "eid_identity_key": row[4],
            "eid_rotation_exponent": row[5], "eid_clock_offset_s": int(row[6] or 0)}


# ------------------------------------------------------------------------------------------- store beacons, rules
def add_store_beacon(tx: Tx, store_id: str, key: str, zone: str, label: str = "") -> str:
    _, normal = beacon_key(key)
    if not zone.strip():
        raise PresenceInputError("a store beacon needs a zone name")
    tx.exe("INSERT INTO store_beacons (store_id, beacon_key, zone, label, updated_at) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (store_id, beacon_key) DO UPDATE SET zone = excluded.zone, label = excluded.label, "
           "updated_at = excluded.updated_at", [store_id, normal, zone.strip(), label, _now()])
    _change(tx, protocol.STORE_BEACON, normal, store_id)
    return normal


def remove_store_beacon(tx: Tx, store_id: str, key: str) -> bool:
    _, normal = beacon_key(key)
    gone = tx.exe("DELETE FROM store_beacons WHERE store_id = ? AND beacon_key = ?", [store_id, normal])
    _change(tx, protocol.STORE_BEACON, normal, store_id)
    return bool(gone)


def store_beacon_snapshot(tx: Tx, key: str, store_id: str) -> dict[str, Any] | None:
    row = tx.one("SELECT beacon_key, zone, label FROM store_beacons WHERE store_id = ? AND beacon_key = ?",
                 [store_id, key])
    return None if row is None else {"beacon_key": row[0], "zone": row[1], "label": row[2]}


def check_rule(rule: Any) -> dict[str, Any]:
    """The rule as the edge will run it (edge.core.presence_offers); refused here rather than skipped there."""
    from edge.core.presence_offers import RuleError, rule_from_dict

    if not isinstance(rule, dict) or not isinstance(rule.get("campaign_id"), str) or not rule["campaign_id"]:
        raise PresenceInputError("a presence rule is a JSON object with a 'campaign_id'")
    try:
        rule_from_dict(rule)
    except (RuleError, TypeError, ValueError, KeyError) as exc:
        raise PresenceInputError(f"presence rule {rule['campaign_id']}: {exc}") from None
    return rule


def put_rule(tx: Tx, store_id: str, rule: dict[str, Any]) -> str:
    rule = check_rule(rule)
    cid = rule["campaign_id"]
    tx.exe("INSERT INTO presence_rules (store_id, campaign_id, rule, updated_at) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (store_id, campaign_id) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at",
           [store_id, cid, json.dumps(rule, sort_keys=True), _now()])
    _change(tx, protocol.PRESENCE_RULE, cid, store_id)
    return str(cid)


def remove_rule(tx: Tx, store_id: str, campaign_id: str) -> bool:
    gone = tx.exe("DELETE FROM presence_rules WHERE store_id = ? AND campaign_id = ?", [store_id, campaign_id])
    _change(tx, protocol.PRESENCE_RULE, campaign_id, store_id)
    return bool(gone)


def rule_snapshot(tx: Tx, campaign_id: str, store_id: str) -> dict[str, Any] | None:
    text = tx.scalar("SELECT rule FROM presence_rules WHERE store_id = ? AND campaign_id = ?", [store_id, campaign_id])
    return None if text is None else {"campaign_id": campaign_id, "rule": json.loads(text), "active": True}


# ------------------------------------------------------------------------------------------- app sightings
def check_sighting(doc: Any) -> dict[str, Any]:
    """``POST /v1/sightings`` body -> a normalised record; every problem named in one sentence."""
    if not isinstance(doc, dict):
        raise PresenceInputError("the sighting must be a JSON object")
    problems = []
    cid = doc.get("customer_id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 64:
        problems.append("'customer_id' must be a string of 1 to 64 characters")
    if doc.get("kind") not in ("enter", "exit"):
        problems.append("'kind' must be 'enter' or 'exit'")
    beacon, store, zone = doc.get("beacon"), doc.get("store_id"), doc.get("zone")
    key = None
    if beacon is not None:
        if not isinstance(beacon, str):
            problems.append("'beacon' must be a beacon key such as 'ibeacon:UUID:MAJOR:MINOR'")
        else:
            try:
                key = beacon_key(beacon)[1]
            except PresenceInputError as exc:
                problems.append(str(exc))
    elif not (isinstance(store, str) and store and isinstance(zone, str) and zone):
        problems.append("name the store beacon ('beacon') or both 'store_id' and 'zone'")
    sid = doc.get("sighting_id")
    if sid is not None and (not isinstance(sid, str) or not 1 <= len(sid) <= 64):
        problems.append("'sighting_id' must be a string of 1 to 64 characters")
    seen = _sighting_time(doc.get("time"))
    if seen is None:
        problems.append("'time' must be a unix time or an ISO 8601 timestamp with a time zone")
    if problems:
        raise PresenceInputError("; ".join(problems))
    return {"customer_id": cid, "kind": doc["kind"], "beacon": key, "store_id": store if key is None else None,
            "zone": zone if key is None else None, "sighting_id": sid, "time": seen}


def _sighting_time(raw: Any) -> str | None:
    try:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            dt = datetime.fromtimestamp(float(raw), UTC)
        elif isinstance(raw, str):
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                return None
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_sighting(tx: Tx, s: dict[str, Any], sighting_id: str) -> tuple[bool, str | None]:
    """(recorded, the store to relay it to or None). Idempotent on the sighting id. Relayed only with location
    consent; the caller makes the customer relevant to the store and appends the change."""
    if tx.one("SELECT 1 FROM customers WHERE id = ?", [s["customer_id"]]) is None:
        raise LookupError(f"there is no customer {s['customer_id']!r}")
    store, zone = s["store_id"], s["zone"]
    if s["beacon"] is not None:
        rows = tx.all("SELECT store_id, zone FROM store_beacons WHERE beacon_key = ?", [s["beacon"]])
        if len(rows) != 1:
            raise LookupError(f"beacon {s['beacon']} is not a store beacon the hub knows"
                              if not rows else f"beacon {s['beacon']} is registered in several stores")
        store, zone = rows[0]
    elif tx.one("SELECT 1 FROM stores WHERE id = ?", [store]) is None:
        raise LookupError(f"there is no store {store!r}")
    existing = tx.one("SELECT forwarded, store_id FROM sightings WHERE id = ?", [sighting_id])
    if existing is not None:
        return False, existing[1] if existing[0] else None
    consent = has_location_consent(tx, s["customer_id"])
    tx.exe("INSERT INTO sightings (id, customer_id, store_id, zone, beacon_key, kind, seen_at, received_at, "
           "forwarded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
           [sighting_id, s["customer_id"], store, zone, s["beacon"], s["kind"], s["time"], _now(), int(consent)])
    return True, store if consent else None


def sighting_snapshot(tx: Tx, sighting_id: str, store_id: str) -> dict[str, Any] | None:
    row = tx.one("SELECT id, customer_id, zone, beacon_key, kind, seen_at FROM sightings "
                 "WHERE id = ? AND store_id = ? AND forwarded = 1", [sighting_id, store_id])
    if row is None or not has_location_consent(tx, row[1]):
        return None  # consent withdrawn since: the sighting is not relayed any more
    return {"id": row[0], "customer_id": row[1], "zone": row[2], "beacon": row[3], "kind": row[4], "time": row[5]}


# ------------------------------------------------------------------------------------------- events from the edge
def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def handle_presence_event(tx: Tx, event_id: str, store_id: str, device_id: str, event_type: str,
                          payload: dict[str, Any], received: str) -> bool:
    """Store analytics events in their tables. True when the event goes to the webhook (notification requests
    only); visits keep a customer id only while the customer consents; nothing device-identifying is kept."""
    p = payload
    if event_type == NOTIFICATION_EVENT:
        return True
    if event_type == VISIT_EVENT:
        cid = _str(p.get("customer_id"))
        if cid is not None and not has_location_consent(tx, cid):
            cid = None
        dwell = p.get("dwell_s")
        visit_id = _str(p.get("visit_id")) or event_id
        tx.exe("INSERT INTO presence_visits (visit_id, event_id, store_id, device_id, customer_id, zone, entered_at, "
               "exited_at, dwell_s, source, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT DO NOTHING",
               [visit_id, event_id, store_id, device_id, cid, _str(p.get("zone")) or "?", _str(p.get("entered_at")),
                _str(p.get("exited_at")),
                float(dwell) if isinstance(dwell, int | float) and not isinstance(dwell, bool) else None,
                _str(p.get("source")), received])
    elif event_type == ANONYMOUS_EVENT:
        devices = p.get("devices")
        tx.exe("INSERT INTO presence_anonymous_counts (event_id, store_id, device_id, bucket_start, zone, devices, "
               "received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
               [event_id, store_id, device_id, _str(p.get("bucket_start")) or "?", _str(p.get("zone")) or "?",
                devices if isinstance(devices, int) and not isinstance(devices, bool) and devices >= 0 else 0,
                received])
    elif event_type == ANALYTICS_EVENT:
        summary = {k: p[k] for k in ANALYTICS_FIELDS if k in p}
        tx.exe("INSERT INTO presence_analytics (event_id, store_id, device_id, since, until, summary, received_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
               [event_id, store_id, device_id, _str(p.get("since")), _str(p.get("until")),
                json.dumps(summary, sort_keys=True), received])
    # other presence.* types stay in ``events`` only
    return False


def token_seen_problem(payload: dict[str, Any]) -> str | None:
    for name in ("token_hash", "customer_id", "seen_at", "expires_at"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            return f"{TOKEN_SEEN_EVENT} payload needs '{name}' as a string"
    return None


def record_token_seen(tx: Tx, store_id: str, device_id: str, payload: dict[str, Any], received: str) -> None:
    """The till is the authenticated device (not the payload's till_id); relayed to the store's other tills."""
    token = str(payload["token_hash"])
    tx.exe("INSERT INTO token_sightings (store_id, till_id, token_hash, customer_id, seen_at, expires_at, "
           "received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store_id, till_id, token_hash) DO UPDATE SET "
           "customer_id = excluded.customer_id, seen_at = excluded.seen_at, expires_at = excluded.expires_at, "
           "received_at = excluded.received_at",
           [store_id, device_id, token, payload["customer_id"], payload["seen_at"], payload["expires_at"], received])
    _change(tx, protocol.TOKEN_SIGHTING, f"{device_id}:{token}", store_id)


def token_sighting_snapshot(tx: Tx, key: str, store_id: str) -> dict[str, Any] | None:
    till, _, token = key.rpartition(":")
    row = tx.one("SELECT till_id, token_hash, customer_id, seen_at, expires_at FROM token_sightings "
                 "WHERE store_id = ? AND till_id = ? AND token_hash = ?", [store_id, till, token])
    return None if row is None else dict(zip(("till_id", "token_hash", "customer_id", "seen_at", "expires_at"),
                                             row, strict=True))


def snapshot(tx: Tx, kind: str, key: str, store_id: str) -> dict[str, Any] | None:
    if kind == protocol.PRESENCE_IDENTITY:
        return identity_snapshot(tx, key, store_id)
    if kind == protocol.STORE_BEACON:
        return store_beacon_snapshot(tx, key, store_id)
    if kind == protocol.PRESENCE_RULE:
        return rule_snapshot(tx, key, store_id)
    if kind == protocol.SIGHTING:
        return sighting_snapshot(tx, key, store_id)
    if kind == protocol.TOKEN_SIGHTING:
        return token_sighting_snapshot(tx, key, store_id)
    return None


# ------------------------------------------------------------------------------------------- forgetting a customer
def forget_customer(tx: Tx, customer_id: str) -> list[str]:
    """Erase a customer at the hub: every relevant store gets ``data: null`` for the customer, their identities,
    personal offers and unredeemed coupons. The hub ledger keeps the (pseudonymous) id. Returns the stores."""
    stores = _relevant_stores(tx, customer_id)
    idents = [r[0] for r in tx.all("SELECT id FROM presence_identities WHERE customer_id = ?", [customer_id])]
    coupons = [r[0] for r in tx.all("SELECT code FROM coupons WHERE customer_id = ? AND redeemed_at IS NULL",
                                    [customer_id])]
    offers = [r[0] for r in tx.all("SELECT id FROM offers WHERE customer_id = ?", [customer_id])]
    tx.exe("DELETE FROM presence_identities WHERE customer_id = ?", [customer_id])
    tx.exe("DELETE FROM coupons WHERE customer_id = ? AND redeemed_at IS NULL", [customer_id])
    tx.exe("DELETE FROM offers WHERE customer_id = ? AND id NOT IN (SELECT offer_id FROM coupons)", [customer_id])
    # an offer a redeemed coupon still names stays, inactive and no longer personal
    for oid, data in tx.all("SELECT id, data FROM offers WHERE customer_id = ?", [customer_id]):
        kept = {**json.loads(data), "customer_id": None, "active": False}
        tx.exe("UPDATE offers SET data = ?, customer_id = NULL, updated_at = ? WHERE id = ?",
               [json.dumps(kept), _now(), oid])
    tx.exe("DELETE FROM sightings WHERE customer_id = ?", [customer_id])
    tx.exe("UPDATE presence_visits SET customer_id = NULL WHERE customer_id = ?", [customer_id])
    tx.exe("DELETE FROM customers WHERE id = ?", [customer_id])
    for sid in stores:
        _change(tx, protocol.CUSTOMER, customer_id, sid)
        for ident in idents:
            _change(tx, protocol.PRESENCE_IDENTITY, ident, sid)
        for code in coupons:
            _change(tx, protocol.COUPON, code, sid)
        for oid in offers:
            _change(tx, protocol.OFFER, oid, sid)
    tx.exe("DELETE FROM customer_stores WHERE customer_id = ?", [customer_id])
    return stores
