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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from edge.core.contract import ChangeKind
from edge.core.programme import ProgrammeRules
from sync import protocol
from sync.hub import (
    admin,
    bonuses,
    claims,
    feed,
    ingest,
    jobs,
    liability,
    lookup,
    member_import,
    member_records,
    members,
    migrate,
    notifications,
    offers,
    order_input,
    orders,
    personal_coupons,
    presence,
    programme,
    rewards,
    sealing,
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
RACE_ATTEMPTS = 3  # runs of a write transaction that lost a race on a unique key (``HubStorage._write``)


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a duplicate key (PostgreSQL SQLSTATE 23505, SQLite "UNIQUE constraint")."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


class HubStorage:
    """The hub database and its operations. ``HubStorage.open(target)`` opens (and, when empty, creates) it;
    a database whose schema is older is upgraded on SQLite and refused on PostgreSQL (``SchemaError``: run
    ``store-edge hub migrate``), one newer than the code is refused on both."""

    def __init__(self, db: Database, *, auto_upgrade: bool | None = None, pull_wait_s: float = 3.0,
                 sealer: sealing.Sealer | None = None) -> None:
        # the operator key (``sync.hub.sealing``): from the environment unless given; every connection carries it
        self.sealer = sealing.sealer_from_env() if sealer is None else sealer
        db.engine = db.engine.execution_options(**{sealing.OPTION: self.sealer})
        self.db = db
        self.dialect = db.dialect
        self.pull_wait_s = pull_wait_s
        migrate.prepare(db, auto_upgrade=auto_upgrade)

    @property
    def engine(self) -> Database:
        """The database (kept under its former name for callers that drop a test schema through it)."""
        return self.db

    @classmethod
    def open(cls, target: str | Path, *, schema_name: str | None = None, auto_upgrade: bool | None = None,
             sealer: sealing.Sealer | None = None) -> HubStorage:
        db = open_database(target, schema=schema_name)
        try:
            return cls(db, auto_upgrade=auto_upgrade, sealer=sealer)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision in place (``store-edge hub migrate``)."""
        migrate.upgrade(self.db)

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in one write transaction. A unique key that another transaction committed
        meanwhile (two copies of one order, two sign-ups with one external id, sent at once: on PostgreSQL both
        pass their checks before either commits) rolls this one back and runs it again, up to
        ``RACE_ATTEMPTS`` times: the rerun sees the committed row and gives its answer (already recorded, 409),
        never a 500. SQLite has one writer, so there the race does not arise."""
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                with self.db.write() as conn:
                    return fn(conn, *args)
            except IntegrityError as exc:
                if attempt == RACE_ATTEMPTS or not is_unique_violation(exc):
                    raise
        raise AssertionError("unreachable")

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        with self.db.read() as conn:
            return fn(conn, *args)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction for reports and tests (``sqlalchemy.Connection``)."""
        with self.db.read() as conn:
            yield conn

    # ----------------------------------------------------------------- admin
    def create_store(self, store_id: str, name: str | None = None, *, locale: str | None = None,
                     currency: str | None = None, timezone: str | None = None) -> None:
        """Create or rename a store; its locale, currency and time zone when given (``admin.create_store``)."""
        self._write(lambda conn: admin.create_store(conn, store_id, name, locale=locale, currency=currency,
                                                   timezone=timezone))

    def set_store(self, store_id: str, name: str | None = None, *, locale: str | None = None,
                  currency: str | None = None, timezone: str | None = None) -> None:
        """Change an existing store's name, locale, currency or time zone (``admin.set_store``)."""
        self._write(lambda conn: admin.set_store(conn, store_id, name, locale=locale, currency=currency,
                                                timezone=timezone))

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

    def api_key_holder(self, key: str, scope: str) -> str | None:
        """The key's name when it holds ``scope``, else None (``admin.api_key_holder``)."""
        return self._read(admin.api_key_holder, key, scope)

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

    # ----------------------------------------------------------------- the programme
    def programme_rules(self) -> ProgrammeRules:
        """The programme in force (``edge.core.programme``; the defaults until set)."""
        return self._read(programme.get_rules)

    def set_programme(self, assignments: Iterable[str]) -> ProgrammeRules:
        """Change programme rules with ``key=value`` texts (``ProgrammeRules.with_changes``) and send them to
        every store. ``ValueError`` naming every bad value, one per line; then nothing changes."""
        def run(conn: Connection) -> ProgrammeRules:
            rules = programme.get_rules(conn).with_changes(assignments)
            programme.set_rules(conn, rules)
            return rules
        return self._write(run)

    def run_jobs(self, now: datetime | None = None) -> dict[str, Any]:
        """Expire points past their date, then evaluate every member's tier (``sync.hub.jobs``), page by page,
        each page its own transaction, then issue the birthday coupons due; returns what was done
        (``jobs.summary``)."""
        now = now or datetime.now(UTC)
        lots = points = 0
        while True:
            closed, expired = self._write(jobs.expire_page, now)
            lots, points = lots + closed, points + expired
            if closed < jobs.PAGE:
                break
        changed, after = 0, ""
        while True:
            last, n = self._write(jobs.evaluate_page, now, after)
            changed += n
            if last is None:
                break
            after = last
        return jobs.summary(lots, points, changed, self._write(jobs.birthday_coupons, now))

    def points_summary(self, customer_id: str) -> dict[str, Any]:
        """The points part of the customer's profile (``programme.points_summary``)."""
        return self._read(programme.points_summary, customer_id)

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
        with ``reason`` and ``source`` ``admin:<who>``. ``HubError`` 422 for an unknown customer."""
        def run(conn: Connection) -> None:
            members.require(conn, customer_id)
            post_points(conn, customer_id=customer_id, points=points, reason=reason, source=f"admin:{who}",
                        entry_id=f"adj-{new_id()}", at=now_iso(), device_id="admin", event_id="admin")
            members.customer_changed(conn, customer_id)
        self._write(run)

    def set_consent(self, customer_id: str, name: str, granted: bool, *, source: str = "admin",
                    wording_version: str = "unversioned") -> None:
        """One consent flag, kept in the consent history with ``source`` and ``wording_version``; a change of
        'location' adds or removes the customer's tags and keys at the stores."""
        self._write(functools.partial(members.set_consent, source=source, wording_version=wording_version),
                    customer_id, name, granted)

    # ----------------------------------------------------------------- the member API (sync/hub/member_records.py)
    def create_member(self, columns: dict[str, Any], consents: list[dict[str, Any]], *, source: str
                      ) -> tuple[dict[str, Any], bool]:
        """A new member (id and card number made by the hub) -> (profile, created); an ``external_id`` already
        held answers that member's profile with created False."""
        def run(conn: Connection) -> tuple[dict[str, Any], bool]:
            cid, created = member_records.create(conn, "M" + new_id().replace("-", ""), columns, consents,
                                                 source=source)
            return member_records.profile(conn, cid), created
        return self._write(run)

    def update_member(self, member_id: str, columns: dict[str, Any], consents: list[dict[str, Any]], *,
                      source: str) -> dict[str, Any]:
        """Change only the given columns, record the given consents; the profile after."""
        def run(conn: Connection) -> dict[str, Any]:
            cid = member_records.update_member(conn, member_id, columns, consents, source=source)
            return member_records.profile(conn, cid)
        return self._write(run)

    def member_profile(self, member_id: str, history: int = member_records.HISTORY_LIMIT) -> dict[str, Any]:
        return self._read(member_records.profile, member_id, history)

    def member_consents(self, member_id: str) -> dict[str, Any]:
        """``{"member_id", "consents": {name: {granted, at, source, wording_version}}, "history": [...]}``."""
        def run(conn: Connection) -> dict[str, Any]:
            cid = member_records.require_member(conn, member_id)
            return {"member_id": cid, "consents": member_records.current_consents(conn, cid),
                    "history": member_records.consent_rows(conn, cid, limit=500)}
        return self._read(run)

    def merge_members(self, survivor_id: str, absorbed_id: str, *, who: str, reason: str) -> dict[str, Any]:
        """Merge two member records (``member_records.merge``); idempotent."""
        return self._write(functools.partial(member_records.merge, who=who, reason=reason), survivor_id, absorbed_id)

    def set_tier_override(self, member_id: str, tier: str | None, *, reason: str = "", until: str = "",
                          who: str = "admin") -> str:
        """A manual tier with a reason and an end date (``tier`` None clears it); returns the member id."""
        return self._write(functools.partial(member_records.set_tier_override, reason=reason, until=until, who=who),
                           member_id, tier)

    def import_members(self, path: Path, *, region: str = "", chunk: int = 2_000) -> member_import.ImportReport:
        """``hub import members FILE.csv`` (``member_import.import_members``)."""
        return member_import.import_members(self.db, path, region=region, chunk=chunk)

    def import_balances(self, path: Path, *, chunk: int = 2_000) -> member_import.ImportReport:
        """``hub import balances FILE.csv`` (``member_import.import_balances``)."""
        return member_import.import_balances(self.db, path, chunk=chunk)

    def forget_customer(self, customer_id: str) -> list[str]:
        """Erase a customer: the stores that held them receive ``data: null`` and delete them."""
        return self._write(members.forget, customer_id)

    def record_order(self, order: dict[str, Any]) -> bool:
        """Import a past order as history only (the demo, a migration: its points are in the opening balance);
        idempotent by order_id; returns False when the order was already recorded. Orders placed now go
        through ``place_order``."""
        return self._write(members.record_order, order)

    def place_order(self, doc: Any) -> dict[str, Any]:
        """``POST /v1/orders``: the order checked (``order_input.check_order``, 400), priced by the till's rules,
        its points earned and burned, its coupons redeemed and its spend counted (``orders.place``)."""
        order = order_input.check_order(doc)
        return self._write(orders.place, order, now_iso())

    def quote_order(self, doc: Any) -> dict[str, Any]:
        """``POST /v1/orders/quote``: what the order would cost and earn, nothing written (``orders.quote``)."""
        order = order_input.check_order(doc, quote=True)
        return self._write(orders.quote, order, now_iso())  # locks as placing would; writes nothing

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        """``POST /v1/orders/{id}/cancel``: what the order earned, burned and spent is reversed (``orders.cancel``)."""
        return self._write(orders.cancel, order_input.check_order_id(order_id), now_iso())

    def return_order(self, order_id: str, doc: Any) -> dict[str, Any]:
        """``POST /v1/orders/{id}/returns``: the returned lines reverse their share (``orders.add_return``)."""
        ret = order_input.check_return(doc)
        return self._write(orders.add_return, order_input.check_order_id(order_id), ret, now_iso())

    def balance(self, customer_id: str) -> int | None:
        return self._read(members.balance, customer_id)

    # ----------------------------------------------------------------- recognised at any till
    def lookup_member(self, device: DeviceAuth, kind: str, value: str) -> lookup.LookupAnswer:
        """A till asks who ``value`` (``kind``: card, phone_hash, email_hash, app_token) belongs to: rate limited
        per device, logged, and on a hit the member is made relevant to the device's store and their profile
        returned (``sync/hub/lookup.py``)."""
        return self._write(functools.partial(lookup.lookup, device=device, kind=kind, value=value))

    def member_lookups(self, device_id: str | None = None) -> list[dict[str, Any]]:
        """The look-up log, oldest first."""
        return self._read(lookup.lookup_log, device_id)

    def claim_receipt(self, customer_id: str, code: str, channel: str = "api") -> claims.Claimed:
        """A member claims a guest receipt's points once (``sync/hub/claims.py``); ``HubError`` says why not."""
        return self._write(functools.partial(claims.claim, code=code, customer_id=customer_id, channel=channel))

    # ----------------------------------------------------------------- catalogue, offers, coupons
    def upsert_products(self, rows: Iterable[dict[str, Any]]) -> int:
        return self._write(offers.upsert_products, rows)

    def import_catalog_csv(self, path: Path) -> int:
        """CSV columns: gtin,name,price_cents,vat_rate_bp,category. Errors name the line and the column."""
        return self.upsert_products(offers.read_catalog_csv(path))

    def upsert_offer(self, data: dict[str, Any]) -> None:
        self._write(offers.upsert_offer, offers.normalise_offer(data))

    def delete_offer(self, offer_id: str) -> int:
        """Retire an offer everywhere (``offers.delete_offer``); returns how many of its coupons were revoked."""
        return self._write(offers.delete_offer, offer_id)

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
            cid = members.resolve_id(conn, customer_id) or customer_id  # a merged-away record: its survivor
            answer, made = rewards.claim_online(conn, cid, reward_id, claim_id or new_id())
            if made:
                members.customer_changed(conn, cid)
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
        Should the database refuse a value the checks let through (``ingest.UNSTORABLE``), the batch is redone
        one event per transaction and only the event holding it is rejected (issue 12: one bad event never
        stops the batch, on either engine). ``finite_numbers``: the caller knows the events hold no NaN or infinity (a faster encoder may be used)."""
        checked = ingest.check_events(device, raw_events)
        try:
            with self.db.write() as conn:
                return ingest.push(conn, device, checked, finite_numbers=finite_numbers)
        except ingest.UNSTORABLE as exc:
            if len(checked) == 1:
                return [self._unstorable(device, checked[0], exc)]
        # a value the database cannot hold slipped past the checks: each event on its own, so only it is refused
        return [self._push_one(device, item, finite_numbers) for item in checked]

    def _push_one(self, device: DeviceAuth, item: ingest.Checked, finite_numbers: bool) -> EventResult:
        try:
            with self.db.write() as conn:
                return ingest.push(conn, device, [item], finite_numbers=finite_numbers)[0]
        except ingest.UNSTORABLE as exc:
            return self._unstorable(device, item, exc)

    def _unstorable(self, device: DeviceAuth, item: ingest.Checked, exc: Exception) -> EventResult:
        """The event's verdict when the database refused one of its values (``ingest.UNSTORABLE``), reported."""
        with self.db.write() as conn:
            return ingest.refuse_unstorable(conn, device, item, exc)

    def changes(self, device: DeviceAuth, cursor: str | None, limit: int) -> protocol.ChangesPage:
        """One page of the device's store's change feed after ``cursor`` (see ``sync.hub.feed``)."""
        return feed.pull(self.db, device, cursor, limit, wait_s=self.pull_wait_s)

    # ----------------------------------------------------------------- reports
    def exceptions(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self._read(admin.exceptions_report, kind)

    def liability(self, *, at: str | None = None) -> dict[str, Any]:
        """Outstanding points and their value per store, expiring in 30/60/90 days (``liability.report``)."""
        return self._read(liability.report, at or now_iso())

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
