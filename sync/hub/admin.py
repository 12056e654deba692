"""Hub administration: stores, devices and their enrolment, API keys, loyalty-token signing keys, config and
the reports (exceptions, ledger).

Device tokens, enrolment codes and API keys are random strings shown once; only their SHA-256 is stored.
Enrolment codes are 12 letters/digits (no 0/O, 1/I) valid ``code_ttl_hours`` and once. Functions take the
caller's transaction; refusals raise ``HubError`` with the HTTP status the API answers.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, desc, func, select, update

from edge.core.contract import ChangeKind
from sync.hub import sealing
from sync.hub.changes import record, record_many
from sync.hub.common import (
    CODE_ALPHABET,
    DeviceAuth,
    Enrolment,
    HubError,
    hash_secret,
    normalise_code,
    now_iso,
)
from sync.hub.db import insert
from sync.hub.ids import new_id
from sync.hub.tables import (
    api_keys,
    config,
    devices,
    enrolment_codes,
    exceptions,
    ledger,
    metadata,
    signing_keys,
    stores,
)


# ------------------------------------------------------------------------------------------- stores and devices
def store_locale_values(locale: str | None = None, currency: str | None = None,
                        timezone: str | None = None) -> dict[str, str]:
    """The given ones of a store's locale (CLDR, ``es_ES``), currency (ISO 4217, ``EUR``) and time zone (IANA,
    ``Europe/Madrid``), checked and normalised (``es-es`` -> ``es_ES``, ``cop`` -> ``COP``); HubError
    ``bad_store_locale`` naming the value and how to write it otherwise. Checks are ``edge.core.l10n``'s,
    the same the till applies to its settings."""
    from edge.core.l10n import check_locale, check_timezone
    from edge.core.money import minor_exponent

    out: dict[str, str] = {}
    try:
        if locale is not None:
            out["locale"] = check_locale(locale)
        if currency is not None:
            minor_exponent(currency)
            out["currency"] = currency.upper()
        if timezone is not None:
            check_timezone(timezone)
            out["timezone"] = timezone
    except ValueError as exc:
        raise HubError("bad_store_locale", str(exc)) from None
    return out


def create_store(conn: Connection, store_id: str, name: str | None, *, locale: str | None = None,
                 currency: str | None = None, timezone: str | None = None) -> None:
    """Create a store, or rename it; ``locale``/``currency``/``timezone`` given are set (see
    :func:`store_locale_values`), the others kept. The store's tills receive it (change kind ``store``)."""
    values = store_locale_values(locale, currency, timezone)
    stmt = insert(conn, stores).values(id=store_id, name=name or store_id, created_at=now_iso(), **values)
    update_set = {k: stmt.excluded[k] for k in values}
    if name is not None or not store_exists(conn, store_id):
        update_set["name"] = stmt.excluded.name
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update_set or {"id": stmt.excluded.id}))
    record(conn, ChangeKind.STORE, store_id, store_id)


def set_store(conn: Connection, store_id: str, name: str | None = None, *, locale: str | None = None,
              currency: str | None = None, timezone: str | None = None) -> None:
    """Change an existing store (HubError ``unknown_store`` otherwise); what is not given is kept."""
    require_store(conn, store_id)
    create_store(conn, store_id, name, locale=locale, currency=currency, timezone=timezone)


def store_snapshot(conn: Connection, key: str, store_id: str) -> dict[str, Any] | None:
    """A ``store`` change for ``store_id``'s tills: the store's name and the locale, currency and time zone it
    has (absent ones: the till keeps its settings). Another store's key gives None (never sent)."""
    if key != store_id:
        return None
    s = stores.c
    row = conn.execute(select(s.id, s.name, s.locale, s.currency, s.timezone).where(s.id == store_id)).first()
    if row is None:
        return None
    return {k: v for k, v in row._mapping.items() if v is not None}


def store_exists(conn: Connection, store_id: str) -> bool:
    return conn.execute(select(stores.c.id).where(stores.c.id == store_id)).first() is not None


def require_store(conn: Connection, store_id: str) -> None:
    if not store_exists(conn, store_id):
        raise HubError("unknown_store", f"there is no store {store_id!r}; create it first")


