"""Versioned schema migrations. Append only: never edit a migration that has shipped.

Invariants the schema enforces:
- money is integer cents, VAT rates are basis points (2100 = 21 %);
- the points ledger is append-only (triggers refuse UPDATE and DELETE); confirmations by the hub live in
  ``ledger_confirmations`` so the ledger itself never changes;
- the outbox is the only way data leaves the device; its ``seq`` is the per-device sequence number.
"""

from __future__ import annotations

V1 = """
CREATE TABLE products (
    gtin TEXT PRIMARY KEY CHECK (length(gtin) = 14),
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    vat_rate_bp INTEGER NOT NULL CHECK (vat_rate_bp BETWEEN 0 AND 10000),
    category TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX products_name ON products(name COLLATE NOCASE);
CREATE INDEX products_category ON products(category);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    card_number TEXT UNIQUE,
    display_name TEXT NOT NULL,
    -- phone and e-mail are kept only as salted hashes: the till can look a customer up, never list them
    phone_hash TEXT,
    email_hash TEXT,
    tier TEXT NOT NULL DEFAULT 'Bronze',
    confirmed_points INTEGER NOT NULL DEFAULT 0,
    spend_12m_cents INTEGER NOT NULL DEFAULT 0,
    consents TEXT NOT NULL DEFAULT '{}',
    birthday TEXT,
    preferences TEXT NOT NULL DEFAULT '{}',
    recent_purchases TEXT NOT NULL DEFAULT '[]',
    pickup_orders TEXT NOT NULL DEFAULT '[]',
    rewards TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX customers_phone ON customers(phone_hash);
CREATE INDEX customers_email ON customers(email_hash);

CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('percent_off', 'amount_off_basket', 'buy_x_get_y', 'points_multiplier')),
    name TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    priority INTEGER NOT NULL DEFAULT 0,
    stackable INTEGER NOT NULL DEFAULT 0,
    tiers TEXT NOT NULL DEFAULT '[]',
    customer_id TEXT REFERENCES customers(id),
    requires_coupon INTEGER NOT NULL DEFAULT 0,
    birthday_month INTEGER NOT NULL DEFAULT 0,
    valid_from TEXT,
    valid_until TEXT,
    source TEXT NOT NULL DEFAULT 'hub',
    active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX offers_customer ON offers(customer_id);

CREATE TABLE coupons (
    code TEXT PRIMARY KEY,
    offer_id TEXT NOT NULL REFERENCES offers(id),
    customer_id TEXT REFERENCES customers(id),
    single_use INTEGER NOT NULL DEFAULT 1,
    redeemed_at TEXT,
    redeemed_sale_id TEXT
);

CREATE TABLE sales (
    id TEXT PRIMARY KEY,
    customer_id TEXT REFERENCES customers(id),
    created_at TEXT NOT NULL,
    subtotal_cents INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL DEFAULT 0,
    points_value_cents INTEGER NOT NULL DEFAULT 0,
    total_cents INTEGER NOT NULL,
    vat_cents INTEGER NOT NULL,
    payment_method TEXT NOT NULL CHECK (payment_method IN ('cash', 'card')),
    tendered_cents INTEGER,
    points_earned INTEGER NOT NULL DEFAULT 0,
    receipt TEXT NOT NULL
);
CREATE INDEX sales_customer ON sales(customer_id, created_at);

-- WITHOUT ROWID and no extra indexes: a sale is on the till's critical path, and every page a commit
-- touches is written twice (WAL, then checkpoint) on an SD card
CREATE TABLE sale_lines (
    sale_id TEXT NOT NULL REFERENCES sales(id),
    line_no INTEGER NOT NULL,
    gtin TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty > 0),
    unit_price_cents INTEGER NOT NULL,
    gross_cents INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    vat_rate_bp INTEGER NOT NULL,
    PRIMARY KEY (sale_id, line_no)
) WITHOUT ROWID;

CREATE TABLE sale_discounts (
    sale_id TEXT NOT NULL REFERENCES sales(id),
    n INTEGER NOT NULL,
    line_no INTEGER,
    offer_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    reason TEXT NOT NULL,
    PRIMARY KEY (sale_id, n)
) WITHOUT ROWID;

CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY,  -- rows are never deleted, so plain rowid order is creation order
    entry_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL CHECK (kind IN ('earn', 'burn')),
    points INTEGER NOT NULL CHECK (points > 0),
    sale_id TEXT REFERENCES sales(id),
    reason TEXT NOT NULL,
    offline INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX ledger_customer ON ledger(customer_id, created_at);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the points ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the points ledger is append-only'); END;

-- the hub confirmed these entries: they are part of customers.confirmed_points, no longer pending
CREATE TABLE ledger_confirmations (
    entry_id TEXT PRIMARY KEY REFERENCES ledger(entry_id),
    confirmed_at TEXT NOT NULL
);

CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    sale_id TEXT REFERENCES sales(id),
    customer_id TEXT REFERENCES customers(id),
    score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
    created_at TEXT NOT NULL
);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    device_time TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'acked', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    acked_at TEXT
);
CREATE INDEX outbox_state ON outbox(state, seq);

CREATE TABLE sync_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

V2 = """
-- weighed and priced in-store items (scale labels, prefixes 02/20-29) are found by their item reference;
-- for unit 'kg' price_cents is the price per kilogram
ALTER TABLE products ADD COLUMN item_reference TEXT;
ALTER TABLE products ADD COLUMN unit TEXT NOT NULL DEFAULT 'each' CHECK (unit IN ('each', 'kg'));
CREATE INDEX products_item_reference ON products(item_reference);

