"""The member look-up (``GET /v1/members/lookup``): a till asks the hub who a card, phone, e-mail or app code
belongs to when its store has not been sent that member (issue 15 item 5).

Device-authenticated and store-scoped: a hit makes the member relevant to the *device's* store
(``members.make_relevant(..., "lookup")``, audited in ``customer_stores``) and answers the profile exactly as the
change feed sends it to that store (``members.snapshot``), so the till caches it through ``sync.apply``; from
then on the store receives the member's changes like any other.

Identifiers: ``card`` (the card number), ``phone_hash`` / ``email_hash`` (``edge.core.contacts.contact_hash``: the
till never sends a phone number or an address), ``app_token`` (a signed app code, ``LT1.<payload>.<signature>``,
verified here against the hub's own signing keys: only a genuine, unexpired code names its member, so a device
cannot ask for an arbitrary customer id).

Every look-up is logged in ``member_lookups``: device, store, the identifier's kind (never its value), the
outcome (``found``, ``not_found``, ``ambiguous``, ``limited``), the member on a hit, the time.

Rate limit against enumeration: at most ``lookup_misses_per_minute`` misses (hub config, default
``DEFAULT_MISSES_PER_MINUTE``) per device in any 60 s; beyond that the answer is 429 with ``Retry-After``
(seconds until the oldest miss leaves the window). The limiter's memory is the log table itself, in the
database, not in the process: ``hub serve --workers N`` runs N processes and the kernel spreads a device's
requests over them, so a per-process counter would allow N times the limit. The device's row is locked
(``FOR UPDATE`` on PostgreSQL; SQLite has one writer) while the misses are counted and the look-up logged,
so concurrent look-ups of one device across processes count exactly.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from sync.hub import admin, members
from sync.hub.common import DeviceAuth, HubError
from sync.hub.tables import customers, devices, member_lookups, signing_keys

KINDS = ("card", "phone_hash", "email_hash", "app_token")
DEFAULT_MISSES_PER_MINUTE = 10
WINDOW_S = 60
MAX_VALUE_CHARS = {"card": 64, "phone_hash": 64, "email_hash": 64, "app_token": 1024}
TOKEN_PREFIX = "LT1."  # devices/barcode/loyalty_token.py (the format the app shows)
TOKEN_SKEW_S = 30
TOKEN_MAX_TTL_S = 600
_WORDS = {"card": "card", "phone_hash": "phone number", "email_hash": "e-mail address", "app_token": "app code"}


@dataclass(frozen=True)
class LookupAnswer:
    """What a look-up gave: ``outcome`` (``found`` with ``customer``, the store's profile; ``not_found``;
    ``ambiguous``; ``limited`` with ``retry_after_s``) and a sentence for the cashier."""

    outcome: str
    message: str
    customer: dict[str, Any] | None = None
    retry_after_s: int | None = None


def check_query(params: dict[str, str]) -> tuple[str, str]:
    """The query string -> (kind, value): exactly one of ``KINDS``, a clean bounded string (a hash: 64 hex
    digits). Raises ``HubError`` 400 naming the problem."""
    given = [(k, params[k]) for k in KINDS if k in params]
    if len(given) != 1:
        raise HubError("bad_request", "give exactly one of card, phone_hash, email_hash or app_token", 400)
    kind, value = given[0]
    if not value or len(value) > MAX_VALUE_CHARS[kind] or not value.isascii() or not value.isprintable():
        raise HubError("bad_request", f"'{kind}' must be 1 to {MAX_VALUE_CHARS[kind]} printable ASCII characters", 400)
    if kind in ("phone_hash", "email_hash") and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
        raise HubError("bad_request", f"'{kind}' must be the 64 lower-case hex digits of the contact hash", 400)
    return kind, value


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def misses_per_minute(conn: Connection) -> int:
    """The hub's limit (``hub set-config lookup_misses_per_minute N``), default ``DEFAULT_MISSES_PER_MINUTE``."""
    raw = admin.get_config(conn, "lookup_misses_per_minute")
    try:
        return max(1, int(raw)) if raw is not None else DEFAULT_MISSES_PER_MINUTE
    except ValueError:
        return DEFAULT_MISSES_PER_MINUTE


def _retry_after(conn: Connection, device_id: str, limit: int, now: datetime) -> int | None:
    """Seconds until this device may miss again, or None when it is under the limit."""
    since = _iso(now - timedelta(seconds=WINDOW_S))
    misses = [r[0] for r in conn.execute(
        select(member_lookups.c.at).where(member_lookups.c.device_id == device_id,
                                          member_lookups.c.outcome.in_(("not_found", "ambiguous")),
                                          member_lookups.c.at > since)
        .order_by(member_lookups.c.at.desc()).limit(limit))]
    if len(misses) < limit:
        return None
    frees_at = datetime.fromisoformat(misses[-1].replace("Z", "+00:00")) + timedelta(seconds=WINDOW_S)
    return max(1, math.ceil((frees_at - now).total_seconds()))


