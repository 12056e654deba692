"""The hub's tables, declared once as SQLAlchemy ``MetaData`` for both engines (SQLite and PostgreSQL).

Every statement in ``sync/hub`` is built from these objects; the schema itself is created and changed only
by the Alembic revisions in ``sync/hub/migrations/versions`` (``store-edge hub migrate``). Times are ISO 8601
UTC text (``...Z``), money in cents, points in whole points, JSON documents as text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

metadata = MetaData()

# SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY
Serial = BigInteger().with_variant(Integer(), "sqlite")


def _text(name: str, *, nullable: bool = True, **kw: object) -> Column[str]:
    return Column(name, Text, nullable=nullable, **kw)  # type: ignore[arg-type]


stores = Table(
    "stores", metadata,
    Column("id", Text, primary_key=True), _text("name", nullable=False), _text("created_at", nullable=False),
    # the store's CLDR locale, ISO 4217 currency and IANA zone, sent to its tills (NULL: the till's settings)
    _text("locale"), _text("currency"), _text("timezone"),
)
devices = Table(
    "devices", metadata,
    Column("id", Text, primary_key=True),
    Column("store_id", Text, ForeignKey("stores.id"), nullable=False),
    Column("token_hash", Text, unique=True),
    Column("status", Text, nullable=False, server_default="created"),
    _text("created_at", nullable=False), _text("enrolled_at"), _text("revoked_at"), _text("last_seen_at"),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
)
enrolment_codes = Table(
    "enrolment_codes", metadata,
    Column("code_hash", Text, primary_key=True),
    Column("device_id", Text, ForeignKey("devices.id"), nullable=False),
    _text("expires_at", nullable=False), _text("used_at"),
)
api_keys = Table(
    "api_keys", metadata,
    Column("key_hash", Text, primary_key=True), _text("name", nullable=False), _text("created_at", nullable=False),
    # comma-separated API_SCOPES (sync/hub/admin.py); keys made before scopes existed may place orders and
    # report sightings, not read reports
    Column("scopes", Text, nullable=False, server_default="orders,sightings"),
)
customers = Table(
    "customers", metadata,
    Column("id", Text, primary_key=True),
    Column("card_number", Text, unique=True),
    _text("display_name", nullable=False), _text("phone_hash"), _text("email_hash"),
    Column("tier", Text, nullable=False, server_default="Bronze"),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("spend_12m_cents", BigInteger, nullable=False, server_default="0"),
    Column("consents", Text, nullable=False, server_default="{}"),
    _text("birthday"),
    Column("preferences", Text, nullable=False, server_default="{}"),
    Column("rewards", Text, nullable=False, server_default="[]"),
    _text("home_store_id"), _text("updated_at", nullable=False),
    # the member's last downgrade review (sync/hub/programme.py; NULL: never reviewed)
    _text("tier_reviewed_at"),
    # the member's id in the programme it was imported from (``hub import members``): re-imports find it
    _text("external_id"),
    # a manual tier (``hub tier-override``): honoured while ``tier_override_until`` (ISO date) has not passed
    _text("tier_override"), _text("tier_override_reason"), _text("tier_override_until"), _text("tier_override_by"),
    Index("customers_external_id", "external_id", unique=True),
    Index("customers_phone_hash", "phone_hash"), Index("customers_email_hash", "email_hash"),
)
# every consent given or withdrawn, with its time, source and wording version; ``customers.consents`` is the
# current state the tills pull (sync/hub/member_records.py)
consent_history = Table(
    "consent_history", metadata,
    Column("id", Serial, Identity(always=True), primary_key=True),
    _text("customer_id", nullable=False), _text("name", nullable=False), Column("granted", Integer, nullable=False),
    _text("wording_version", nullable=False), _text("source", nullable=False), _text("recorded_at", nullable=False),
    Index("consent_history_customer", "customer_id", "id"),
    sqlite_autoincrement=True,
)
# a member record merged into another: the absorbed id, card and contact hashes resolve to the survivor
member_merges = Table(
    "member_merges", metadata,
    Column("absorbed_id", Text, primary_key=True), _text("survivor_id", nullable=False),
    Column("points_moved", BigInteger, nullable=False), _text("merged_by", nullable=False),
    _text("reason", nullable=False), _text("merged_at", nullable=False),
    Index("member_merges_survivor", "survivor_id"),
)
member_aliases = Table(
    "member_aliases", metadata,
    _text("kind", nullable=False), _text("value", nullable=False), _text("customer_id", nullable=False),
    _text("since", nullable=False),
    PrimaryKeyConstraint("kind", "value"),
    Index("member_aliases_customer", "customer_id"),
)
customer_stores = Table(
    "customer_stores", metadata,
    _text("customer_id", nullable=False), _text("store_id", nullable=False), _text("reason", nullable=False),
    _text("since", nullable=False),
    PrimaryKeyConstraint("customer_id", "store_id"),
)
products = Table(
    "products", metadata,
    Column("gtin", Text, primary_key=True), _text("name", nullable=False),
    Column("price_cents", BigInteger, nullable=False), Column("vat_rate_bp", Integer, nullable=False),
    _text("category", nullable=False), _text("updated_at", nullable=False),
)
offers = Table(
    "offers", metadata,
    Column("id", Text, primary_key=True), _text("data", nullable=False), _text("customer_id"),
    _text("updated_at", nullable=False),
)
coupons = Table(
    "coupons", metadata,
    Column("code", Text, primary_key=True),
    Column("offer_id", Text, ForeignKey("offers.id"), nullable=False),
    _text("customer_id"),
    Column("single_use", Integer, nullable=False, server_default="1"),
    _text("redeemed_at"), _text("redeemed_sale_id"), _text("redeemed_store_id"), _text("revoked_at"),
)
events = Table(
    "events", metadata,
    Column("event_id", Text, primary_key=True),
    _text("device_id", nullable=False), _text("store_id", nullable=False), Column("seq", BigInteger, nullable=False),
    _text("type", nullable=False), _text("payload", nullable=False), _text("device_time", nullable=False),
    _text("received_at", nullable=False),
    Index("events_device", "device_id", "seq"),
)
ledger = Table(
    "ledger", metadata,
    Column("entry_id", Text, primary_key=True),
    _text("customer_id", nullable=False), _text("kind", nullable=False), Column("points", BigInteger, nullable=False),
    _text("sale_id"), _text("reason", nullable=False), _text("store_id", nullable=False),
    _text("device_id", nullable=False), _text("event_id", nullable=False), _text("created_at", nullable=False),
    _text("applied_at", nullable=False), Column("balance_after", BigInteger, nullable=False),
    # where the movement comes from: "sale:<id>", "order:<id>", "bonus:<kind>", "reward:<id>", "expiry:<lot>",
    # "admin:<who>" (sync/hub/ledger.py SOURCE_*); rows written before 0004 have none
    _text("source"),
    Index("ledger_customer_store", "customer_id", "store_id"),
)
# one lot per earn (lot_id = the earning ledger entry): burns take the oldest first, what is left expires
point_lots = Table(
    "point_lots", metadata,
    Column("lot_id", Text, primary_key=True),
    _text("customer_id", nullable=False),
    Column("points", BigInteger, nullable=False), Column("remaining", BigInteger, nullable=False),
    _text("earned_at", nullable=False), _text("available_at", nullable=False), _text("expires_at"),
    _text("expired_at"), _text("source"),
    Index("point_lots_customer", "customer_id", "earned_at"),
    Index("point_lots_due", "expires_at"),
)
exceptions = Table(
    "exceptions", metadata,
    Column("id", Serial, Identity(always=True), primary_key=True),
    _text("kind", nullable=False), _text("entry_id"), _text("customer_id"), _text("store_id"), _text("device_id"),
    _text("detail", nullable=False), Column("balance_before", BigInteger), Column("balance_after", BigInteger),
    _text("detected_at", nullable=False),
    sqlite_autoincrement=True,
)
sales = Table(
    "sales", metadata,
    Column("sale_id", Text, primary_key=True),
    _text("store_id", nullable=False), _text("device_id", nullable=False), _text("customer_id"),
    Column("total_cents", BigInteger, nullable=False), _text("created_at", nullable=False),
    _text("payload", nullable=False),
    Index("sales_customer", "customer_id", "created_at"),
)
orders = Table(
    "orders", metadata,
    Column("order_id", Text, primary_key=True),
    _text("customer_id", nullable=False), _text("channel", nullable=False),
    Column("total_cents", BigInteger, nullable=False), _text("status", nullable=False), _text("pickup_store_id"),
    _text("lines", nullable=False), _text("created_at", nullable=False), _text("received_at", nullable=False),
    # web_orders: the store its points count for (pick-up or selling store, else "web"), what the hub priced,
    # the coupons it redeemed (JSON list) and when it was cancelled (sync/hub/orders.py)
    Column("store_id", Text, nullable=False, server_default="web"),
    Column("points_earned", BigInteger, nullable=False, server_default="0"),
    Column("points_redeemed", BigInteger, nullable=False, server_default="0"),
    Column("paid_cents", BigInteger, nullable=False, server_default="0"),
    Column("coupons", Text, nullable=False, server_default="[]"), _text("cancelled_at"),
    Index("orders_customer", "customer_id", "created_at"),
)
# one return of a web/app order, idempotent by (order_id, return_id): units per line and what it reversed
order_returns = Table(
    "order_returns", metadata,
    _text("order_id", nullable=False), _text("return_id", nullable=False), _text("lines", nullable=False),
    Column("points_reversed", BigInteger, nullable=False), Column("points_refunded", BigInteger, nullable=False),
    Column("refund_cents", BigInteger, nullable=False), _text("created_at", nullable=False),
    PrimaryKeyConstraint("order_id", "return_id"),
)
feedback = Table(
    "feedback", metadata,
    Column("id", Text, primary_key=True), _text("sale_id"), _text("customer_id"), _text("store_id", nullable=False),
    Column("score", Integer, nullable=False), _text("created_at", nullable=False),
)
presence_notifications = Table(
    "presence_notifications", metadata,
    Column("event_id", Text, primary_key=True),
    _text("store_id", nullable=False), _text("device_id", nullable=False), _text("type", nullable=False),
    _text("payload", nullable=False), _text("received_at", nullable=False), _text("delivered_at"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _text("next_attempt_at", nullable=False), _text("last_error"),
    Index("presence_due", "delivered_at", "next_attempt_at"),
)
signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", Text, primary_key=True), _text("private_pem", nullable=False),
    _text("public_key_b64", nullable=False), _text("created_at", nullable=False), _text("not_after", nullable=False),
    _text("revoked_at"),
)
# the change feed (sync/hub/feed.py): ``txid`` is the writing transaction's id on PostgreSQL, 0 on SQLite
changes = Table(
    "changes", metadata,
    Column("version", Serial, Identity(always=True), primary_key=True),
    _text("kind", nullable=False), _text("key", nullable=False), _text("store_id"),
    Column("txid", BigInteger, nullable=False, server_default="0"),
    Index("changes_feed", "txid", "version"),
    Index("changes_store_feed", "store_id", "txid", "version"),
    sqlite_autoincrement=True,
)
config = Table(
    "config", metadata,
    Column("key", Text, primary_key=True), _text("value", nullable=False),
)
presence_identities = Table(
    "presence_identities", metadata,
    Column("id", Text, primary_key=True),
    _text("customer_id", nullable=False), _text("kind", nullable=False), _text("beacon_key"),
    _text("eid_identity_key"), Column("eid_rotation_exponent", Integer),
    Column("eid_clock_offset_s", BigInteger, nullable=False, server_default="0"),
    _text("updated_at", nullable=False),
    Index("presence_identities_customer", "customer_id"),
)
store_beacons = Table(
    "store_beacons", metadata,
    _text("store_id", nullable=False), _text("beacon_key", nullable=False), _text("zone", nullable=False),
    Column("label", Text, nullable=False, server_default=""), _text("updated_at", nullable=False),
    PrimaryKeyConstraint("store_id", "beacon_key"),
    Index("store_beacons_key", "beacon_key"),
)
presence_rules = Table(
    "presence_rules", metadata,
    _text("store_id", nullable=False), _text("campaign_id", nullable=False), _text("rule", nullable=False),
    _text("updated_at", nullable=False),
    PrimaryKeyConstraint("store_id", "campaign_id"),
)
sightings = Table(
    "sightings", metadata,
    Column("id", Text, primary_key=True),
    _text("customer_id", nullable=False), _text("store_id", nullable=False), _text("zone", nullable=False),
    _text("beacon_key"), _text("kind", nullable=False), _text("seen_at", nullable=False),
    _text("received_at", nullable=False), Column("forwarded", Integer, nullable=False),
)
presence_visits = Table(
    "presence_visits", metadata,
    Column("visit_id", Text, primary_key=True),
    _text("event_id", nullable=False), _text("store_id", nullable=False), _text("device_id", nullable=False),
    _text("customer_id"), _text("zone", nullable=False), _text("entered_at"), _text("exited_at"),
    Column("dwell_s", Double), _text("source"), _text("received_at", nullable=False),
)
presence_anonymous_counts = Table(
    "presence_anonymous_counts", metadata,
    Column("event_id", Text, primary_key=True),
    _text("store_id", nullable=False), _text("device_id", nullable=False), _text("bucket_start", nullable=False),
    _text("zone", nullable=False), Column("devices", BigInteger, nullable=False), _text("received_at", nullable=False),
)
presence_analytics = Table(
    "presence_analytics", metadata,
    Column("event_id", Text, primary_key=True),
    _text("store_id", nullable=False), _text("device_id", nullable=False), _text("since"), _text("until"),
    _text("summary", nullable=False), _text("received_at", nullable=False),
)
token_sightings = Table(
    "token_sightings", metadata,
    _text("store_id", nullable=False), _text("till_id", nullable=False), _text("token_hash", nullable=False),
    _text("customer_id", nullable=False), _text("seen_at", nullable=False), _text("expires_at", nullable=False),
    _text("received_at", nullable=False),
    PrimaryKeyConstraint("store_id", "till_id", "token_hash"),
)
# every member look-up by a till (sync/hub/lookup.py): who asked, for which store, by what kind of identifier
# (never the identifier), the outcome ("found", "not_found", "ambiguous", "limited") and when; the rate limiter
# counts a device's recent misses here
member_lookups = Table(
    "member_lookups", metadata,
    Column("id", Serial, Identity(always=True), primary_key=True),
    _text("device_id", nullable=False), _text("store_id", nullable=False), _text("kind", nullable=False),
    _text("outcome", nullable=False), _text("customer_id"), _text("at", nullable=False),
    Index("member_lookups_device", "device_id", "at"),
    sqlite_autoincrement=True,
)
# a guest receipt's claim code (edge/core/claims.py), registered when its sale arrives, and its one claim
receipt_claims = Table(
    "receipt_claims", metadata,
    Column("code", Text, primary_key=True),
    Column("sale_id", Text, nullable=False, unique=True),
    _text("store_id", nullable=False), _text("device_id", nullable=False), _text("issued_at", nullable=False),
    _text("claimed_at"), _text("customer_id"), Column("points", BigInteger), _text("channel"),
)
# the reward catalogue (sync/hub/rewards.py): points for a product, a fixed amount off, or a coupon
rewards = Table(
    "rewards", metadata,
    Column("id", Text, primary_key=True),
    _text("name", nullable=False), _text("kind", nullable=False), Column("points", BigInteger, nullable=False),
    _text("gtin"), Column("amount_cents", BigInteger), _text("offer_id"),
    _text("created_at", nullable=False), _text("updated_at", nullable=False), _text("retired_at"),
)
# one row per claim (a till's, offline or not, or the app's); applied once by claim id
reward_claims = Table(
    "reward_claims", metadata,
    Column("claim_id", Text, primary_key=True),
    _text("reward_id", nullable=False), _text("customer_id", nullable=False),
    Column("points", BigInteger, nullable=False), _text("coupon_code"), _text("channel", nullable=False),
    _text("store_id", nullable=False), _text("device_id", nullable=False),
    _text("claimed_at", nullable=False), _text("received_at", nullable=False),
    Index("reward_claims_customer", "customer_id", "claimed_at"),
)
# offers with usage limits: each pushed sale's use of one, counted (sync/hub/offer_limits.py)
offer_redemptions = Table(
    "offer_redemptions", metadata,
    _text("offer_id", nullable=False), _text("sale_id", nullable=False), _text("customer_id"),
    _text("store_id", nullable=False), _text("redeemed_at", nullable=False),
    PrimaryKeyConstraint("offer_id", "sale_id"),
    Index("offer_redemptions_customer", "offer_id", "customer_id", "redeemed_at"),
)