-- public keys of the hub's loyalty-token signers, pulled from the hub; app QR codes are verified offline
CREATE TABLE token_keys (
    kid TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    not_after TEXT
);

-- loyalty app codes seen at this store's tills: the same code at another till within its window is a copy
CREATE TABLE token_sightings (
    token_hash TEXT NOT NULL,
    till_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (token_hash, till_id)
);
"""

# Presence (BLE): consent-filtered identities, store beacons, rules, issued offers, visits, anonymous counts.
V3 = """
-- Consent-filtered beacon registry pushed by the hub: a customer's registered tags and the loyalty app's
-- Eddystone-EID identity key. Rows are only *used* while customers.consents has "location": true; the hub
-- deletes them when consent is withdrawn. eid_identity_key is a secret (hex, 16 bytes).
CREATE TABLE IF NOT EXISTS presence_identities (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('ibeacon', 'eddystone-uid', 'altbeacon', 'eid')),
    beacon_key TEXT,
    eid_identity_key TEXT CHECK (eid_identity_key IS NULL OR length(eid_identity_key) = 32),
    eid_rotation_exponent INTEGER CHECK (eid_rotation_exponent IS NULL OR eid_rotation_exponent BETWEEN 0 AND 15),
    eid_clock_offset_s INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK ((kind = 'eid') = (eid_identity_key IS NOT NULL)),
    CHECK ((kind = 'eid') OR beacon_key IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS presence_identities_customer ON presence_identities(customer_id);

-- Fixed store beacons (zone markers, technicians' calibration); also resolves hub sightings by beacon.
CREATE TABLE IF NOT EXISTS store_beacons (
    beacon_key TEXT PRIMARY KEY,
    zone TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT ''
);

-- Presence rules (campaigns) as JSON objects, see edge.core.presence_offers.rule_from_dict.
CREATE TABLE IF NOT EXISTS presence_rules (
    campaign_id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One row per personal offer issued by presence: the frequency cap and the conversion analytics read it.
CREATE TABLE IF NOT EXISTS presence_offers_issued (
    offer_id TEXT PRIMARY KEY REFERENCES offers(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    campaign_id TEXT NOT NULL,
    zone TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('enter', 'dwell')),
    issued_at TEXT NOT NULL,
    valid_until TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS presence_offers_cap ON presence_offers_issued(customer_id, campaign_id, issued_at);

-- Aggregated visits of consenting customers (one row per zone visit, never per advert; no MAC addresses).
CREATE TABLE IF NOT EXISTS presence_visits (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    zone TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    exited_at TEXT NOT NULL,
    dwell_s REAL NOT NULL CHECK (dwell_s >= 0),
    source TEXT NOT NULL CHECK (source IN ('ble', 'hub'))
);
CREATE INDEX IF NOT EXISTS presence_visits_zone ON presence_visits(zone, entered_at);

-- Distinct non-consenting devices per hour and zone: a count only.
CREATE TABLE IF NOT EXISTS presence_anonymous_counts (
    bucket_start TEXT NOT NULL,
    zone TEXT NOT NULL,
    devices INTEGER NOT NULL CHECK (devices >= 0),
    PRIMARY KEY (bucket_start, zone)
);
"""

# Hub-relayed app sightings (iOS background path: a store iBeacon woke the app, the app reported it to the hub,
# the hub passed it on in the pull stream). A queue: the presence runner feeds each row to the same engine as
# BLE adverts, then deletes it. Only customers with location consent are relayed by the hub.
V4 = """
CREATE TABLE presence_sightings (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    zone TEXT,
    beacon_key TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('enter', 'exit')),
    seen_at TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""

# Parked (held) sales: a basket the cashier set aside to serve someone else, recalled later - also after a
# restart. Local to this till: a parked basket is not a sale, nothing goes to the outbox. ``basket`` is JSON
# (see edge.store.parked): the lines as they were rung up (price included), coupons, points and the customer.
V5 = """
CREATE TABLE parked_sales (
    id TEXT PRIMARY KEY,
    parked_at TEXT NOT NULL,
    customer_id TEXT,
    label TEXT NOT NULL,
    items INTEGER NOT NULL CHECK (items >= 0),
    total_cents INTEGER NOT NULL,
    basket TEXT NOT NULL CHECK (json_valid(basket))
);
CREATE INDEX parked_sales_time ON parked_sales(parked_at);
"""

# The points each sale line earned: the order's points are rounded once and allocated to its lines by largest
# remainder (edge.core.money rule 4); a line's share is kept with it so that returning the line reverses exactly
# that share. Sales written before this version earned per line and read 0 here.
V6 = """
ALTER TABLE sale_lines ADD COLUMN points INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0);
"""

# The points part of a member's profile as the hub sends it (edge.core.programme.PointsSummary as JSON): lifetime
# earned/spent/expired, lots still in their pending period, the next expiry dates. The programme's rules
# themselves arrive in sync_state ('programme', sync/apply.py).
V7 = """
ALTER TABLE customers ADD COLUMN points_summary TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(points_summary));
"""

# A guest sale taken while the hub could not be asked who the member was carries a receipt claim code
# (edge.core.claims): printed on its receipt and sent with ``sale.completed``, so the member can claim the
# points later at any till or in the app. NULL on every other sale.
V8 = """
ALTER TABLE sales ADD COLUMN claim_code TEXT;
"""

# The reward catalogue pulled from the hub, and the rewards claimed at this till: a claim is a ledger burn (its
# entry id is the claim id, so the hub's confirmation clears it), a ``reward_claims`` row and, for a coupon
# reward, the member's single-use coupon - one transaction with its ``reward.claimed`` event (edge/store/rewards.py).
V9 = """
CREATE TABLE rewards (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('product', 'amount_off', 'coupon')),
    points INTEGER NOT NULL CHECK (points > 0),
    gtin TEXT,
    amount_cents INTEGER,
    offer_id TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE reward_claims (
    claim_id TEXT PRIMARY KEY REFERENCES ledger(entry_id),
    reward_id TEXT NOT NULL,
    name TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    points INTEGER NOT NULL CHECK (points > 0),
    coupon_code TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX reward_claims_customer ON reward_claims(customer_id, created_at);
-- usage limits of an offer (edge.core.contract.offer_limits_problem) with the hub's count of its uses, and each
-- member's uses of offers limited per member, as the hub counted them: the till adds its unsent sales
ALTER TABLE offers ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN offer_uses TEXT NOT NULL DEFAULT '{}';
"""

MIGRATIONS: list[tuple[int, str]] = [
    (1, V1),
    (2, V2),
    (3, V3),
    (4, V4),
    (5, V5),
    (6, V6),
    (7, V7),
    (8, V8),
    (9, V9),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]
