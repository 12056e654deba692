"""The hub's side of presence and of till-to-till data (docs/sync-protocol.md, "Presence").

- Registered tags and app EID keys go to a store's devices only while the customer holds location consent and
  is relevant to that store; a withdrawn consent or a removed link sends ``data: null`` (the edge deletes).
- Store beacons and presence rules are per store.
- App sightings (iOS: a store iBeacon woke the app, the app backend reports it) are stored and relayed to the
  store only with location consent.
- Presence analytics from the edge are stored in tables; only notification requests go to the webhook.
- Loyalty-app code sightings of one till are relayed to the store's other tills.

Functions here take the caller's transaction (``conn``); ``sync.hub.storage`` wraps them. Admin input errors
raise ``PresenceInputError`` (a sentence naming the value), unknown customers/stores/beacons ``LookupError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select

from edge.core import contract
from edge.core.contract import ANALYTICS_FIELDS, ChangeKind, EventType
from sync.hub import sealing
from sync.hub.changes import record, record_many, relevant_stores
from sync.hub.common import chunks
from sync.hub.db import insert
from sync.hub.tables import (
    customer_stores,
    customers,
    presence_analytics,
    presence_anonymous_counts,
    presence_identities,
    presence_rules,
    presence_visits,
    sightings,
    store_beacons,
    stores,
    token_sightings,
)

NOTIFICATION_EVENT = EventType.PRESENCE_NOTIFICATION_REQUESTED
VISIT_EVENT = EventType.PRESENCE_VISIT
ANONYMOUS_EVENT = EventType.PRESENCE_ANONYMOUS_COUNT
ANALYTICS_EVENT = EventType.PRESENCE_ANALYTICS
TOKEN_SEEN_EVENT = EventType.LOYALTY_TOKEN_SEEN
EID_PREFIX = contract.EID_IDENTITY_PREFIX
_HEX = re.compile(r"^[0-9a-f]+$")


class PresenceInputError(ValueError):
    """Bad admin or API input; ``str()`` says which value and what is expected."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------- beacon keys
def _hex(text: str, length: int, what: str) -> str:
    value = text.strip().lower()
    if len(value) != length or not _HEX.match(value):
        raise PresenceInputError(f"{what} must be {length} hexadecimal digits, got {text!r}")
    return value


def beacon_key(text: str) -> tuple[str, str]:
    """A full beacon key as typed -> (kind, the key the till's scanner builds) by the contract's rule
    (``edge.core.contract.parse_beacon_key``); ``PresenceInputError`` with its sentence otherwise."""
    try:
        kind, key = contract.parse_beacon_key(text)
    except contract.BeaconKeyError as exc:
        raise PresenceInputError(str(exc)) from None
    return str(kind), key


# ------------------------------------------------------------------------------------------- consent
def has_location_consent(conn: Connection, customer_id: str) -> bool:
    """True only when the customer's consents hold ``"location": true`` (unreadable consents count as no)."""
    raw = conn.execute(select(customers.c.consents).where(customers.c.id == customer_id)).scalar()
    return _location_granted(raw)


def location_consents(conn: Connection, customer_ids: Sequence[str]) -> dict[str, bool]:
    """``has_location_consent`` of many customers, one statement per ``CHUNK`` of ids (a push's visits);
    an unknown customer reads False."""
    out = dict.fromkeys(customer_ids, False)
    for chunk in chunks(sorted(out)):
        for cid, raw in conn.execute(select(customers.c.id, customers.c.consents).where(customers.c.id.in_(chunk))):
            out[cid] = _location_granted(raw)
    return out


def _location_granted(raw: str | None) -> bool:
    try:
        consents = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return False
    return isinstance(consents, dict) and consents.get("location") is True


def _customer_exists(conn: Connection, customer_id: str) -> bool:
    return conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is not None


def _identity_ids(conn: Connection, customer_id: str) -> list[str]:
    rows = conn.execute(select(presence_identities.c.id).where(presence_identities.c.customer_id == customer_id))
    return [r[0] for r in rows]


