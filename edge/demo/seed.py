"""Seed a demo store: >= 200 products with valid GTINs, >= 50 customers across tiers, every kind of offer.

Deterministic for a given seed so the README walk-through and the tests can name real products and customers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import sqlite_utils

from devices.barcode.loyalty_card import luhn_check_digit
from edge.core.catalog import with_check_digit
from edge.core.contacts import contact_hash
from edge.core.contract import reward_offer_id
from edge.demo import spanish as es

CATEGORIES: dict[str, tuple[int, list[str]]] = {
    # category: (VAT basis points, product stems)
    "Dairy": (900, ["Whole Milk 1L", "Semi-Skimmed Milk 1L", "Greek Yoghurt 500g", "Butter 250g", "Gouda 400g",
                    "Cheddar 200g", "Cream 200ml", "Skyr 450g", "Mozzarella 125g", "Kefir 500ml"]),
    "Bakery": (900, ["Sourdough Loaf", "Wholemeal Bread", "Croissant", "Baguette", "Rye Bread", "Brioche",
                     "Bagels 4-pack", "Cinnamon Roll", "Pita 6-pack", "Focaccia"]),
    "Produce": (900, ["Bananas 1kg", "Apples Elstar 1kg", "Tomatoes 500g", "Cucumber", "Avocado", "Lemons 4-pack",
                      "Carrots 1kg", "Spinach 200g", "Strawberries 400g", "Potatoes 2kg"]),
    "Beverages": (2100, ["Sparkling Water 1.5L", "Orange Juice 1L", "Cola 1.5L", "Ground Coffee 250g",
                         "Green Tea 20 bags", "Apple Juice 1L", "Lemonade 1L", "Espresso Beans 500g",
                         "Iced Tea 1.5L", "Oat Drink 1L"]),
    "Snacks": (900, ["Salted Crisps 200g", "Dark Chocolate 100g", "Milk Chocolate 100g", "Mixed Nuts 200g",
                     "Stroopwafels", "Popcorn 150g", "Granola Bar", "Pretzels 250g", "Rice Cakes", "Licorice 300g"]),
    "Household": (2100, ["Dish Soap 500ml", "Laundry Liquid 1.5L", "Paper Towels 4-pack", "Toilet Paper 8-pack",
                         "Sponges 3-pack", "Bin Bags 20", "Glass Cleaner", "Dishwasher Tabs 30",
                         "Fabric Softener 1L", "Kitchen Foil"]),
    "Personal Care": (2100, ["Shampoo 250ml", "Toothpaste 75ml", "Shower Gel 250ml", "Deodorant", "Hand Soap",
                             "Razor Blades 4", "Sunscreen SPF30", "Body Lotion", "Cotton Pads", "Lip Balm"]),
}
VARIANTS = ["", " Organic", " Family Size"]
FIRST = ["Anna", "Bram", "Chloe", "Daan", "Emma", "Finn", "Greta", "Hugo", "Iris", "Jens", "Kiki", "Lars", "Mila",
         "Noah", "Olga", "Pim", "Quinn", "Rosa", "Sem", "Tess", "Umar", "Vera", "Wim", "Xena", "Yara", "Zeno"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters", "Hendriks",
        "Dekker", "Brouwer", "de Boer", "Kok"]

DEMO_GTIN_PREFIX = "871"  # product numbers issued to the demo retailer


def demo_gtin(n: int) -> str:
    return "0" + with_check_digit(f"{DEMO_GTIN_PREFIX}{n:09d}")


def demo_card(n: int) -> str:
    """Loyalty card numbers: 16 digits starting 6009, Luhn check digit (the card pattern in settings)."""
    body = f"6009{n:011d}"
    return body + str(luhn_check_digit(body))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _products(rng: random.Random) -> list[dict[str, Any]]:
    """210 packaged products (7 categories x 10 stems x 3 variants) and 4 weighed at the counters."""
    products: list[dict[str, Any]] = []
    n = 1
    for category, (vat, stems) in CATEGORIES.items():
        for stem in stems:
            for variant in VARIANTS:
                base = rng.randint(79, 1299)
                price = base + (60 if variant == " Organic" else 0) + (150 if variant == " Family Size" else 0)
                products.append({"gtin": demo_gtin(n), "name": f"{stem}{variant}".strip(),
                                 "price_cents": price - price % 5 + 4 if price % 5 else price - 1,
                                 "vat_rate_bp": vat, "category": category})  # fmt: skip
                n += 1
    # weighed at the deli and produce counters: price per kg, found by the item reference on the scale label
    for ref, name, per_kg, category in [("00101", "Old Gouda", 1890, "Deli"), ("00102", "Serrano Ham", 3290, "Deli"),
                                        ("00103", "Olives Mix", 1450, "Deli"), ("00104", "Loose Tomatoes", 399,
                                        "Produce")]:  # fmt: skip
        products.append({"gtin": "0" + with_check_digit(f"28{ref}00000"), "name": f"{name} (per kg)",
                         "price_cents": per_kg, "vat_rate_bp": 900, "category": category, "item_reference": ref,
                         "unit": "kg"})  # fmt: skip
    return products


def _purchases(rng: random.Random, i: int, products: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Customer ``i``'s recent purchases in the store, on the web and in the app, newest first."""
    purchases = []
    for k in range(rng.randint(1, 4)):
        p = rng.choice(products)
        when = now - timedelta(days=rng.randint(1, 90))
        channel = rng.choice(["store", "web", "app"])
        qty = rng.randint(1, 3)
        purchases.append({"channel": channel, "id": f"{channel.upper()}-{i}-{k}", "store_id": None,
                          "total_cents": p["price_cents"] * qty, "created_at": _iso(when),
                          "items": [{"gtin": p["gtin"], "name": p["name"], "qty": qty}]})  # fmt: skip
    purchases.sort(key=lambda x: x["created_at"], reverse=True)
    return purchases


