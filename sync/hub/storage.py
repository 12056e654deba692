"""The hub's domain operations on top of ``sync.hub.db``: enrolment, authentication, push, pull, admin.

Writes that append to the change stream run serialised (SQLite's single writer; a transaction-scoped
advisory lock on PostgreSQL) so change versions commit in order and a pull never skips one.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync import protocol
from sync.hub import presence as hub_presence
from sync.hub import schema
from sync.hub.db import Engine, Tx, open_engine
from sync.ids import uuid7
from sync.protocol import ACCEPTED, DUPLICATE, REJECTED, Event, EventResult

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and typed
_CHANGE_LOCK_ID = 0x5EDC  # pg_advisory_xact_lock key for change-stream writers
RECENT_PURCHASES = 20
APPLIED_ENTRY_IDS = 5_000


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hash(secret: str) -> str:
    # tokens and codes are high-entropy random strings, so a plain SHA-256 is enough (no password stretching)
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


class HubError(Exception):
    """An operation was refused; ``code`` is machine-readable, ``str()`` a sentence."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class DeviceAuth:
    device_id: str
    store_id: str


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    store_id: str
    token: str


_PAYLOAD_RULES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "ledger.earn": {"entry_id": str, "customer_id": str, "points": int},
    "ledger.burn": {"entry_id": str, "customer_id": str, "points": int},
    "coupon.redeemed": {"code": str},
    "feedback.submitted": {"id": str, "score": int},
}


def _payload_problem(ev: Event) -> str | None:
    if ev.type == "ledger.earn" or ev.type == "ledger.burn":  # most of a backlog: checked in one expression
        p = ev.payload
        if (type(p.get("entry_id")) is str and type(p.get("customer_id")) is str
                and type(points := p.get("points")) is int and points > 0):
            return None
    rules = _PAYLOAD_RULES.get(ev.type)
    if rules:
        for name, tp in rules.items():
            value = ev.payload.get(name)
            if not isinstance(value, tp) or isinstance(value, bool):
                return f"{ev.type} payload needs '{name}' as {tp.__name__ if isinstance(tp, type) else tp}"
    if ev.type.startswith("ledger.") and ev.type in _PAYLOAD_RULES and ev.payload["points"] <= 0:
        return f"{ev.type} points must be positive, got {ev.payload['points']}"
    if ev.type == "feedback.submitted" and not 0 <= ev.payload["score"] <= 10:
        return f"feedback score must be 0..10, got {ev.payload['score']}"
    if ev.type == hub_presence.TOKEN_SEEN_EVENT:
        return hub_presence.token_seen_problem(ev.payload)
    if ev.type == "sale.completed":
        sale_id = ev.payload.get("id", ev.payload.get("sale_id"))
        if not isinstance(sale_id, str):
            return "sale.completed payload needs the sale 'id'"
    return None