def identities_changed(conn: Connection, customer_id: str, store_id: str | None = None) -> None:
    """The customer's identities to each relevant store (or one store); the snapshot applies consent."""
    ids = _identity_ids(conn, customer_id)
    stores_ = [store_id] if store_id else relevant_stores(conn, customer_id)
    record_many(conn, [(ChangeKind.PRESENCE_IDENTITY, ident, sid) for sid in stores_ for ident in ids])


def identities_changed_for(conn: Connection, ident: str, customer_id: str) -> None:
    record_many(conn, [(ChangeKind.PRESENCE_IDENTITY, ident, sid) for sid in relevant_stores(conn, customer_id)])


def _put_identity(conn: Connection, ident: str, customer_id: str, kind: str, beacon: str | None, key: str | None,
                  exponent: int | None, offset: int) -> None:
    if not _customer_exists(conn, customer_id):
        raise PresenceInputError(f"there is no customer {customer_id!r}")
    previous = conn.execute(select(presence_identities.c.customer_id)
                            .where(presence_identities.c.id == ident)).scalar()
    if previous is not None and previous != customer_id:
        identities_changed_for(conn, ident, previous)  # the former owner's stores forget the tag
    values = {"id": ident, "customer_id": customer_id, "kind": kind, "beacon_key": beacon,
              "eid_identity_key": sealing.sealer_of(conn).seal(key),
              "eid_rotation_exponent": exponent, "eid_clock_offset_s": offset, "updated_at": _now()}
    stmt = insert(conn, presence_identities).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                            set_={k: stmt.excluded[k] for k in values if k != "id"}))
    identities_changed_for(conn, ident, customer_id)


def link_tag(conn: Connection, customer_id: str, key: str) -> str:
    """A registered tag (its full beacon key); the tag's key is its identity id (one owner per tag)."""
    kind, normal = beacon_key(key)
    _put_identity(conn, normal, customer_id, kind, normal, None, None, 0)
    return normal


def set_eid_key(conn: Connection, customer_id: str, key_hex: str, exponent: int, clock_offset_s: int = 0) -> str:
    """The app's Eddystone-EID identity key (16 bytes, 32 hex digits), rotation exponent 0..15; id ``eid:<cid>``."""
    key = _hex(key_hex, 32, "the EID identity key")
    if not 0 <= exponent <= 15:
        raise PresenceInputError(f"the EID rotation exponent must be 0..15, got {exponent}")
    ident = EID_PREFIX + customer_id
    _put_identity(conn, ident, customer_id, contract.EID_IDENTITY_KIND, None, key, exponent, int(clock_offset_s))
    return ident


def unlink(conn: Connection, ident: str) -> bool:
    """Remove a tag or EID key; False when there is none. The stores receive ``data: null`` and delete it."""
    owner = conn.execute(select(presence_identities.c.customer_id).where(presence_identities.c.id == ident)).scalar()
    if owner is None:
        return False
    conn.execute(delete(presence_identities).where(presence_identities.c.id == ident))
    identities_changed_for(conn, ident, owner)
    return True


def identity_snapshot(conn: Connection, ident: str, store_id: str) -> dict[str, Any] | None:
    t = presence_identities.c
    row = conn.execute(select(t.id, t.customer_id, t.kind, t.beacon_key, t.eid_identity_key,
                              t.eid_rotation_exponent, t.eid_clock_offset_s).where(t.id == ident)).first()
    if row is None or not has_location_consent(conn, row[1]):
        return None
    relevant = conn.execute(select(customer_stores.c.store_id).where(
        customer_stores.c.customer_id == row[1], customer_stores.c.store_id == store_id)).first()
    if relevant is None:
        return None
    return {"id": row[0], "customer_id": row[1], "kind": row[2], "beacon_key": row[3],
            "eid_identity_key": sealing.sealer_of(conn).open(row[4]),
            "eid_rotation_exponent": row[5], "eid_clock_offset_s": int(row[6] or 0)}