def _pickups(rng: random.Random, i: int, products: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A web order ready for pickup for every sixth customer."""
    if i % 6:
        return []
    count = rng.randint(1, 6)
    ready = now - timedelta(hours=rng.randint(1, 48))
    items = [products[(i * 7 + k) % len(products)] for k in range(count)]
    return [{"order_id": f"WEB-{10_000 + i}", "status": "ready",
             "total_cents": sum(int(str(x["price_cents"])) for x in items), "created_at": _iso(ready),
             "items": [{"gtin": x["gtin"], "name": x["name"], "qty": 1} for x in items]}]  # fmt: skip


def _customers(rng: random.Random, products: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """54 customers: 25 Bronze, 17 Silver, 12 Gold; C1001 holds 1,500 points; every other one consents to
    location; every tenth has a birthday this month."""
    customers: list[dict[str, Any]] = []
    tiers = ["Bronze"] * 25 + ["Silver"] * 17 + ["Gold"] * 12
    for i, tier in enumerate(tiers, start=1):
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        spend = {"Bronze": rng.randint(0, 49_999), "Silver": rng.randint(50_000, 149_999),
                 "Gold": rng.randint(150_000, 400_000)}[tier]  # fmt: skip
        birthday = date(rng.randint(1950, 2004), now.month if i % 10 == 0 else rng.randint(1, 12), rng.randint(1, 28))
        purchases = _purchases(rng, i, products, now)
        pickups = _pickups(rng, i, products, now)
        rewards = []
        if tier == "Gold":
            rewards.append({"name": "Free coffee", "expires": (now + timedelta(days=30)).strftime("%Y-%m-%d")})
        customers.append({
            "id": f"C{1000 + i}", "card_number": demo_card(i), "display_name": f"{first} {last}",
            "phone_hash": contact_hash("phone", f"06{12345600 + i}", "NL"),
            "email_hash": contact_hash("email", f"{first.lower()}.{i}@example.com"),
            "tier": tier, "confirmed_points": rng.randint(0, 5_000) if i != 1 else 1_500, "spend_12m_cents": spend,
            "consents": json.dumps({"marketing": i % 3 != 0, "location": i % 2 == 0}),
            "birthday": birthday.isoformat(), "preferences": json.dumps({"receipt": "paper" if i % 4 else "email"}),
            "recent_purchases": json.dumps(purchases), "pickup_orders": json.dumps(pickups),
            "rewards": json.dumps(rewards),
        })  # fmt: skip
    return customers


def _offers(products: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Every kind of offer (``edge.core.contract.OFFER_KINDS``), tier, coupon and personal ones (the birthday gift
    is a single-use coupon the hub issues: ``hub issue-birthday-coupons``)."""
    dairy_milk = [products[0]["gtin"], products[3]["gtin"]]
    in_a_month = (now + timedelta(days=30)).isoformat()
    offers: list[dict[str, Any]] = [
        {"id": "OFF-DAIRY10", "kind": "percent_off", "name": "Dairy week", "params": {"percent": 10, "category": "Dairy"}},
        {"id": "OFF-MILK20", "kind": "percent_off", "name": "Milk deal", "params": {"percent": 20, "gtins": dairy_milk},
         "priority": 5},
        {"id": "OFF-SNACK3FOR2", "kind": "buy_x_get_y", "name": "Snacks 3 for 2",
         "params": {"buy": 2, "get": 1, "category": "Snacks"}},
        {"id": "OFF-BASKET5", "kind": "amount_off_basket", "name": "Big shop",
         "params": {"amount_cents": 500, "threshold_cents": 5000}},
        {"id": "OFF-2XBAKERY", "kind": "points_multiplier", "name": "Double points on bakery",
         "params": {"multiplier": 2, "category": "Bakery"}},
        {"id": "OFF-GOLD15", "kind": "percent_off", "name": "Gold members", "params": {"percent": 15,
         "category": "Personal Care"}, "tiers": ["Gold"]},
        {"id": "OFF-COUPON3", "kind": "amount_off_basket", "name": "Coupon", "params": {"amount_cents": 300,
         "threshold_cents": 1500}, "requires_coupon": 1, "stackable": 1, "valid_until": in_a_month},
        {"id": "OFF-PERSONAL-C1001", "kind": "percent_off", "name": "Welcome back",
         "params": {"percent": 25, "category": "Beverages"}, "customer_id": "C1001", "source": "hub",
         "valid_until": (now + timedelta(minutes=60)).isoformat()},
    ]  # fmt: skip
    for o in offers:
        o["params"] = json.dumps(o["params"])
        o["tiers"] = json.dumps(o.get("tiers", []))
    return offers


def demo_dataset(seed: int = 7, now: datetime | None = None, locale: str = "en") -> dict[str, list[dict[str, Any]]]:
    """The demo store's data, in the edge database's shapes (JSON columns as text): ``products``,
    ``customers``, ``offers``, ``coupons``. Deterministic for a ``seed`` (dates relative to ``now``).
    ``locale`` ``es``: the Spanish variant (``edge.demo.spanish``), the same data read in Spanish."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    products = _products(rng)
    customers = _customers(rng, products, now)
    coupons: list[dict[str, Any]] = [
        {"code": "SAVE3-ALPHA", "offer_id": "OFF-COUPON3", "customer_id": None, "single_use": 1},
        {"code": "SAVE3-BRAVO", "offer_id": "OFF-COUPON3", "customer_id": None, "single_use": 1},
        {"code": "SAVE3-C1001", "offer_id": "OFF-COUPON3", "customer_id": "C1001", "single_use": 1},
    ]
    # packed and weighed before sale: a GS1-128 / DataBar label gives its net weight in AI 310n (GS1's example GTIN)
    products.append({"gtin": "09506000134352", "name": "Smoked Salmon (per kg)", "price_cents": 2990,
                     "vat_rate_bp": 900, "category": "Deli", "unit": "kg"})  # fmt: skip
    offers = _offers(products, now)
    offers.append({"id": reward_offer_id("five-off"), "kind": "amount_off_basket", "name": "EUR 5 off",
                   "params": json.dumps({"amount_cents": 500, "threshold_cents": 0}), "tiers": "[]",
                   "requires_coupon": 1, "stackable": 1})
    data = {"products": products, "customers": customers, "offers": offers, "coupons": coupons, "rewards": _rewards()}
    return es.localise_dataset(data) if locale.lower().startswith("es") else data


def seed_demo(db: sqlite_utils.Database, seed: int = 7, now: datetime | None = None,
              locale: str = "en") -> dict[str, int]:
    """Write the demo store straight into an edge database (the offline demo and the tests)."""
    data = demo_dataset(seed, now, locale)
    with db.atomic():
        for table in ("products", "customers", "offers", "coupons", "rewards"):
            rows = [{**row} for row in data[table]]
            columns = sorted({k for row in rows for k in row})
            db.conn.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [[row.get(c) for c in columns] for row in rows],
            )
    return {table: len(rows) for table, rows in data.items()}


DEMO_STORE_ID = "demo-store"  # the store id of a fresh till's settings (edge.settings)
DEMO_DEVICE_ID = "till-1"


class HubSeedTarget(Protocol):
    """What seeding needs of a hub (``sync.hub.storage.HubStorage`` has it); the demo never imports the hub."""

    def create_store(self, store_id: str, name: str | None = None, *, locale: str | None = None,
                     currency: str | None = None, timezone: str | None = None) -> None: ...
    def upsert_products(self, rows: Iterable[dict[str, Any]]) -> int: ...
    def upsert_customer(self, data: dict[str, Any]) -> None: ...
    def adjust_balance(self, customer_id: str, points: int, reason: str) -> None: ...
    def record_order(self, order: dict[str, Any]) -> bool: ...
    def upsert_offer(self, data: dict[str, Any]) -> None: ...
    def create_coupon(self, code: str, offer_id: str, customer_id: str | None = None,
                      single_use: bool = True) -> None: ...
    def ensure_signing_key(self) -> str: ...
    def add_reward(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def create_device(self, store_id: str, device_id: str, *, code_ttl_hours: float = 72.0) -> str: ...


def hub_dataset(store_id: str, seed: int = 7, now: datetime | None = None, locale: str = "en") -> dict[str, Any]:
    """The one demo dataset in the hub's shapes: plain JSON-able data, the same store ``demo_dataset`` gives the
    edge. Keys: ``store`` ({id, name}), ``products``, ``customers`` (profiles without points),
    ``balances`` ([customer id, points, reason]), ``orders`` (past purchases and pickups), ``offers``
    (params and tiers decoded), ``coupons`` ({code, offer_id, customer_id, single_use})."""
    data = demo_dataset(seed, now, locale)
    customers, balances, orders = [], [], []
    for c in data["customers"]:
        customers.append({
            **{k: c[k] for k in ("id", "card_number", "display_name", "phone_hash", "email_hash", "tier",
                                 "spend_12m_cents", "birthday")},
            "consents": json.loads(c["consents"]), "preferences": json.loads(c["preferences"]),
            "rewards": json.loads(c["rewards"]), "home_store_id": store_id,
        })  # fmt: skip
        balances.append([c["id"], c["confirmed_points"], "opening balance"])
        for order in json.loads(c["recent_purchases"]):
            orders.append({"order_id": order["id"], "customer_id": c["id"], "channel": order["channel"],
                           "total_cents": order["total_cents"], "status": "collected",
                           "lines": order["items"], "created_at": order["created_at"]})  # fmt: skip
        for order in json.loads(c["pickup_orders"]):
            orders.append({"order_id": order["order_id"], "customer_id": c["id"], "channel": "web",
                           "total_cents": order["total_cents"], "status": "ready",
                           "pickup_store_id": store_id, "lines": order["items"],
                           "created_at": order["created_at"]})  # fmt: skip
    return {
        "store": ({"id": store_id, **{k: es.STORE[k] for k in ("name", "locale", "currency", "timezone")}}
                  if locale.lower().startswith("es") else {"id": store_id, "name": "Demo Store"}),
        "products": [dict(p) for p in data["products"]],
        "customers": customers,
        "balances": balances,
        "orders": orders,
        "offers": [{**o, "params": json.loads(o["params"]), "tiers": json.loads(o["tiers"])} for o in data["offers"]],
        "coupons": [{"code": cp["code"], "offer_id": cp["offer_id"], "customer_id": cp["customer_id"],
                     "single_use": bool(cp["single_use"])} for cp in data["coupons"]],
        "rewards": [{k: v for k, v in r.items() if v is not None} for r in data["rewards"]],
    }


OTHER_STORE_MEMBER = "N2001"  # the demo hub's member of another store (card demo_card(2001))


def _rewards() -> list[dict[str, Any]]:
    """The demo's reward catalogue (``edge.core.contract.RewardKind``): a product (Ground Coffee 250g) and a
    fixed amount off, whose offer (``reward-five-off``, needs its coupon) the hub makes for it."""
    return [{"id": "free-coffee", "kind": "product", "name": "Free coffee", "points": 500, "gtin": "08710000001007",
             "amount_cents": None, "offer_id": None},
            {"id": "five-off", "kind": "amount_off", "name": "EUR 5 off", "points": 800, "gtin": None,
             "amount_cents": 500, "offer_id": reward_offer_id("five-off")}]


def seed_hub(storage: HubSeedTarget, store_id: str, seed: int = 7, now: datetime | None = None,
             locale: str = "en") -> None:
    """Give a hub (``sync.hub.storage.HubStorage``) the demo store of ``hub_dataset``, so a till pulls it;
    and a signing key for app codes. Customers are written before their balances and orders."""
    data = hub_dataset(store_id, seed, now, locale)
    store = data["store"]
    storage.create_store(store["id"], store["name"], locale=store.get("locale"), currency=store.get("currency"),
                         timezone=store.get("timezone"))  # the Spanish store's tills get es_ES from the hub
    storage.upsert_products(data["products"])
    for customer in data["customers"]:
        storage.upsert_customer(customer)
    for customer_id, points, reason in data["balances"]:
        storage.adjust_balance(customer_id, points, reason)
    for order in data["orders"]:
        storage.record_order(order)
    for offer in data["offers"]:
        storage.upsert_offer(offer)
    for cp in data["coupons"]:
        storage.create_coupon(cp["code"], cp["offer_id"], cp["customer_id"], cp["single_use"])
    # a member of another store, never sent to this one: the till finds her at the hub (README walk-through)
    storage.create_store(f"{store_id}-north", "Demo Store North")
    storage.upsert_customer({"id": OTHER_STORE_MEMBER, "display_name": "Noor Visser", "card_number": demo_card(2001),
                             "tier": "Silver", "home_store_id": f"{store_id}-north"})
    storage.adjust_balance(OTHER_STORE_MEMBER, 800, "opening balance")
    for reward in data["rewards"]:
        storage.add_reward(reward)
    storage.ensure_signing_key()


def seed_demo_hub(storage: HubSeedTarget, store_id: str = DEMO_STORE_ID, device_id: str = DEMO_DEVICE_ID,
                  seed: int = 7) -> str:
    """``seed_hub`` plus the till ``device_id``; returns its one-time enrolment code (``hub seed-demo``)."""
    seed_hub(storage, store_id, seed)
    return storage.create_device(store_id, device_id)