class HubStorage:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.migrate()

    @classmethod
    def open(cls, target: str | Path, *, schema_name: str | None = None) -> HubStorage:
        return cls(open_engine(target, schema=schema_name))

    def close(self) -> None:
        self.engine.close()

    def migrate(self) -> None:
        with self.engine.tx() as tx:
            for stmt in schema.statements(self.dialect):
                tx.exe(stmt)
            tx.exe("INSERT INTO config (key, value) VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
                   [str(schema.SCHEMA_VERSION)])

    # ----------------------------------------------------------------- change stream
    def _write_tx(self) -> Any:
        return self.engine.tx()

    def _lock_changes(self, tx: Tx) -> None:
        if self.dialect == "postgres":
            tx.exe("SELECT pg_advisory_xact_lock(?)", [_CHANGE_LOCK_ID])

    def _change(self, tx: Tx, kind: str, key: str, store_id: str | None = None) -> None:
        tx.exe("INSERT INTO changes (kind, key, store_id) VALUES (?, ?, ?)", [kind, key, store_id])

    def _customer_changed(self, tx: Tx, customer_id: str) -> None:
        stores = tx.all("SELECT store_id FROM customer_stores WHERE customer_id = ?", [customer_id])
        for (store_id,) in stores:
            self._change(tx, protocol.CUSTOMER, customer_id, store_id)

    def _make_relevant(self, tx: Tx, customer_id: str, store_id: str, reason: str) -> None:
        """A customer becomes relevant to a store: the store receives the profile and personal offers."""
        added = tx.exe(
            "INSERT INTO customer_stores (customer_id, store_id, reason, since) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [customer_id, store_id, reason, now_iso()],
        )
        if added:
            self._change(tx, protocol.CUSTOMER, customer_id, store_id)
            for (offer_id,) in tx.all("SELECT id FROM offers WHERE customer_id = ?", [customer_id]):
                self._change(tx, protocol.OFFER, offer_id, store_id)
            for (code,) in tx.all("SELECT code FROM coupons WHERE customer_id = ?", [customer_id]):
                self._change(tx, protocol.COUPON, code, store_id)
            hub_presence.identities_changed(tx, customer_id, store_id)

    def _ensure_customer(self, tx: Tx, customer_id: str, store_id: str) -> None:
        """Points are never dropped: an entry for a customer the hub has not heard of creates a stub."""
        created = tx.exe(
            "INSERT INTO customers (id, display_name, home_store_id, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [customer_id, f"(unknown customer from {store_id})", store_id, now_iso()],
        )
        if created:
            tx.exe(
                "INSERT INTO exceptions (kind, customer_id, store_id, detail, detected_at) VALUES (?, ?, ?, ?, ?)",
                ["unknown_customer", customer_id, store_id,
                 f"store {store_id} sent activity for customer {customer_id}, who was unknown; a stub was created",
                 now_iso()],
            )

    # ----------------------------------------------------------------- admin
    def create_store(self, store_id: str, name: str | None = None) -> None:
        with self._write_tx() as tx:
            tx.exe("INSERT INTO stores (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE "
                   "SET name = excluded.name", [store_id, name or store_id, now_iso()])

    def create_device(self, store_id: str, device_id: str, *, code_ttl_hours: float = 72.0) -> str:
        """Register (or re-register) a device and return a one-time enrolment code for it."""
        code = "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
        with self._write_tx() as tx:
            if tx.one("SELECT 1 FROM stores WHERE id = ?", [store_id]) is None:
                raise HubError("unknown_store", f"there is no store {store_id!r}; create it first")
            row = tx.one("SELECT store_id FROM devices WHERE id = ?", [device_id])
            if row is None:
                tx.exe("INSERT INTO devices (id, store_id, created_at) VALUES (?, ?, ?)",
                       [device_id, store_id, now_iso()])
            elif row[0] != store_id:
                raise HubError("device_exists",
                               f"device {device_id!r} belongs to store {row[0]!r}; pick another device id")
            expires = (datetime.now(UTC) + timedelta(hours=code_ttl_hours)).isoformat().replace("+00:00", "Z")
            tx.exe("INSERT INTO enrolment_codes (code_hash, device_id, expires_at) VALUES (?, ?, ?)",
                   [_hash(normalise_code(code)), device_id, expires])
        return code

    def revoke_device(self, device_id: str) -> None:
        with self._write_tx() as tx:
            if not tx.exe("UPDATE devices SET status = 'revoked', revoked_at = ? WHERE id = ?",
                          [now_iso(), device_id]):
                raise HubError("unknown_device", f"there is no device {device_id!r}")

    def create_api_key(self, name: str) -> str:
        key = "hk_" + secrets.token_urlsafe(32)
        with self._write_tx() as tx:
            tx.exe("INSERT INTO api_keys (key_hash, name, created_at) VALUES (?, ?, ?)",
                   [_hash(key), name, now_iso()])
        return key

    def check_api_key(self, key: str) -> bool:
        with self.engine.tx(write=False) as tx:
            return tx.one("SELECT 1 FROM api_keys WHERE key_hash = ?", [_hash(key)]) is not None

    def upsert_customer(self, data: dict[str, Any]) -> None:
        cid = str(data["id"])
        home = data.get("home_store_id")
        with self._write_tx() as tx:
            self._lock_changes(tx)
            tx.exe(
                "INSERT INTO customers (id, card_number, display_name, phone_hash, email_hash, tier, balance, "
                "spend_12m_cents, consents, birthday, preferences, rewards, home_store_id, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "card_number = excluded.card_number, display_name = excluded.display_name, "
                "phone_hash = excluded.phone_hash, email_hash = excluded.email_hash, tier = excluded.tier, "
                "spend_12m_cents = excluded.spend_12m_cents, consents = excluded.consents, "
                "birthday = excluded.birthday, preferences = excluded.preferences, rewards = excluded.rewards, "
                "home_store_id = excluded.home_store_id, updated_at = excluded.updated_at",
                [cid, data.get("card_number"), data.get("display_name", cid), data.get("phone_hash"),
                 data.get("email_hash"), data.get("tier", "Bronze"), int(data.get("balance", 0)),
                 int(data.get("spend_12m_cents", 0)), json.dumps(data.get("consents", {})),
                 data.get("birthday"), json.dumps(data.get("preferences", {})),
                 json.dumps(data.get("rewards", [])), home, now_iso()],
            )
            if home:
                self._make_relevant(tx, cid, str(home), "home store")
            self._customer_changed(tx, cid)
            # consent may have changed: each store re-reads the tags and keys (null once consent is gone)
            hub_presence.identities_changed(tx, cid)

    def adjust_balance(self, customer_id: str, points: int, reason: str) -> None:
        """An admin correction, recorded in the hub ledger like any other entry."""
        with self._write_tx() as tx:
            self._lock_changes(tx)
            self._apply_ledger(tx, f"adj-{uuid7()}", customer_id, "earn" if points >= 0 else "burn",
                               abs(points), None, reason, "hub", "admin", "admin", now_iso())
            self._customer_changed(tx, customer_id)

    def upsert_products(self, rows: Iterable[dict[str, Any]]) -> int:
        n = 0
        with self._write_tx() as tx:
            self._lock_changes(tx)
            for r in rows:
                tx.exe(
                    "INSERT INTO products (gtin, name, price_cents, vat_rate_bp, category, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (gtin) DO UPDATE SET name = excluded.name, "
                    "price_cents = excluded.price_cents, vat_rate_bp = excluded.vat_rate_bp, "
                    "category = excluded.category, updated_at = excluded.updated_at",
                    [r["gtin"], r["name"], int(r["price_cents"]), int(r["vat_rate_bp"]), r["category"], now_iso()],
                )
                self._change(tx, protocol.PRODUCT, r["gtin"])
                n += 1
        return n

    def import_catalog_csv(self, path: Path) -> int:
        """CSV columns: gtin,name,price_cents,vat_rate_bp,category. Errors name the line and the column."""
        rows = []
        with Path(path).open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            need = {"gtin", "name", "price_cents", "vat_rate_bp", "category"}
            missing = need - set(reader.fieldnames or [])
            if missing:
                raise HubError("bad_csv", f"{path}: the header lacks {', '.join(sorted(missing))}")
            for lineno, r in enumerate(reader, start=2):
                gtin = (r["gtin"] or "").strip()
                if not gtin.isdigit() or len(gtin) > 14:
                    raise HubError("bad_csv", f"{path} line {lineno}: gtin {gtin!r} is not a GTIN")
                try:
                    price, vat = int(r["price_cents"]), int(r["vat_rate_bp"])
                except (TypeError, ValueError):
                    raise HubError("bad_csv", f"{path} line {lineno}: price_cents and vat_rate_bp must be "
                                   "whole numbers") from None
                if price < 0 or not 0 <= vat <= 10_000:
                    raise HubError("bad_csv", f"{path} line {lineno}: price or VAT rate out of range")
                rows.append({"gtin": gtin.zfill(14), "name": r["name"].strip(), "price_cents": price,
                             "vat_rate_bp": vat, "category": (r["category"] or "").strip() or "general"})
        return self.upsert_products(rows)

    def upsert_offer(self, data: dict[str, Any]) -> None:
        from edge.core.offers import offer_params_problem

        # a malformed offer would reach every till: refuse it here, with the reason
        problem = offer_params_problem(str(data.get("kind")), data.get("params", {}))
        if problem:
            raise HubError("bad_offer", f"offer {data.get('id')!r} refused: {problem}")
        offer = {
            "id": str(data["id"]), "kind": data["kind"], "name": data.get("name", data["id"]),
            "params": data.get("params", {}), "priority": int(data.get("priority", 0)),
            "stackable": bool(data.get("stackable", False)), "tiers": data.get("tiers", []),
            "customer_id": data.get("customer_id"), "requires_coupon": bool(data.get("requires_coupon", False)),
            "birthday_month": int(data.get("birthday_month", 0)), "valid_from": data.get("valid_from"),
            "valid_until": data.get("valid_until"), "active": bool(data.get("active", True)),
        }
        with self._write_tx() as tx:
            self._lock_changes(tx)
            tx.exe("INSERT INTO offers (id, data, customer_id, updated_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET data = excluded.data, customer_id = excluded.customer_id, "
                   "updated_at = excluded.updated_at",
                   [offer["id"], json.dumps(offer), offer["customer_id"], now_iso()])
            self._emit_scoped(tx, protocol.OFFER, offer["id"], offer["customer_id"])

    def _emit_scoped(self, tx: Tx, kind: str, key: str, customer_id: str | None) -> None:
        # personal offers and coupons go only to stores the customer is relevant to
        if customer_id is None:
            self._change(tx, kind, key)
        else:
            for (store_id,) in tx.all("SELECT store_id FROM customer_stores WHERE customer_id = ?", [customer_id]):
                self._change(tx, kind, key, store_id)

    def create_coupon(self, code: str, offer_id: str, customer_id: str | None = None, single_use: bool = True) -> None:
        with self._write_tx() as tx:
            self._lock_changes(tx)
            if tx.one("SELECT 1 FROM offers WHERE id = ?", [offer_id]) is None:
                raise HubError("unknown_offer", f"there is no offer {offer_id!r}")
            tx.exe("INSERT INTO coupons (code, offer_id, customer_id, single_use) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (code) DO NOTHING", [code, offer_id, customer_id, int(single_use)])
            self._emit_scoped(tx, protocol.COUPON, code, customer_id)

    def revoke_coupon(self, code: str) -> None:
        with self._write_tx() as tx:
            self._lock_changes(tx)
            tx.exe("UPDATE coupons SET revoked_at = ? WHERE code = ?", [now_iso(), code])
            self._change(tx, protocol.REVOCATION, f"coupon:{code}")

    # ----------------------------------------------------------------- loyalty-token keys
    def rotate_signing_key(self, *, valid_days: int = 90) -> str:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = "k" + uuid7().replace("-", "")[:16]
        not_after = (datetime.now(UTC) + timedelta(days=valid_days)).isoformat(timespec="seconds")
        with self._write_tx() as tx:
            self._lock_changes(tx)
            tx.exe("INSERT INTO signing_keys (kid, private_pem, public_key_b64, created_at, not_after) "
                   "VALUES (?, ?, ?, ?, ?)",
                   [kid, pem, base64.b64encode(pub).decode(), now_iso(), not_after.replace("+00:00", "Z")])
            self._change(tx, protocol.SIGNING_KEY, kid)
        return kid

    def ensure_signing_key(self) -> str:
        with self.engine.tx(write=False) as tx:
            row = tx.one("SELECT kid FROM signing_keys WHERE revoked_at IS NULL ORDER BY created_at DESC")
        return str(row[0]) if row else self.rotate_signing_key()

    def revoke_signing_key(self, kid: str) -> None:
        with self._write_tx() as tx:
            self._lock_changes(tx)
            tx.exe("UPDATE signing_keys SET revoked_at = ? WHERE kid = ?", [now_iso(), kid])
            self._change(tx, protocol.SIGNING_KEY, kid)
            self._change(tx, protocol.REVOCATION, f"signing_key:{kid}")

    # ----------------------------------------------------------------- presence admin (sync/hub/presence.py)
    def _presence_tx(self, fn: Any, *args: Any) -> Any:
        with self._write_tx() as tx:
            self._lock_changes(tx)
            try:
                return fn(tx, *args)
            except hub_presence.PresenceInputError as exc:
                raise HubError("bad_request", str(exc), 400) from None
            except LookupError as exc:
                raise HubError("unknown", str(exc.args[0]), 422) from None

    def link_tag(self, customer_id: str, key: str) -> str:
        return str(self._presence_tx(hub_presence.link_tag, customer_id, key))

    def set_eid_key(self, customer_id: str, key_hex: str, exponent: int, clock_offset_s: int = 0) -> str:
        return str(self._presence_tx(hub_presence.set_eid_key, customer_id, key_hex, exponent, clock_offset_s))

    def unlink_identity(self, ident: str) -> bool:
        return bool(self._presence_tx(hub_presence.unlink, ident))

    def add_store_beacon(self, store_id: str, key: str, zone: str, label: str = "") -> str:
        with self.engine.tx(write=False) as tx:
            if tx.one("SELECT 1 FROM stores WHERE id = ?", [store_id]) is None:
                raise HubError("unknown_store", f"there is no store {store_id!r}; create it first")
        return str(self._presence_tx(hub_presence.add_store_beacon, store_id, key, zone, label))

    def remove_store_beacon(self, store_id: str, key: str) -> bool:
        return bool(self._presence_tx(hub_presence.remove_store_beacon, store_id, key))

    def set_presence_rule(self, store_id: str, rule: Any) -> str:
        with self.engine.tx(write=False) as tx:
            if tx.one("SELECT 1 FROM stores WHERE id = ?", [store_id]) is None:
                raise HubError("unknown_store", f"there is no store {store_id!r}; create it first")
        return str(self._presence_tx(hub_presence.put_rule, store_id, rule))

    def remove_presence_rule(self, store_id: str, campaign_id: str) -> bool:
        return bool(self._presence_tx(hub_presence.remove_rule, store_id, campaign_id))

    def set_consent(self, customer_id: str, name: str, granted: bool) -> None:
        """One consent flag; a change of 'location' adds or removes the customer's tags and keys at the stores."""
        with self._write_tx() as tx:
            self._lock_changes(tx)
            raw = tx.scalar("SELECT consents FROM customers WHERE id = ?", [customer_id])
            if raw is None:
                raise HubError("unknown_customer", f"there is no customer {customer_id!r}", 422)
            consents = json.loads(raw) if raw else {}
            consents[name] = bool(granted)
            tx.exe("UPDATE customers SET consents = ?, updated_at = ? WHERE id = ?",
                   [json.dumps(consents), now_iso(), customer_id])
            self._customer_changed(tx, customer_id)
            hub_presence.identities_changed(tx, customer_id)

    def record_sighting(self, doc: Any) -> dict[str, Any]:
        """An app's sighting (``POST /v1/sightings``): stored; relayed to the store only with location consent."""
        try:
            s = hub_presence.check_sighting(doc)
        except hub_presence.PresenceInputError as exc:
            raise HubError("bad_request", str(exc), 400) from None
        sighting_id = s["sighting_id"] or uuid7()
        with self._write_tx() as tx:
            self._lock_changes(tx)
            try:
                recorded, store = hub_presence.record_sighting(tx, s, sighting_id)
            except LookupError as exc:
                raise HubError("unknown", str(exc.args[0]), 422) from None
            forwarded = store is not None
            if recorded and store is not None:
                # the profile reaches the store before (or with) the sighting, so rules can use the tier
                self._make_relevant(tx, s["customer_id"], store, "seen")
                self._change(tx, protocol.SIGHTING, sighting_id, store)
        return {"sighting_id": sighting_id, "recorded": recorded, "forwarded": forwarded}

    def forget_customer(self, customer_id: str) -> list[str]:
        """Erase a customer: the stores that held them receive ``data: null`` and delete them."""
        with self._write_tx() as tx:
            self._lock_changes(tx)
            if tx.one("SELECT 1 FROM customers WHERE id = ?", [customer_id]) is None:
                raise HubError("unknown_customer", f"there is no customer {customer_id!r}", 422)
            return hub_presence.forget_customer(tx, customer_id)

    def signing_private_key_pem(self, kid: str) -> str | None:
        with self.engine.tx(write=False) as tx:
            return tx.scalar("SELECT private_pem FROM signing_keys WHERE kid = ?", [kid])

    # ----------------------------------------------------------------- config
    def set_config(self, key: str, value: str) -> None:
        with self._write_tx() as tx:
            tx.exe("INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                   "SET value = excluded.value", [key, value])

    def get_config(self, key: str) -> str | None:
        with self.engine.tx(write=False) as tx:
            value = tx.scalar("SELECT value FROM config WHERE key = ?", [key])
        return None if value is None else str(value)

    # ----------------------------------------------------------------- enrolment and authentication
    def enroll(self, code: str) -> Enrolment:
        token = "dt_" + secrets.token_urlsafe(32)
        with self._write_tx() as tx:
            row = tx.one("SELECT c.device_id, c.expires_at, c.used_at, d.store_id FROM enrolment_codes c "
                         "JOIN devices d ON d.id = c.device_id WHERE c.code_hash = ?",
                         [_hash(normalise_code(code))])
            if row is None:
                raise HubError("unknown_code", "this enrolment code is not known to the hub; check it or ask "
                               "the hub administrator for a new one", 403)
            device_id, expires_at, used_at, store_id = row
            if used_at is not None:
                raise HubError("code_used", "this enrolment code was already used; ask for a new one", 403)
            if expires_at < now_iso():
                raise HubError("code_expired", "this enrolment code has expired; ask for a new one", 403)
            tx.exe("UPDATE enrolment_codes SET used_at = ? WHERE code_hash = ?", [now_iso(), _hash(normalise_code(code))])
            tx.exe("UPDATE devices SET token_hash = ?, status = 'active', enrolled_at = ?, revoked_at = NULL "
                   "WHERE id = ?", [_hash(token), now_iso(), device_id])
        return Enrolment(device_id, store_id, token)

    def authenticate(self, token: str | None) -> DeviceAuth:
        if not token:
            raise HubError("no_credential", "the request carries no device credential; enrol this device", 401)
        with self.engine.tx(write=False) as tx:
            row = tx.one("SELECT id, store_id, status FROM devices WHERE token_hash = ?", [_hash(token)])
        if row is None:
            raise HubError("unknown_device", "this device is not known to the hub; enrol it with "
                           "'store-edge enroll'", 401)
        if row[2] == "revoked":
            raise HubError("device_revoked", "this device was revoked on the hub; re-enrol", 403)
        return DeviceAuth(row[0], row[1])

    # ----------------------------------------------------------------- push
    def push(self, device: DeviceAuth, raw_events: list[Any], *, finite_numbers: bool = False) -> list[EventResult]:
        """Apply one batch in one transaction; per event: accepted, duplicate or rejected with a reason.
        ``finite_numbers``: the caller knows the events hold no NaN or infinity (a faster encoder may be used).

        Statements are batched (existing ids looked up in chunks, rows inserted with executemany, balances
        kept in memory for the batch) because a drained outage backlog arrives as tens of thousands of events.
        """
        received = now_iso()
        checked: list[tuple[Event | None, str | None, str]] = []
        for raw in raw_events:
            ev, problem, eid = protocol.check_event(raw)
            if ev is not None and (ev.device_id != device.device_id or ev.store_id != device.store_id):
                problem = (f"the event names device {ev.device_id!r} of store {ev.store_id!r}, but the credential "
                           f"belongs to device {device.device_id!r} of store {device.store_id!r}")
                ev = None
            if ev is not None:
                problem = _payload_problem(ev)
                if problem:
                    ev = None
            checked.append((ev, problem, eid))
        results: list[EventResult] = []
        with self._write_tx() as tx:
            self._lock_changes(tx)
            batch = _Batch(received)
            ids = [ev.id for ev, _, _ in checked if ev is not None]
            seen = _existing(tx, "SELECT event_id FROM events WHERE event_id IN ({})", ids)
            entry_ids = [ev.payload["entry_id"] for ev, _, _ in checked
                         if ev is not None and ev.type in ("ledger.earn", "ledger.burn")]
            batch.applied_entries = _existing(tx, "SELECT entry_id FROM ledger WHERE entry_id IN ({})", entry_ids)
            self._prefetch_customers(tx, batch, device.store_id, [ev for ev, _, _ in checked
                                                                  if ev is not None and ev.id not in seen])
            max_seq = -1
            for ev, problem, eid in checked:
                if ev is None:
                    results.append(EventResult(eid, REJECTED, problem))
                    continue
                if ev.id in seen:
                    results.append(EventResult(ev.id, DUPLICATE))
                    continue
                seen.add(ev.id)
                payload_text = protocol.compact_json(ev.payload, finite=finite_numbers)
                batch.events.append((ev.id, ev.device_id, ev.store_id, ev.seq, ev.type, payload_text,
                                     ev.device_time, received))
                self._handle(tx, ev, payload_text, batch)
                max_seq = max(max_seq, ev.seq)
                results.append(EventResult(ev.id, ACCEPTED))
            tx.many("INSERT INTO events (event_id, device_id, store_id, seq, type, payload, device_time, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch.events)
            batch.flush(tx)
            self._customers_changed(tx, sorted(batch.touched))
            tx.exe("UPDATE devices SET last_seen_at = ?, last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END "
                   "WHERE id = ?", [received, max_seq, max_seq, device.device_id])
        return results

    def _prefetch_customers(self, tx: Tx, batch: _Batch, store_id: str, events: list[Event]) -> None:
        """One look-up per batch instead of two to four statements per event: the balances of the batch's
        customers, and which of them are already relevant to the store. Both facts stay true for the rest of
        the transaction (push never deletes a customer or a relevance, and balances change only at flush),
        so a customer found here needs no per-event statement; any other goes the per-event way."""
        cids = sorted({cid for ev in events if ev.type in _CUSTOMER_EVENTS
                       and isinstance(cid := ev.payload.get("customer_id"), str)})
        if not cids:
            return
        for cid, balance in _rows(tx, "SELECT id, balance FROM customers WHERE id IN ({})", cids):
            batch.known_balances[cid] = int(balance or 0)
        relevant = _rows(tx, "SELECT customer_id FROM customer_stores WHERE store_id = ? AND customer_id IN ({})",
                         cids, [store_id])
        batch.relevant.update((cid, store_id) for (cid,) in relevant if cid in batch.known_balances)

    def _customers_changed(self, tx: Tx, customer_ids: list[str]) -> None:
        """``_customer_changed`` for many customers with one look-up and one executemany."""
        stores: dict[str, list[str | None]] = {}
        for cid, store_id in _rows(tx, "SELECT customer_id, store_id FROM customer_stores WHERE customer_id IN ({})",
                                   customer_ids):
            stores.setdefault(cid, []).append(store_id)
        tx.many("INSERT INTO changes (kind, key, store_id) VALUES (?, ?, ?)",
                [(protocol.CUSTOMER, cid, store_id) for cid in customer_ids for store_id in stores.get(cid, ())])

    def _known_customer(self, tx: Tx, batch: _Batch, cid: str, store_id: str) -> None:
        if (cid, store_id) in batch.relevant:
            return
        self._ensure_customer(tx, cid, store_id)
        self._make_relevant(tx, cid, store_id, "transacted")
        batch.relevant.add((cid, store_id))

    def _handle(self, tx: Tx, ev: Event, payload_text: str, batch: _Batch) -> None:
        p = ev.payload
        if ev.type in ("ledger.earn", "ledger.burn"):
            cid = p["customer_id"]
            self._known_customer(tx, batch, cid, ev.store_id)
            batch.ledger(tx, p["entry_id"], cid, ev.type.split(".")[1], p["points"], p.get("sale_id"),
                         str(p.get("reason", ev.type)), ev.store_id, ev.device_id, ev.id,
                         str(p.get("created_at", ev.device_time)))
        elif ev.type == "sale.completed":
            sale_id = str(p.get("id", p.get("sale_id")))
            cid = p.get("customer_id")
            total = p.get("total_cents", 0)
            total = total if isinstance(total, int) and not isinstance(total, bool) else 0
            batch.sales.append((sale_id, ev.store_id, ev.device_id, cid if isinstance(cid, str) else None, total,
                                str(p.get("created_at", ev.device_time)), payload_text))
            if isinstance(cid, str):
                self._known_customer(tx, batch, cid, ev.store_id)
                batch.spend[cid] = batch.spend.get(cid, 0) + total
                batch.touched.add(cid)
        elif ev.type == "coupon.redeemed":
            code = p["code"]
            row = tx.one("SELECT redeemed_at, redeemed_store_id, single_use FROM coupons WHERE code = ?", [code])
            if row is None:
                self._exception(tx, "unknown_coupon", ev, f"coupon {code!r} redeemed in store {ev.store_id} is "
                                "not known to the hub")
            elif row[0] is not None and row[2]:
                # the sale stands (the customer left with the goods); the double use is reported
                self._exception(tx, "coupon_reused", ev, f"single-use coupon {code!r} was redeemed again in store "
                                f"{ev.store_id} (first in store {row[1]})")
            else:
                tx.exe("UPDATE coupons SET redeemed_at = ?, redeemed_sale_id = ?, redeemed_store_id = ? "
                       "WHERE code = ?", [ev.device_time, p.get("sale_id"), ev.store_id, code])
                coupon_customer = tx.scalar("SELECT customer_id FROM coupons WHERE code = ?", [code])
                self._emit_scoped(tx, protocol.COUPON, code, coupon_customer)
        elif ev.type == "feedback.submitted":
            cid = p.get("customer_id")
            tx.exe("INSERT INTO feedback (id, sale_id, customer_id, store_id, score, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   [p["id"], p.get("sale_id"), cid if isinstance(cid, str) else None, ev.store_id, p["score"],
                    str(p.get("created_at", ev.device_time))])
        elif ev.type.startswith("presence."):
            # analytics go to tables; only notification requests go to the webhook
            if hub_presence.handle_presence_event(tx, ev.id, ev.store_id, ev.device_id, ev.type, p, batch.received):
                tx.exe("INSERT INTO presence_notifications (event_id, store_id, device_id, type, payload, "
                       "received_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       [ev.id, ev.store_id, ev.device_id, ev.type, payload_text, batch.received, batch.received])
            cid = p.get("customer_id")
            if isinstance(cid, str) and tx.one("SELECT 1 FROM customers WHERE id = ?", [cid]):
                self._make_relevant(tx, cid, ev.store_id, "seen")
        elif ev.type == hub_presence.TOKEN_SEEN_EVENT:
            hub_presence.record_token_seen(tx, ev.store_id, ev.device_id, p, batch.received)
        # any other type is kept in ``events`` only: new edge event types never block the outbox

    def _exception(self, tx: Tx, kind: str, ev: Event, detail: str) -> None:
        tx.exe("INSERT INTO exceptions (kind, entry_id, customer_id, store_id, device_id, detail, detected_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               [kind, ev.id, ev.payload.get("customer_id"), ev.store_id, ev.device_id, detail, now_iso()])

    def _apply_ledger(self, tx: Tx, entry_id: str, customer_id: str, kind: str, points: int, sale_id: Any,
                      reason: str, store_id: str, device_id: str, event_id: str, created_at: str) -> None:
        batch = _Batch(now_iso())
        batch.applied_entries = _existing(tx, "SELECT entry_id FROM ledger WHERE entry_id IN ({})", [entry_id])
        batch.ledger(tx, entry_id, customer_id, kind, points, sale_id, reason, store_id, device_id, event_id,
                     created_at)
        batch.flush(tx)

    # ----------------------------------------------------------------- pull
    def changes(self, device: DeviceAuth, cursor: str | None, limit: int) -> protocol.ChangesPage:
        since = protocol.decode_cursor(cursor)
        limit = max(1, min(limit, protocol.MAX_PULL_LIMIT))
        with self.engine.tx(write=False) as tx:
            rows = tx.all("SELECT version, kind, key FROM changes WHERE version > ? AND "
                          "(store_id IS NULL OR store_id = ?) ORDER BY version LIMIT ?",
                          [since, device.store_id, limit + 1])
            has_more = len(rows) > limit
            rows = rows[:limit]
            latest: dict[tuple[str, str], int] = {}
            for version, kind, key in rows:
                latest[(kind, key)] = version
            ordered = sorted(latest.items(), key=lambda kv: (_KIND_ORDER.get(kv[0][0], 9), kv[1]))
            out = [protocol.Change(kind, key, self._snapshot(tx, kind, key, device.store_id))
                   for (kind, key), _ in ordered]
        # a till's own code sightings are not sent back to it
        out = [c for c in out if not (c.kind == protocol.TOKEN_SIGHTING and c.data is not None
                                      and c.data["till_id"] == device.device_id)]
        new_cursor = protocol.encode_cursor(rows[-1][0] if rows else since)
        return protocol.ChangesPage(out, new_cursor, has_more)

    def _snapshot(self, tx: Tx, kind: str, key: str, store_id: str) -> dict[str, Any] | None:
        if kind == protocol.PRODUCT:
            row = tx.one("SELECT gtin, name, price_cents, vat_rate_bp, category FROM products WHERE gtin = ?", [key])
            return None if row is None else dict(zip(("gtin", "name", "price_cents", "vat_rate_bp", "category"),
                                                     row, strict=True))
        if kind == protocol.OFFER:
            data = tx.scalar("SELECT data FROM offers WHERE id = ?", [key])
            return None if data is None else dict(json.loads(data))
        if kind == protocol.COUPON:
            row = tx.one("SELECT code, offer_id, customer_id, single_use, redeemed_at, redeemed_sale_id, revoked_at "
                         "FROM coupons WHERE code = ?", [key])
            if row is None:
                return None
            return {"code": row[0], "offer_id": row[1], "customer_id": row[2], "single_use": bool(row[3]),
                    "redeemed_at": row[4], "redeemed_sale_id": row[5], "revoked_at": row[6]}
        if kind == protocol.SIGNING_KEY:
            row = tx.one("SELECT kid, public_key_b64, not_after, revoked_at FROM signing_keys WHERE kid = ?", [key])
            if row is None:
                return None
            return {"kid": row[0], "public_key_b64": row[1], "not_after": row[2], "revoked": row[3] is not None}
        if kind == protocol.REVOCATION:
            what, _, ident = key.partition(":")
            return {"what": what, "id": ident}
        if kind == protocol.CUSTOMER:
            return self._customer_snapshot(tx, key, store_id)
        return hub_presence.snapshot(tx, kind, key, store_id)

    def _customer_snapshot(self, tx: Tx, cid: str, store_id: str) -> dict[str, Any] | None:
        row = tx.one("SELECT id, card_number, display_name, phone_hash, email_hash, tier, balance, spend_12m_cents, "
                     "consents, birthday, preferences, rewards FROM customers WHERE id = ?", [cid])
        if row is None:
            return None
        history: list[dict[str, Any]] = []
        for sale_id, sid, total, created, payload in tx.all(
            "SELECT sale_id, store_id, total_cents, created_at, payload FROM sales WHERE customer_id = ? "
            "ORDER BY created_at DESC LIMIT ?", [cid, RECENT_PURCHASES]):
            lines = json.loads(payload).get("lines", [])
            history.append({"channel": "store", "id": sale_id, "store_id": sid, "total_cents": total,
                            "created_at": created, "items": _items(lines)})
        for oid, channel, total, created, lines_json in tx.all(
            "SELECT order_id, channel, total_cents, created_at, lines FROM orders WHERE customer_id = ? "
            "ORDER BY created_at DESC LIMIT ?", [cid, RECENT_PURCHASES]):
            history.append({"channel": channel, "id": oid, "store_id": None, "total_cents": total,
                            "created_at": created, "items": _items(json.loads(lines_json))})
        history.sort(key=lambda h: h["created_at"], reverse=True)
        pickups = [
            {"order_id": oid, "status": status, "total_cents": total, "created_at": created,
             "items": _items(json.loads(lines_json))}
            for oid, status, total, created, lines_json in tx.all(
                "SELECT order_id, status, total_cents, created_at, lines FROM orders WHERE customer_id = ? "
                "AND pickup_store_id = ? AND status NOT IN ('collected', 'cancelled') ORDER BY created_at",
                [cid, store_id])
        ]
        applied = [r[0] for r in tx.all("SELECT entry_id FROM ledger WHERE customer_id = ? AND store_id = ? "
                                        "ORDER BY applied_at DESC LIMIT ?", [cid, store_id, APPLIED_ENTRY_IDS])]
        return {
            "id": row[0], "card_number": row[1], "display_name": row[2], "phone_hash": row[3],
            "email_hash": row[4], "tier": row[5], "confirmed_points": int(row[6]), "spend_12m_cents": int(row[7]),
            "consents": json.loads(row[8]), "birthday": row[9], "preferences": json.loads(row[10]),
            "rewards": json.loads(row[11]), "recent_purchases": history[:RECENT_PURCHASES],
            "pickup_orders": pickups, "applied_entry_ids": applied,
        }

    # ----------------------------------------------------------------- web/app orders
    def record_order(self, order: dict[str, Any]) -> bool:
        """Idempotent by order_id; returns False when the order was already recorded."""
        with self._write_tx() as tx:
            self._lock_changes(tx)
            cid = order["customer_id"]
            if tx.one("SELECT 1 FROM customers WHERE id = ?", [cid]) is None:
                raise HubError("unknown_customer", f"there is no customer {cid!r}", 422)
            added = tx.exe(
                "INSERT INTO orders (order_id, customer_id, channel, total_cents, status, pickup_store_id, lines, "
                "created_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                [order["order_id"], cid, order["channel"], order["total_cents"], order.get("status", "placed"),
                 order.get("pickup_store_id"), json.dumps(order.get("lines", [])),
                 order.get("created_at") or now_iso(), now_iso()])
            if added:
                pickup = order.get("pickup_store_id")
                if pickup:
                    self._make_relevant(tx, cid, pickup, "pick-up order")
                self._customer_changed(tx, cid)
        return bool(added)

    # ----------------------------------------------------------------- reports
    def exceptions(self, kind: str | None = None) -> list[dict[str, Any]]:
        cols = ("id", "kind", "entry_id", "customer_id", "store_id", "device_id", "detail", "balance_before",
                "balance_after", "detected_at")
        sql = f"SELECT {', '.join(cols)} FROM exceptions"
        params: list[Any] = []
        if kind:
            sql += " WHERE kind = ?"
            params.append(kind)
        with self.engine.tx(write=False) as tx:
            return [dict(zip(cols, r, strict=True)) for r in tx.all(sql + " ORDER BY id", params)]

    def ledger_entries(self) -> list[dict[str, Any]]:
        cols = ("entry_id", "customer_id", "kind", "points", "sale_id", "store_id", "balance_after")
        with self.engine.tx(write=False) as tx:
            return [dict(zip(cols, r, strict=True))
                    for r in tx.all(f"SELECT {', '.join(cols)} FROM ledger ORDER BY entry_id")]

    def balance(self, customer_id: str) -> int | None:
        with self.engine.tx(write=False) as tx:
            value = tx.scalar("SELECT balance FROM customers WHERE id = ?", [customer_id])
        return None if value is None else int(value)

    def count(self, table: str) -> int:
        assert table.isidentifier()
        with self.engine.tx(write=False) as tx:
            return int(tx.scalar(f"SELECT count(*) FROM {table}"))

    # ----------------------------------------------------------------- presence webhook queue
    def due_notifications(self, limit: int, max_attempts: int) -> list[dict[str, Any]]:
        cols = ("event_id", "store_id", "device_id", "type", "payload", "received_at", "attempts")
        with self.engine.tx(write=False) as tx:
            rows = tx.all(f"SELECT {', '.join(cols)} FROM presence_notifications WHERE delivered_at IS NULL "
                          "AND attempts < ? AND next_attempt_at <= ? ORDER BY received_at LIMIT ?",
                          [max_attempts, now_iso(), limit])
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def notification_delivered(self, event_id: str) -> None:
        with self._write_tx() as tx:
            tx.exe("UPDATE presence_notifications SET delivered_at = ?, attempts = attempts + 1, last_error = NULL "
                   "WHERE event_id = ?", [now_iso(), event_id])

    def notification_failed(self, event_id: str, error: str, retry_at: str, *, max_attempts: int | None = None) -> None:
        """Record a failed delivery; the one that uses up ``max_attempts`` is reported as ``webhook_failed``."""
        with self._write_tx() as tx:
            tx.exe("UPDATE presence_notifications SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                   "WHERE event_id = ?", [error[:500], retry_at, event_id])
            row = tx.one("SELECT attempts, store_id, device_id, type FROM presence_notifications WHERE event_id = ?",
                         [event_id])
            if max_attempts is not None and row is not None and row[0] == max_attempts:
                # the deliverer stops here: without this row nobody would learn the notification was lost
                tx.exe("INSERT INTO exceptions (kind, store_id, device_id, detail, detected_at) VALUES (?, ?, ?, ?, ?)",
                       ["webhook_failed", row[1], row[2],
                        f"presence notification {event_id} ({row[3]}) was not delivered after {row[0]} attempts; "
                        f"last error: {error[:300]}", now_iso()])

    def notifications(self) -> list[dict[str, Any]]:
        cols = ("event_id", "type", "attempts", "delivered_at", "last_error")
        with self.engine.tx(write=False) as tx:
            return [dict(zip(cols, r, strict=True)) for r in tx.all(
                f"SELECT {', '.join(cols)} FROM presence_notifications ORDER BY received_at")]


_KIND_ORDER = {protocol.CUSTOMER: 0, protocol.PRODUCT: 1, protocol.OFFER: 2, protocol.COUPON: 3,
               protocol.SIGNING_KEY: 4, protocol.REVOCATION: 5, protocol.STORE_BEACON: 6,
               protocol.PRESENCE_IDENTITY: 6, protocol.PRESENCE_RULE: 6, protocol.SIGHTING: 7,
               protocol.TOKEN_SIGHTING: 7}


def _items(lines: Any) -> list[dict[str, Any]]:
    if not isinstance(lines, list):
        return []
    out = []
    for line in lines[:50]:
        if isinstance(line, dict):
            out.append({k: line.get(k) for k in ("gtin", "name", "qty") if k in line})
    return out


_CUSTOMER_EVENTS = ("ledger.earn", "ledger.burn", "sale.completed")


def _rows(tx: Tx, sql: str, keys: list[str], before: list[Any] | None = None) -> list[Any]:
    """``sql`` with its ``IN ({})`` filled with ``keys``, in chunks (SQLite limits bound parameters)."""
    out: list[Any] = []
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        out.extend(tx.all(sql.format(",".join("?" * len(chunk))), [*(before or ()), *chunk]))
    return out


def _existing(tx: Tx, sql: str, keys: list[str]) -> set[str]:
    return {r[0] for r in _rows(tx, sql, keys)}


class _Batch:
    """What one push transaction accumulates before writing it in bulk."""

    def __init__(self, received: str) -> None:
        self.received = received
        self.events: list[tuple[Any, ...]] = []
        self.sales: list[tuple[Any, ...]] = []
        self.known_balances: dict[str, int] = {}  # prefetched for the batch; others are read on first use
        self.ledger_rows: list[tuple[Any, ...]] = []
        self.exceptions: list[tuple[Any, ...]] = []
        self.balances: dict[str, int] = {}
        self.balance_start: dict[str, int] = {}
        self.spend: dict[str, int] = {}
        self.applied_entries: set[str] = set()
        self.relevant: set[tuple[str, str]] = set()
        self.touched: set[str] = set()

    def ledger(self, tx: Tx, entry_id: str, customer_id: str, kind: str, points: int, sale_id: Any, reason: str,
               store_id: str, device_id: str, event_id: str, created_at: str) -> None:
        if entry_id in self.applied_entries:
            return  # the same entry in a different event: applied once
        self.applied_entries.add(entry_id)
        if customer_id not in self.balances:
            value = self.known_balances.get(customer_id)
            if value is None:
                value = int(tx.scalar("SELECT balance FROM customers WHERE id = ?", [customer_id]) or 0)
            self.balances[customer_id] = self.balance_start[customer_id] = value
        before = self.balances[customer_id]
        after = before + (points if kind == "earn" else -points)
        self.balances[customer_id] = after
        self.touched.add(customer_id)
        self.ledger_rows.append((entry_id, customer_id, kind, points, sale_id if isinstance(sale_id, str) else None,
                                 reason, store_id, device_id, event_id, created_at, self.received, after))
        if kind == "burn" and after < 0:
            # the same points were spent in two places while offline: both sales stand, a person decides
            self.exceptions.append((
                "overdraft", entry_id, customer_id, store_id, device_id,
                f"burn of {points} points in store {store_id} took customer {customer_id} from {before} to {after}",
                before, after, self.received))

    def flush(self, tx: Tx) -> None:
        # DO NOTHING keeps the first of two events naming one sale, as the per-event insert did
        tx.many("INSERT INTO sales (sale_id, store_id, device_id, customer_id, total_cents, created_at, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", self.sales)
        tx.many("INSERT INTO ledger (entry_id, customer_id, kind, points, sale_id, reason, store_id, device_id, "
                "event_id, created_at, applied_at, balance_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.ledger_rows)
        tx.many("INSERT INTO exceptions (kind, entry_id, customer_id, store_id, device_id, detail, balance_before, "
                "balance_after, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.exceptions)
        # a delta, not the absolute value: correct even if an admin adjusted the balance meanwhile
        tx.many("UPDATE customers SET balance = balance + ?, updated_at = ? WHERE id = ?",
                [(self.balances[c] - self.balance_start[c], self.received, c) for c in sorted(self.balances)
                 if self.balances[c] != self.balance_start[c]])
        tx.many("UPDATE customers SET spend_12m_cents = spend_12m_cents + ? WHERE id = ?",
                [(v, c) for c, v in sorted(self.spend.items()) if v])
