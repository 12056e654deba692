"""v0.1: the hub schema as store-edge 0.1 created it (frozen; never edit a released revision).

A hub database made by 0.1 has these tables and no ``alembic_version``; ``sync.hub.migrate`` recognises it
by its tables and stamps it with this revision before upgrading.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_V1 = """
CREATE TABLE IF NOT EXISTS stores (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    token_hash TEXT UNIQUE,
    status TEXT NOT NULL DEFAULT 'created',
    created_at TEXT NOT NULL, enrolled_at TEXT, revoked_at TEXT, last_seen_at TEXT,
    last_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    expires_at TEXT NOT NULL, used_at TEXT
);
CREATE TABLE IF NOT EXISTS api_keys (key_hash TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    card_number TEXT UNIQUE,
    display_name TEXT NOT NULL,
    phone_hash TEXT, email_hash TEXT,
    tier TEXT NOT NULL DEFAULT 'Bronze',
    balance BIGINT NOT NULL DEFAULT 0,
    spend_12m_cents BIGINT NOT NULL DEFAULT 0,
    consents TEXT NOT NULL DEFAULT '{}',
    birthday TEXT,
    preferences TEXT NOT NULL DEFAULT '{}',
    rewards TEXT NOT NULL DEFAULT '[]',
    home_store_id TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customer_stores (
    customer_id TEXT NOT NULL, store_id TEXT NOT NULL, reason TEXT NOT NULL, since TEXT NOT NULL,
    PRIMARY KEY (customer_id, store_id)
);
CREATE TABLE IF NOT EXISTS products (
    gtin TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents BIGINT NOT NULL, vat_rate_bp INTEGER NOT NULL,
    category TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS offers (
    id TEXT PRIMARY KEY, data TEXT NOT NULL, customer_id TEXT, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS coupons (
    code TEXT PRIMARY KEY, offer_id TEXT NOT NULL REFERENCES offers(id), customer_id TEXT,
    single_use INTEGER NOT NULL DEFAULT 1,
    redeemed_at TEXT, redeemed_sale_id TEXT, redeemed_store_id TEXT, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL, store_id TEXT NOT NULL, seq BIGINT NOT NULL,
    type TEXT NOT NULL, payload TEXT NOT NULL, device_time TEXT NOT NULL, received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_device ON events(device_id, seq);
CREATE TABLE IF NOT EXISTS ledger (
    entry_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL, kind TEXT NOT NULL, points BIGINT NOT NULL,
    sale_id TEXT, reason TEXT NOT NULL, store_id TEXT NOT NULL, device_id TEXT NOT NULL,
    event_id TEXT NOT NULL, created_at TEXT NOT NULL, applied_at TEXT NOT NULL, balance_after BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_customer_store ON ledger(customer_id, store_id);
CREATE TABLE IF NOT EXISTS exceptions (
    id {serial},
    kind TEXT NOT NULL, entry_id TEXT, customer_id TEXT, store_id TEXT, device_id TEXT,
    detail TEXT NOT NULL, balance_before BIGINT, balance_after BIGINT, detected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sales (
    sale_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, device_id TEXT NOT NULL, customer_id TEXT,
    total_cents BIGINT NOT NULL, created_at TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sales_customer ON sales(customer_id, created_at);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, channel TEXT NOT NULL, total_cents BIGINT NOT NULL,
    status TEXT NOT NULL, pickup_store_id TEXT, lines TEXT NOT NULL, created_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer ON orders(customer_id, created_at);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY, sale_id TEXT, customer_id TEXT, store_id TEXT NOT NULL, score INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS presence_notifications (
    event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, device_id TEXT NOT NULL, type TEXT NOT NULL,
    payload TEXT NOT NULL, received_at TEXT NOT NULL,
    delivered_at TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, last_error TEXT
);
CREATE INDEX IF NOT EXISTS presence_due ON presence_notifications(delivered_at, next_attempt_at);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY, private_pem TEXT NOT NULL, public_key_b64 TEXT NOT NULL,
    created_at TEXT NOT NULL, not_after TEXT NOT NULL, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS changes (
    version {serial}, kind TEXT NOT NULL, key TEXT NOT NULL, store_id TEXT
);
CREATE INDEX IF NOT EXISTS changes_store ON changes(store_id, version);
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_V2 = """
CREATE TABLE IF NOT EXISTS presence_identities (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, kind TEXT NOT NULL, beacon_key TEXT,
    eid_identity_key TEXT, eid_rotation_exponent INTEGER, eid_clock_offset_s BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS presence_identities_customer ON presence_identities(customer_id);
CREATE TABLE IF NOT EXISTS store_beacons (
    store_id TEXT NOT NULL, beacon_key TEXT NOT NULL, zone TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL, PRIMARY KEY (store_id, beacon_key)
);
CREATE INDEX IF NOT EXISTS store_beacons_key ON store_beacons(beacon_key);
CREATE TABLE IF NOT EXISTS presence_rules (
    store_id TEXT NOT NULL, campaign_id TEXT NOT NULL, rule TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (store_id, campaign_id)
);
CREATE TABLE IF NOT EXISTS sightings (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, store_id TEXT NOT NULL, zone TEXT NOT NULL, beacon_key TEXT,
    kind TEXT NOT NULL, seen_at TEXT NOT NULL, received_at TEXT NOT NULL, forwarded INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS presence_visits (
    visit_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, store_id TEXT NOT NULL, device_id TEXT NOT NULL,
    customer_id TEXT, zone TEXT NOT NULL, entered_at TEXT, exited_at TEXT, dwell_s DOUBLE PRECISION,
    source TEXT, received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS presence_anonymous_counts (
    event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, device_id TEXT NOT NULL, bucket_start TEXT NOT NULL,
    zone TEXT NOT NULL, devices BIGINT NOT NULL, received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS presence_analytics (
    event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, device_id TEXT NOT NULL, since TEXT, until TEXT,
    summary TEXT NOT NULL, received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS token_sightings (
    store_id TEXT NOT NULL, till_id TEXT NOT NULL, token_hash TEXT NOT NULL, customer_id TEXT NOT NULL,
    seen_at TEXT NOT NULL, expires_at TEXT NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (store_id, till_id, token_hash)
);
"""

_SERIAL = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    script = (_V1 + _V2).replace("{serial}", _SERIAL[dialect])
    for statement in (s.strip() for s in script.split(";")):
        if statement:
            op.execute(statement)
    op.execute("INSERT INTO config (key, value) VALUES ('schema_version', '1') ON CONFLICT DO NOTHING")


def downgrade() -> None:
    raise NotImplementedError("v0.1 is the first revision; restore a backup to go further back")