def _token_customer(conn: Connection, token: str, now: datetime) -> str | None:
    """The customer a genuine, current app code names, or None (unreadable, forged, expired, unknown key)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parts = token.split(".")
    if not token.startswith(TOKEN_PREFIX) or len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(payload, dict):
        return None
    cid, iat, exp, kid = (payload.get(k) for k in ("cid", "iat", "exp", "kid"))
    if not (isinstance(cid, str) and cid and isinstance(kid, str) and type(iat) is int and type(exp) is int):
        return None
    key_b64 = conn.execute(select(signing_keys.c.public_key_b64).where(
        signing_keys.c.kid == kid, signing_keys.c.revoked_at.is_(None))).scalar()
    if key_b64 is None:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64)).verify(
            signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (InvalidSignature, ValueError):
        return None
    t = now.timestamp()
    if exp < iat or exp - iat > TOKEN_MAX_TTL_S or t > exp + TOKEN_SKEW_S or iat > t + TOKEN_SKEW_S:
        return None
    return cid


def _find(conn: Connection, kind: str, value: str, now: datetime) -> list[str]:
    """The ids of the members ``value`` names (at most 2: more than one is ambiguous)."""
    c = customers.c
    if kind == "app_token":
        cid = _token_customer(conn, value, now)
        cid = members.resolve_id(conn, cid) if cid is not None else None  # a code made before a merge: the survivor
        return [cid] if cid is not None else []
    column = {"card": c.card_number, "phone_hash": c.phone_hash, "email_hash": c.email_hash}[kind]
    found = [r[0] for r in conn.execute(select(c.id).where(column == value).order_by(c.id).limit(2))]
    if not found and kind == "card":
        # the card of a record merged into another: its survivor. Cards are unique, aliases included; a phone
        # or e-mail is not (a household shares one), so those are only found on the members holding them now
        # (a survivor takes over the contacts it lacked)
        survivor = members.resolve_alias(conn, kind, value)
        found = [survivor] if survivor is not None and members.exists(conn, survivor) else []
    return found


def lookup(conn: Connection, device: DeviceAuth, kind: str, value: str, now: datetime | None = None) -> LookupAnswer:
    """Look a member up for ``device``'s store (``check_query`` first), in the caller's write transaction:
    rate limit, find, log, and on a hit make the member relevant and return the store's profile."""
    now = now or datetime.now(UTC)
    conn.execute(select(devices.c.id).where(devices.c.id == device.device_id).with_for_update())
    retry = _retry_after(conn, device.device_id, misses_per_minute(conn), now)
    if retry is not None:
        answer = LookupAnswer("limited", f"too many look-ups of unknown members from this till; wait {retry} s "
                              "and try again, or serve the customer as a guest", retry_after_s=retry)
        return _logged(conn, device, kind, answer, now)
    found = _find(conn, kind, value, now)
    if len(found) > 1:
        answer = LookupAnswer("ambiguous", f"more than one member has this {_WORDS[kind]}; scan the member's card")
    elif not found:
        answer = LookupAnswer("not_found", f"no member has this {_WORDS[kind]}")
    else:
        cid = found[0]
        members.make_relevant(conn, cid, device.store_id, "lookup")
        answer = LookupAnswer("found", "member found at the hub", members.snapshot(conn, cid, device.store_id))
    return _logged(conn, device, kind, answer, now)


def _logged(conn: Connection, device: DeviceAuth, kind: str, answer: LookupAnswer, now: datetime) -> LookupAnswer:
    cid = answer.customer["id"] if answer.customer else None
    conn.execute(member_lookups.insert().values(device_id=device.device_id, store_id=device.store_id, kind=kind,
                                                outcome=answer.outcome, customer_id=cid, at=_iso(now)))
    return answer


def lookup_log(conn: Connection, device_id: str | None = None) -> list[dict[str, Any]]:
    """The look-up log, oldest first (``device_id``: that device's only)."""
    q = select(member_lookups).order_by(member_lookups.c.id)
    if device_id is not None:
        q = q.where(member_lookups.c.device_id == device_id)
    return [dict(r._mapping) for r in conn.execute(q)]


def lookups_in_window(conn: Connection, device_id: str, now: datetime) -> int:
    """How many look-ups ``device_id`` made in the last ``WINDOW_S`` seconds (reports, tests)."""
    since = _iso(now - timedelta(seconds=WINDOW_S))
    return int(conn.execute(select(func.count()).select_from(member_lookups).where(
        member_lookups.c.device_id == device_id, member_lookups.c.at > since)).scalar() or 0)