def new_enrolment_code() -> str:
    """``XXXX-XXXX-XXXX`` from ``CODE_ALPHABET`` (60 bits)."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))


def create_device(conn: Connection, store_id: str, device_id: str, code: str, code_ttl_hours: float) -> None:
    """Register (or re-register) a device with a one-time enrolment ``code``; a device id is never moved
    between stores (``HubError 'device_exists'``)."""
    require_store(conn, store_id)
    owner = conn.execute(select(devices.c.store_id).where(devices.c.id == device_id)).scalar()
    if owner is None:
        conn.execute(devices.insert().values(id=device_id, store_id=store_id, created_at=now_iso()))
    elif owner != store_id:
        raise HubError("device_exists", f"device {device_id!r} belongs to store {owner!r}; pick another device id")
    expires = (datetime.now(UTC) + timedelta(hours=code_ttl_hours)).isoformat().replace("+00:00", "Z")
    conn.execute(enrolment_codes.insert().values(code_hash=hash_secret(normalise_code(code)), device_id=device_id,
                                                 expires_at=expires))


def revoke_device(conn: Connection, device_id: str) -> None:
    done = conn.execute(update(devices).where(devices.c.id == device_id)
                        .values(status="revoked", revoked_at=now_iso())).rowcount
    if not done:
        raise HubError("unknown_device", f"there is no device {device_id!r}")


def enroll(conn: Connection, code: str, token: str) -> Enrolment:
    """Spend a one-time code: the device becomes active with ``token`` (403 for unknown, used, expired codes)."""
    code_hash = hash_secret(normalise_code(code))
    row = conn.execute(select(enrolment_codes.c.device_id, enrolment_codes.c.expires_at, enrolment_codes.c.used_at,
                              devices.c.store_id)
                       .join(devices, devices.c.id == enrolment_codes.c.device_id)
                       .where(enrolment_codes.c.code_hash == code_hash).with_for_update()).first()
    if row is None:
        raise HubError("unknown_code", "this enrolment code is not known to the hub; check it or ask "
                       "the hub administrator for a new one", 403)
    device_id, expires_at, used_at, store_id = row
    if used_at is not None:
        raise HubError("code_used", "this enrolment code was already used; ask for a new one", 403)
    if expires_at < now_iso():
        raise HubError("code_expired", "this enrolment code has expired; ask for a new one", 403)
    conn.execute(update(enrolment_codes).where(enrolment_codes.c.code_hash == code_hash).values(used_at=now_iso()))
    conn.execute(update(devices).where(devices.c.id == device_id).values(
        token_hash=hash_secret(token), status="active", enrolled_at=now_iso(), revoked_at=None))
    return Enrolment(device_id, store_id, token)


def no_credential() -> HubError:
    return HubError("no_credential", "the request carries no device credential; enrol this device", 401)


def authenticate(conn: Connection, token: str) -> DeviceAuth:
    """The device a bearer token belongs to (401 for an unknown token, 403 when revoked)."""
    row = conn.execute(select(devices.c.id, devices.c.store_id, devices.c.status)
                       .where(devices.c.token_hash == hash_secret(token))).first()
    if row is None:
        raise HubError("unknown_device", "this device is not known to the hub; enrol it with "
                       "'store-edge enroll'", 401)
    if row[2] == "revoked":
        raise HubError("device_revoked", "this device was revoked on the hub; re-enrol", 403)
    return DeviceAuth(row[0], row[1])


# ------------------------------------------------------------------------------------------- API keys
# POST /v1/orders, POST /v1/sightings, GET /v1/admin/exceptions; the member API (sync/hub/member_api.py):
# members:read (a member's profile and consents), members:write (create, change, consent, merge, claim a
# receipt: POST /v1/members/{id}/claims); rewards (the reward catalogue and claims for members)
API_SCOPES = ("orders", "sightings", "reports", "members:read", "members:write", "rewards")
DEFAULT_API_SCOPES = ("orders", "sightings")  # the cross-store reports only when asked for


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Scope names -> the sorted distinct tuple; ``ValueError`` naming an unknown one."""
    wanted = {s.strip() for s in scopes if s.strip()}
    unknown = sorted(wanted - set(API_SCOPES))
    if unknown or not wanted:
        raise ValueError(f"unknown API key scope {', '.join(unknown) or '(none)'}; use {', '.join(API_SCOPES)}")
    return tuple(s for s in API_SCOPES if s in wanted)


def create_api_key(conn: Connection, name: str, key: str, scopes: Iterable[str] = DEFAULT_API_SCOPES) -> None:
    conn.execute(api_keys.insert().values(key_hash=hash_secret(key), name=name, created_at=now_iso(),
                                          scopes=",".join(check_scopes(scopes))))


def check_api_key(conn: Connection, key: str, scope: str) -> bool:
    """True when ``key`` is an API key holding ``scope``."""
    value = conn.execute(select(api_keys.c.scopes).where(api_keys.c.key_hash == hash_secret(key))).scalar()
    return value is not None and scope in str(value).split(",")


def api_key_holder(conn: Connection, key: str, scope: str) -> str | None:
    """The name ``key`` was created for, when it is an API key holding ``scope``; else None. The member API
    records it as the source of consents and merges (``api:<name>``)."""
    row = conn.execute(select(api_keys.c.name, api_keys.c.scopes).where(api_keys.c.key_hash == hash_secret(key))).first()
    return str(row[0]) if row is not None and scope in str(row[1]).split(",") else None