# ------------------------------------------------------------------------------------------- store beacons, rules
def add_store_beacon(conn: Connection, store_id: str, key: str, zone: str, label: str = "") -> str:
    """A fixed beacon marking ``zone`` of a store; returns its normalised key."""
    _, normal = beacon_key(key)
    if not zone.strip():
        raise PresenceInputError("a store beacon needs a zone name")
    stmt = insert(conn, store_beacons).values(store_id=store_id, beacon_key=normal, zone=zone.strip(), label=label,
                                              updated_at=_now())
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["store_id", "beacon_key"],
        set_={"zone": stmt.excluded.zone, "label": stmt.excluded.label, "updated_at": stmt.excluded.updated_at}))
    record(conn, ChangeKind.STORE_BEACON, normal, store_id)
    return normal


def remove_store_beacon(conn: Connection, store_id: str, key: str) -> bool:
    _, normal = beacon_key(key)
    gone = conn.execute(delete(store_beacons).where(store_beacons.c.store_id == store_id,
                                                    store_beacons.c.beacon_key == normal)).rowcount
    record(conn, ChangeKind.STORE_BEACON, normal, store_id)
    return bool(gone)


def store_beacon_snapshot(conn: Connection, key: str, store_id: str) -> dict[str, Any] | None:
    t = store_beacons.c
    row = conn.execute(select(t.beacon_key, t.zone, t.label).where(t.store_id == store_id, t.beacon_key == key)).first()
    return None if row is None else {"beacon_key": row[0], "zone": row[1], "label": row[2]}


def check_rule(rule: Any) -> dict[str, Any]:
    """The rule as the till will run it (the contract's presence-rule schema,
    ``edge.core.contract.presence_rule_problem``); refused here rather than skipped there."""
    if not isinstance(rule, dict) or not isinstance(rule.get("campaign_id"), str) or not rule["campaign_id"]:
        raise PresenceInputError("a presence rule is a JSON object with a 'campaign_id'")
    problem = contract.presence_rule_problem(rule)
    if problem:
        raise PresenceInputError(problem)
    return rule


def put_rule(conn: Connection, store_id: str, rule: dict[str, Any]) -> str:
    rule = check_rule(rule)
    cid = rule["campaign_id"]
    stmt = insert(conn, presence_rules).values(store_id=store_id, campaign_id=cid,
                                               rule=json.dumps(rule, sort_keys=True), updated_at=_now())
    conn.execute(stmt.on_conflict_do_update(index_elements=["store_id", "campaign_id"],
                                            set_={"rule": stmt.excluded.rule, "updated_at": stmt.excluded.updated_at}))
    record(conn, ChangeKind.PRESENCE_RULE, cid, store_id)
    return str(cid)


def remove_rule(conn: Connection, store_id: str, campaign_id: str) -> bool:
    gone = conn.execute(delete(presence_rules).where(presence_rules.c.store_id == store_id,
                                                     presence_rules.c.campaign_id == campaign_id)).rowcount
    record(conn, ChangeKind.PRESENCE_RULE, campaign_id, store_id)
    return bool(gone)


def rule_snapshot(conn: Connection, campaign_id: str, store_id: str) -> dict[str, Any] | None:
    text = conn.execute(select(presence_rules.c.rule).where(presence_rules.c.store_id == store_id,
                                                            presence_rules.c.campaign_id == campaign_id)).scalar()
    return None if text is None else {"campaign_id": campaign_id, "rule": json.loads(text), "active": True}


# ------------------------------------------------------------------------------------------- app sightings
def _check_beacon(beacon: Any, problems: list[str]) -> str | None:
    if not isinstance(beacon, str):
        problems.append("'beacon' must be a beacon key such as 'ibeacon:UUID:MAJOR:MINOR'")
        return None
    try:
        return beacon_key(beacon)[1]
    except PresenceInputError as exc:
        problems.append(str(exc))
        return None


