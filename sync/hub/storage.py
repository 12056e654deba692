"""``HubStorage``: the hub's operations behind one object, for the HTTP app, the admin commands, the demo,
the tests and the benchmarks.

A thin façade: each method opens one transaction on ``self.db`` (``sync.hub.db.Database``) and calls the
module that does the job: ``ingest`` (push), ``feed`` (pull), ``admin`` (stores, devices, keys, config,
reports), ``members`` (customers, consents, orders), ``offers`` (products, offers, coupons), ``presence``,
``notifications`` (the webhook queue). Refusals raise ``HubError`` (``code``, sentence, HTTP ``status``).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection

from edge.core.contract import ChangeKind
from sync import protocol
from sync.hub import (
    admin,
    bonuses,
    feed,
    ingest,
    members,
    migrate,
    notifications,
    offers,
    personal_coupons,
    presence,
    rewards,
)
from sync.hub.changes import record
from sync.hub.common import (
    CODE_ALPHABET,
    DeviceAuth,
    Enrolment,
    HubError,
    hash_secret,
    normalise_code,
    now_iso,
)
from sync.hub.db import Database, open_database
from sync.hub.ids import new_id
from sync.hub.ledger import post_points
from sync.protocol import EventResult

__all__ = ["CODE_ALPHABET", "DeviceAuth", "Enrolment", "HubError", "HubStorage", "hash_secret", "normalise_code",
           "now_iso"]
T = TypeVar("T")


class HubStorage:
    """The hub database and its operations. ``HubStorage.open(target)`` opens (and, when empty, creates) it;
    a database whose schema is older is upgraded on SQLite and refused on PostgreSQL (``SchemaError``: run
    ``store-edge hub migrate``), one newer than the code is refused on both."""

    def __init__(self, db: Database, *, auto_upgrade: bool | None = None, pull_wait_s: float = 3.0) -> None:
        self.db = db
        self.dialect = db.dialect
        self.pull_wait_s = pull_wait_s
        migrate.prepare(db, auto_upgrade=auto_upgrade)

    @property
    def engine(self) -> Database:
        """The database (kept under its former name for callers that drop a test schema through it)."""
        return self.db

    @classmethod
    def open(cls, target: str | Path, *, schema_name: str | None = None, auto_upgrade: bool | None = None) -> HubStorage:
        db = open_database(target, schema=schema_name)
        try:
            return cls(db, auto_upgrade=auto_upgrade)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision in place (``store-edge hub migrate``)."""
        migrate.upgrade(self.db)

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        with self.db.write() as conn:
            return fn(conn, *args)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        with self.db.read() as conn:
            return fn(conn, *args)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction for reports and tests (``sqlalchemy.Connection``)."""
        with self.db.read() as conn:
            yield conn

    # ----------------------------------------------------------------- admin
    def create_store(self, store_id: str, name: str | None = None) -> None:
        self._write(admin.create_store, store_id, name)

    def store_exists(self, store_id: str) -> bool:
        return self._read(admin.store_exists, store_id)

    def create_device(self, store_id: str, device_id: str, *, code_ttl_hours: float = 72.0) -> str:
        """Register (or re-register) a device and return a one-time enrolment code for it."""
        code = admin.new_enrolment_code()
        self._write(admin.create_device, store_id, device_id, code, code_ttl_hours)
        return code

    def revoke_device(self, device_id: str) -> None:
        self._write(admin.revoke_device, device_id)

    def create_api_key(self, name: str, scopes: Iterable[str] = admin.DEFAULT_API_SCOPES) -> str:
        """A new API key (shown once) allowed ``scopes`` (``admin.API_SCOPES``); ``ValueError`` for others."""
        key = "hk_" + secrets.token_urlsafe(32)
        self._write(admin.create_api_key, name, key, tuple(scopes))
        return key

    def check_api_key(self, key: str, scope: str) -> bool:
        return self._read(admin.check_api_key, key, scope)

    def enroll(self, code: str) -> Enrolment:
        return self._write(admin.enroll, code, "dt_" + secrets.token_urlsafe(32))

    def authenticate(self, token: str | None) -> DeviceAuth:
        if not token:
            raise admin.no_credential()
        return self._read(admin.authenticate, token)

    def set_config(self, key: str, value: str) -> None:
        self._write(admin.set_config, key, value)

    def get_config(self, key: str) -> str | None:
        return self._read(admin.get_config, key)

    # ----------------------------------------------------------------- loyalty-token keys
    def rotate_signing_key(self, *, valid_days: int = 90) -> str:
        key = admin.new_signing_key(valid_days)
        self._write(admin.add_signing_key, key)
        return str(key["kid"])

    def ensure_signing_key(self) -> str:
        return self._read(admin.current_signing_kid) or self.rotate_signing_key()

    def signing_key_exists(self, kid: str) -> bool:
        return self._read(admin.signing_key_exists, kid)

    def revoke_signing_key(self, kid: str) -> None:
        self._write(admin.revoke_signing_key, kid)

    def signing_private_key_pem(self, kid: str) -> str | None:
        return self._read(admin.signing_private_key_pem, kid)

    # ----------------------------------------------------------------- members
    def upsert_customer(self, data: dict[str, Any]) -> None:
        """Create a member or update the fields ``data`` holds (``members.upsert``); a new member gets the
        sign-up bonus when configured (``bonuses``)."""
        def run(conn: Connection) -> None:
            new = not members.exists(conn, str(data["id"]))
            members.upsert(conn, data)
            if new and bonuses.award(conn, bonuses.BonusKind.SIGN_UP, str(data["id"]), now_iso()):
                members.customer_changed(conn, str(data["id"]))
        self._write(run)

    def make_relevant(self, store_id: str, customer_id: str, reason: str) -> None:
        """The one audited way to let a store's devices name a customer (the member look-up calls it): the
        store then receives the profile, personal offers, coupons and identities, and its tills' events naming
        the customer are accepted. ``reason`` is kept beside the grant (``customer_stores``). Raises
        ``HubError('unknown_customer')`` for a customer the hub does not hold."""

        def run(conn: Connection) -> None:
            members.require(conn, customer_id)
            members.make_relevant(conn, customer_id, store_id, reason)

        self._write(run)

    def adjust_balance(self, customer_id: str, points: int, reason: str, who: str = "admin") -> None:
        """An admin correction (``points`` > 0 adds, < 0 takes), recorded in the hub ledger like any other entry
        with ``reason`` and ``source`` ``admin:<who>``."""
        def run(conn: Connection) -> None:
            post_points(conn, customer_id=customer_id, points=points, reason=reason, source=f"admin:{who}",
                        entry_id=f"adj-{new_id()}", at=now_iso(), device_id="admin", event_id="admin")
            members.customer_changed(conn, customer_id)
        self._write(run)

    def set_consent(self, customer_id: str, name: str, granted: bool) -> None:
        """One consent flag; a change of 'location' adds or removes the customer's tags and keys at the stores."""
        self._write(members.set_consent, customer_id, name, granted)

    def forget_customer(self, customer_id: str) -> list[str]:
        """Erase a customer: the stores that held them receive ``data: null`` and delete them."""
        return self._write(members.forget, customer_id)

    def record_order(self, order: dict[str, Any]) -> bool:
        """Idempotent by order_id; returns False when the order was already recorded."""
        return self._write(members.record_order, order)

    def balance(self, customer_id: str) -> int | None:
        return self._read(members.balance, customer_id)

    # ----------------------------------------------------------------- catalogue, offers, coupons
    def upsert_products(self, rows: Iterable[dict[str, Any]]) -> int:
        return self._write(offers.upsert_products, rows)

    def import_catalog_csv(self, path: Path) -> int:
        """CSV columns: gtin,name,price_cents,vat_rate_bp,category. Errors name the line and the column."""
        return self.upsert_products(offers.read_catalog_csv(path))

    def upsert_offer(self, data: dict[str, Any]) -> None:
        self._write(offers.upsert_offer, offers.normalise_offer(data))

    def create_coupon(self, code: str, offer_id: str, customer_id: str | None = None, single_use: bool = True) -> None:
        self._write(offers.create_coupon, code, offer_id, customer_id, single_use)

    def coupon_exists(self, code: str) -> bool:
        return self._read(offers.coupon_exists, code)

    def revoke_coupon(self, code: str) -> None:
        self._write(offers.revoke_coupon, code)

    # ----------------------------------------------------------------- rewards, bonuses, personal coupons
    def add_reward(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Create or change a reward of the catalogue (``rewards.add``); every store receives it."""
        return self._write(rewards.add, doc)

    def retire_reward(self, reward_id: str) -> None:
        self._write(rewards.retire, reward_id)

    def rewards(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        return self._read(lambda conn: rewards.listing(conn, include_retired=include_retired))

    def claim_reward(self, customer_id: str, reward_id: str, claim_id: str | None = None) -> tuple[dict[str, Any], bool]:
        """A member claims a reward through the API (the app): (the claim, made now?); see
        ``rewards.claim_online``. The stores holding the member re-read the profile (and the coupon)."""
        def run(conn: Connection) -> tuple[dict[str, Any], bool]:
            answer, made = rewards.claim_online(conn, customer_id, reward_id, claim_id or new_id())
            if made:
                members.customer_changed(conn, customer_id)
            return answer, made
        return self._write(run)

    def set_bonus(self, kind: str, points: int, cap_per_year: int = 0) -> bonuses.BonusRule:
        return self._write(bonuses.configure, kind, points, cap_per_year)

    def bonuses(self) -> list[bonuses.BonusRule]:
        return self._read(bonuses.rules)

    def award_referral(self, referrer: str, referee: str) -> str:
        """The referral bonus for ``referrer`` (capped per year, once per referee); what happened, in words."""
        def run(conn: Connection) -> str:
            members.require(conn, referrer)
            members.require(conn, referee)
            said = bonuses.award_referral(conn, referrer, referee, now_iso())
            members.customer_changed(conn, referrer)
            return said
        return self._write(run)

    def issue_birthday_coupons(self, today: Any, plan: personal_coupons.BirthdayPlan) -> list[dict[str, Any]]:
        """The birthday-coupon job (``hub issue-birthday-coupons``): idempotent per member per year."""
        def run(conn: Connection) -> list[dict[str, Any]]:
            issued = personal_coupons.issue_birthday_coupons(conn, today, plan)
            members.customers_changed(conn, [i["customer_id"] for i in issued])
            return issued
        return self._write(run)

    def set_next_order_coupon(self, rule: personal_coupons.NextOrderRule) -> None:
        self._write(personal_coupons.configure_next_order, rule)

    # ----------------------------------------------------------------- presence (sync/hub/presence.py)
    def _presence(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return self._write(fn, *args)
        except presence.PresenceInputError as exc:
            raise HubError("bad_request", str(exc), 400) from None
        except LookupError as exc:
            raise HubError("unknown", str(exc.args[0]), 422) from None

    def link_tag(self, customer_id: str, key: str) -> str:
        return self._presence(presence.link_tag, customer_id, key)

    def set_eid_key(self, customer_id: str, key_hex: str, exponent: int, clock_offset_s: int = 0) -> str:
        return self._presence(presence.set_eid_key, customer_id, key_hex, exponent, clock_offset_s)

    def unlink_identity(self, ident: str) -> bool:
        return self._presence(presence.unlink, ident)

    def add_store_beacon(self, store_id: str, key: str, zone: str, label: str = "") -> str:
        self._read(admin.require_store, store_id)
        return self._presence(presence.add_store_beacon, store_id, key, zone, label)

    def remove_store_beacon(self, store_id: str, key: str) -> bool:
        return self._presence(presence.remove_store_beacon, store_id, key)

    def set_presence_rule(self, store_id: str, rule: Any) -> str:
        self._read(admin.require_store, store_id)
        return self._presence(presence.put_rule, store_id, rule)

    def remove_presence_rule(self, store_id: str, campaign_id: str) -> bool:
        return self._presence(presence.remove_rule, store_id, campaign_id)

    def record_sighting(self, doc: Any) -> dict[str, Any]:
        """An app's sighting (``POST /v1/sightings``): stored; relayed to the store only with location consent."""
        try:
            s = presence.check_sighting(doc)
        except presence.PresenceInputError as exc:
            raise HubError("bad_request", str(exc), 400) from None
        sighting_id = s["sighting_id"] or new_id()

        def run(conn: Connection) -> tuple[bool, str | None]:
            recorded, store = presence.record_sighting(conn, s, sighting_id)
            if recorded and store is not None:
                # the profile reaches the store before (or with) the sighting, so rules can use the tier
                members.make_relevant(conn, s["customer_id"], store, "seen")
                record(conn, ChangeKind.SIGHTING, sighting_id, store)
            return recorded, store

        recorded, store = self._presence(run)
        return {"sighting_id": sighting_id, "recorded": recorded, "forwarded": store is not None}

    # ----------------------------------------------------------------- push and pull
    def push(self, device: DeviceAuth, raw_events: list[Any], *, finite_numbers: bool = False) -> list[EventResult]:
        """Apply one batch in one transaction; per event: accepted, duplicate or rejected with a reason.
        ``finite_numbers``: the caller knows the events hold no NaN or infinity (a faster encoder may be used)."""
        checked = ingest.check_events(device, raw_events)
        with self.db.write() as conn:
            return ingest.push(conn, device, checked, finite_numbers=finite_numbers)

    def changes(self, device: DeviceAuth, cursor: str | None, limit: int) -> protocol.ChangesPage:
        """One page of the device's store's change feed after ``cursor`` (see ``sync.hub.feed``)."""
        return feed.pull(self.db, device, cursor, limit, wait_s=self.pull_wait_s)

    # ----------------------------------------------------------------- reports
    def exceptions(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self._read(admin.exceptions_report, kind)

    def ledger_entries(self) -> list[dict[str, Any]]:
        return self._read(admin.ledger_entries)

    def count(self, table: str) -> int:
        return self._read(admin.count, table)

    # ----------------------------------------------------------------- notification queue (webhooks)
    def due_notifications(self, limit: int, max_attempts: int, *, lease_s: float = notifications.LEASE_S
                          ) -> list[dict[str, Any]]:
        """Claim due notifications for delivery (each is handed to one deliverer across processes)."""
        return self._write(functools.partial(notifications.claim, lease_s=lease_s), limit, max_attempts)

    def notification_delivered(self, event_id: str) -> None:
        self._write(notifications.delivered, event_id)

    def notification_failed(self, event_id: str, error: str, retry_at: str, *, max_attempts: int | None = None) -> None:
        """Record a failed delivery; the one that uses up ``max_attempts`` is reported as ``webhook_failed``."""
        self._write(notifications.failed, event_id, error, retry_at, max_attempts)

    def notifications(self) -> list[dict[str, Any]]:
        return self._read(notifications.listing)