# ------------------------------------------------------------------------------------------- signing keys
def new_signing_key(valid_days: int) -> dict[str, Any]:
    """A fresh Ed25519 key for loyalty tokens: ``kid, private_pem, public_key_b64, not_after``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    not_after = (datetime.now(UTC) + timedelta(days=valid_days)).isoformat(timespec="seconds")
    return {"kid": "k" + new_id().replace("-", "")[:16], "private_pem": pem,
            "public_key_b64": base64.b64encode(pub).decode(), "not_after": not_after.replace("+00:00", "Z")}


def add_signing_key(conn: Connection, key: dict[str, Any]) -> None:
    """Store a key made by ``new_signing_key``; its private half sealed with the operator key (``sealing``)."""
    sealed = {**key, "private_pem": sealing.sealer_of(conn).seal(key["private_pem"])}
    conn.execute(signing_keys.insert().values(created_at=now_iso(), **sealed))
    record(conn, ChangeKind.SIGNING_KEY, key["kid"])


def current_signing_kid(conn: Connection) -> str | None:
    return conn.execute(select(signing_keys.c.kid).where(signing_keys.c.revoked_at.is_(None))
                        .order_by(desc(signing_keys.c.created_at)).limit(1)).scalar()


def signing_key_exists(conn: Connection, kid: str) -> bool:
    return conn.execute(select(signing_keys.c.kid).where(signing_keys.c.kid == kid)).first() is not None


def revoke_signing_key(conn: Connection, kid: str) -> None:
    conn.execute(update(signing_keys).where(signing_keys.c.kid == kid).values(revoked_at=now_iso()))
    record_many(conn, [(ChangeKind.SIGNING_KEY, kid, None), (ChangeKind.REVOCATION, f"signing_key:{kid}", None)])


def signing_private_key_pem(conn: Connection, kid: str) -> str | None:
    stored = conn.execute(select(signing_keys.c.private_pem).where(signing_keys.c.kid == kid)).scalar()
    return sealing.sealer_of(conn).open(stored)


def signing_key_snapshot(conn: Connection, kid: str, _store_id: str) -> dict[str, Any] | None:
    k = signing_keys.c
    row = conn.execute(select(k.kid, k.public_key_b64, k.not_after, k.revoked_at).where(k.kid == kid)).first()
    if row is None:
        return None
    return {"kid": row[0], "public_key_b64": row[1], "not_after": row[2], "revoked": row[3] is not None}


def revocation_snapshot(_conn: Connection, key: str, _store_id: str) -> dict[str, Any]:
    what, _, ident = key.partition(":")
    return {"what": what, "id": ident}


# ------------------------------------------------------------------------------------------- config
def set_config(conn: Connection, key: str, value: str) -> None:
    """One hub setting; the secret ones (``sealing.SEALED_CONFIG_KEYS``) are sealed with the operator key."""
    if key in sealing.SEALED_CONFIG_KEYS:
        value = sealing.sealer_of(conn).seal(value) or value
    stmt = insert(conn, config).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))


def get_config(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(config.c.value).where(config.c.key == key)).scalar()
    return None if value is None else sealing.sealer_of(conn).open(str(value))


def get_configs(conn: Connection, keys: Sequence[str]) -> dict[str, str | None]:
    """``get_config`` of several keys in one statement: key -> value (None when not set)."""
    found = dict(conn.execute(select(config.c.key, config.c.value).where(config.c.key.in_(list(keys)))).all())
    return {k: None if found.get(k) is None else sealing.sealer_of(conn).open(str(found[k])) for k in keys}


# ------------------------------------------------------------------------------------------- reports
_EXCEPTION_COLUMNS = ("id", "kind", "entry_id", "customer_id", "store_id", "device_id", "detail", "balance_before",
                      "balance_after", "detected_at")
_LEDGER_COLUMNS = ("entry_id", "customer_id", "kind", "points", "sale_id", "store_id", "balance_after")


def exceptions_report(conn: Connection, kind: str | None = None) -> list[dict[str, Any]]:
    """Overdrafts, reused and unknown coupons, unknown customers, failed webhooks ...; oldest first."""
    stmt = select(*(exceptions.c[c] for c in _EXCEPTION_COLUMNS)).order_by(exceptions.c.id)
    if kind:
        stmt = stmt.where(exceptions.c.kind == kind)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def ledger_entries(conn: Connection) -> list[dict[str, Any]]:
    stmt = select(*(ledger.c[c] for c in _LEDGER_COLUMNS)).order_by(ledger.c.entry_id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def count(conn: Connection, table: str) -> int:
    """Rows in one hub table (``KeyError`` for a name that is not one)."""
    return int(conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar() or 0)