def check_sighting(doc: Any) -> dict[str, Any]:
    """``POST /v1/sightings`` body -> a normalised record; every problem named in one sentence."""
    if not isinstance(doc, dict):
        raise PresenceInputError("the sighting must be a JSON object")
    problems: list[str] = []
    cid = doc.get("customer_id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 64:
        problems.append("'customer_id' must be a string of 1 to 64 characters")
    if doc.get("kind") not in ("enter", "exit"):
        problems.append("'kind' must be 'enter' or 'exit'")
    beacon, store, zone = doc.get("beacon"), doc.get("store_id"), doc.get("zone")
    key = None
    if beacon is not None:
        key = _check_beacon(beacon, problems)
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


def _sighting_place(conn: Connection, s: dict[str, Any]) -> tuple[str, str]:
    if s["beacon"] is None:
        if conn.execute(select(stores.c.id).where(stores.c.id == s["store_id"])).first() is None:
            raise LookupError(f"there is no store {s['store_id']!r}")
        return s["store_id"], s["zone"]
    rows = conn.execute(select(store_beacons.c.store_id, store_beacons.c.zone)
                        .where(store_beacons.c.beacon_key == s["beacon"])).all()
    if len(rows) != 1:
        raise LookupError(f"beacon {s['beacon']} is not a store beacon the hub knows"
                          if not rows else f"beacon {s['beacon']} is registered in several stores")
    return rows[0][0], rows[0][1]


def record_sighting(conn: Connection, s: dict[str, Any], sighting_id: str) -> tuple[bool, str | None]:
    """(recorded, the store to relay it to or None). Idempotent on the sighting id. Relayed only with location
    consent; the caller makes the customer relevant to the store and appends the change."""
    if not _customer_exists(conn, s["customer_id"]):
        raise LookupError(f"there is no customer {s['customer_id']!r}")
    store, zone = _sighting_place(conn, s)
    existing = conn.execute(select(sightings.c.forwarded, sightings.c.store_id)
                            .where(sightings.c.id == sighting_id)).first()
    if existing is not None:
        return False, existing[1] if existing[0] else None
    consent = has_location_consent(conn, s["customer_id"])
    conn.execute(sightings.insert().values(id=sighting_id, customer_id=s["customer_id"], store_id=store, zone=zone,
                                           beacon_key=s["beacon"], kind=s["kind"], seen_at=s["time"],
                                           received_at=_now(), forwarded=int(consent)))
    return True, store if consent else None


def sighting_snapshot(conn: Connection, sighting_id: str, store_id: str) -> dict[str, Any] | None:
    t = sightings.c
    row = conn.execute(select(t.id, t.customer_id, t.zone, t.beacon_key, t.kind, t.seen_at)
                       .where(t.id == sighting_id, t.store_id == store_id, t.forwarded == 1)).first()
    if row is None or not has_location_consent(conn, row[1]):
        return None  # consent withdrawn since: the sighting is not relayed any more
    return {"id": row[0], "customer_id": row[1], "zone": row[2], "beacon": row[3], "kind": row[4], "time": row[5]}


# ------------------------------------------------------------------------------------------- events from the edge
def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _visit(where: dict[str, str], p: dict[str, Any], consents: Callable[[str], bool]) -> tuple[Table, dict[str, Any]]:
    cid = _str(p.get("customer_id"))
    if cid is not None and not consents(cid):
        cid = None
    dwell = p.get("dwell_s")
    return presence_visits, {
        "visit_id": _str(p.get("visit_id")) or where["event_id"], "customer_id": cid, "zone": _str(p.get("zone")) or "?",
        "entered_at": _str(p.get("entered_at")), "exited_at": _str(p.get("exited_at")),
        "dwell_s": float(dwell) if isinstance(dwell, int | float) and not isinstance(dwell, bool) else None,
        "source": _str(p.get("source")), **where}


def _anonymous(where: dict[str, str], p: dict[str, Any], _consents: Callable[[str], bool]) -> tuple[Table, dict[str, Any]]:
    devices = p.get("devices")
    return presence_anonymous_counts, {
        "bucket_start": _str(p.get("bucket_start")) or "?", "zone": _str(p.get("zone")) or "?",
        "devices": devices if isinstance(devices, int) and not isinstance(devices, bool) and devices >= 0 else 0,
        **where}


def _analytics(where: dict[str, str], p: dict[str, Any], _consents: Callable[[str], bool]) -> tuple[Table, dict[str, Any]]:
    summary = {k: p[k] for k in ANALYTICS_FIELDS if k in p}
    return presence_analytics, {"since": _str(p.get("since")), "until": _str(p.get("until")),
                                "summary": json.dumps(summary, sort_keys=True), **where}


_ANALYTICS_ROWS = {VISIT_EVENT: _visit, ANONYMOUS_EVENT: _anonymous, ANALYTICS_EVENT: _analytics}


def analytics_row(event_id: str, store_id: str, device_id: str, event_type: str, payload: dict[str, Any],
                  received: str, consents: Callable[[str], bool]) -> tuple[Table, dict[str, Any]] | None:
    """The analytics row a presence event stores: (table, row) for ``presence.visit`` (``presence_visits``),
    ``presence.anonymous_count`` and ``presence.analytics``; None for any other type (notification requests go
    to the webhook, other presence types stay in ``events`` only). A visit keeps its customer id only while
    ``consents(customer_id)`` (location consent) is true; nothing device-identifying is kept. The caller
    inserts the rows of a push together, ``ON CONFLICT DO NOTHING`` (a re-sent visit or bucket is kept once)."""
    build = _ANALYTICS_ROWS.get(event_type)  # type: ignore[call-overload]
    if build is None:
        return None
    return build({"event_id": event_id, "store_id": store_id, "device_id": device_id, "received_at": received},
                 payload, consents)


def token_seen_problem(payload: dict[str, Any]) -> str | None:
    for name in ("token_hash", "customer_id", "seen_at", "expires_at"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            return f"{TOKEN_SEEN_EVENT} payload needs '{name}' as a string"
    return None


def record_token_seen(conn: Connection, store_id: str, device_id: str, payload: dict[str, Any], received: str) -> None:
    """The till is the authenticated device (not the payload's till_id); relayed to the store's other tills."""
    token = str(payload["token_hash"])
    stmt = insert(conn, token_sightings).values(
        store_id=store_id, till_id=device_id, token_hash=token, customer_id=payload["customer_id"],
        seen_at=payload["seen_at"], expires_at=payload["expires_at"], received_at=received)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["store_id", "till_id", "token_hash"],
        set_={k: stmt.excluded[k] for k in ("customer_id", "seen_at", "expires_at", "received_at")}))
    record(conn, ChangeKind.TOKEN_SIGHTING, f"{device_id}:{token}", store_id)


def token_sighting_snapshot(conn: Connection, key: str, store_id: str) -> dict[str, Any] | None:
    till, _, token = key.rpartition(":")
    t = token_sightings.c
    row = conn.execute(select(t.till_id, t.token_hash, t.customer_id, t.seen_at, t.expires_at)
                       .where(t.store_id == store_id, t.till_id == till, t.token_hash == token)).first()
    return None if row is None else dict(row._mapping)


_SNAPSHOTS = {
    ChangeKind.PRESENCE_IDENTITY: identity_snapshot,
    ChangeKind.STORE_BEACON: store_beacon_snapshot,
    ChangeKind.PRESENCE_RULE: rule_snapshot,
    ChangeKind.SIGHTING: sighting_snapshot,
    ChangeKind.TOKEN_SIGHTING: token_sighting_snapshot,
}


def snapshot(conn: Connection, kind: str, key: str, store_id: str) -> dict[str, Any] | None:
    """The current state of a presence change for ``store_id``'s tills (None: delete it there)."""
    fn = _SNAPSHOTS.get(kind)  # type: ignore[call-overload]
    return None if fn is None else fn(conn, key, store_id)


# ------------------------------------------------------------------------------------------- forgetting a customer
def forget_identities(conn: Connection, customer_id: str) -> list[str]:
    """Delete a customer's tags and EID keys and their sightings, anonymise their visits; returns the
    identity ids (the caller tells the stores)."""
    idents = _identity_ids(conn, customer_id)
    conn.execute(delete(presence_identities).where(presence_identities.c.customer_id == customer_id))
    conn.execute(delete(sightings).where(sightings.c.customer_id == customer_id))
    conn.execute(presence_visits.update().where(presence_visits.c.customer_id == customer_id).values(customer_id=None))
    return idents
