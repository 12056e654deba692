"""Web and app orders earn and burn by the till's rules (issue 15 item 2), over HTTP on 127.0.0.1 on both
engines: the EUR 2,500 order earns and adds spend, points rounded once per order (10 x EUR 1.49), burns and
coupons by the till's rules, cancellation and returns reverse exactly their share, re-posts change nothing, and
every hostile line is refused with its line and field named."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from sync.hub.tables import coupons, customers, ledger

LAPTOP, BREAD, WINE = "4000000000011", "4000000000028", "4000000000035"
PRODUCTS = [
    {"gtin": LAPTOP, "name": "Laptop", "price_cents": 250_000, "vat_rate_bp": 2100, "category": "Electronics"},
    {"gtin": BREAD, "name": "Bread", "price_cents": 149, "vat_rate_bp": 900, "category": "Bakery"},
    {"gtin": WINE, "name": "Wine", "price_cents": 1_000, "vat_rate_bp": 2100, "category": "Wine"},
]


class Shop:
    """The web shop's view of the hub: an API key with the ``orders`` scope."""

    def __init__(self, hub: HubServer) -> None:
        self.hub, self.storage = hub, hub.storage
        self.headers = {"Authorization": f"Bearer {hub.storage.create_api_key('webshop')}"}

    def order(self, order_id: str, lines: list[dict[str, Any]], total: int, **extra: Any) -> httpx.Response:
        doc = {"order_id": order_id, "customer_id": "ada", "channel": "web", "total_cents": total, "lines": lines,
               **extra}
        return httpx.post(f"{self.hub.url}/v1/orders", json=doc, headers=self.headers)

    def cancel(self, order_id: str) -> httpx.Response:
        return httpx.post(f"{self.hub.url}/v1/orders/{order_id}/cancel", headers=self.headers)

    def give_back(self, order_id: str, return_id: str, lines: list[tuple[int, int]]) -> httpx.Response:
        return httpx.post(f"{self.hub.url}/v1/orders/{order_id}/returns", headers=self.headers,
                          json={"return_id": return_id, "lines": [{"line_no": n, "qty": q} for n, q in lines]})

    def spend(self, customer_id: str = "ada") -> int:
        with self.storage.read() as conn:
            return int(conn.execute(select(customers.c.spend_12m_cents).where(customers.c.id == customer_id)).scalar())

    def ledger_rows(self, customer_id: str = "ada") -> list[dict[str, Any]]:
        with self.storage.read() as conn:
            rows = conn.execute(select(ledger.c.kind, ledger.c.points, ledger.c.reason, ledger.c.source,
                                       ledger.c.store_id).where(ledger.c.customer_id == customer_id)
                                .order_by(ledger.c.applied_at, ledger.c.entry_id))
            return [dict(r._mapping) for r in rows]


def line(gtin: str, qty: int, price: int, **extra: Any) -> dict[str, Any]:
    return {"gtin": gtin, "qty": qty, "unit_price_cents": price, **extra}


def breads(n: int = 10) -> list[dict[str, Any]]:
    return [line(BREAD, 1, 149, line_no=i) for i in range(1, n + 1)]


def _open_shop(hub: HubServer) -> Shop:
    st: HubStorage = hub.storage
    st.create_store("s1")
    st.create_store("s2")
    st.upsert_products(PRODUCTS)
    st.upsert_customer({"id": "ada", "display_name": "Ada", "home_store_id": "s1"})
    st.upsert_customer({"id": "bob", "display_name": "Bob", "home_store_id": "s1"})
    st.adjust_balance("ada", 1_000, "opening balance")
    return Shop(hub)


@pytest.fixture
def shop(hub: HubServer) -> Shop:
    return _open_shop(hub)


def test_a_2500_euro_web_order_earns_and_adds_spend_once(shop: Shop) -> None:
    placed = shop.order("W-2500", [line(LAPTOP, 1, 250_000)], 250_000)
    assert placed.status_code == 201, placed.text
    assert placed.json()["points_earned"] == 2_500 and placed.json()["balance"] == 3_500
    assert shop.storage.balance("ada") == 3_500 and shop.spend() == 250_000
    assert shop.ledger_rows()[-1] == {"kind": "earn", "points": 2_500, "reason": "web order",
                                      "source": "order:W-2500", "store_id": "web"}
    again = shop.order("W-2500", [line(LAPTOP, 1, 250_000)], 250_000)
    assert again.status_code == 200 and again.json()["recorded"] is False and again.json()["points_earned"] == 2_500
    assert shop.storage.balance("ada") == 3_500 and shop.spend() == 250_000 and len(shop.ledger_rows()) == 2
    taken = httpx.post(f"{shop.hub.url}/v1/orders", headers=shop.headers, json={
        "order_id": "W-2500", "customer_id": "bob", "channel": "web", "total_cents": 149, "lines": [line(BREAD, 1, 149)]})
    assert taken.status_code == 409 and "another customer" in taken.json()["message"]


def test_ten_lines_of_1_49_earn_14_bronze_18_silver_and_a_return_reverses_its_line_share(shop: Shop) -> None:
    bronze = shop.order("W-B", breads(), 1_490)
    assert bronze.status_code == 201 and bronze.json()["points_earned"] == 14
    shares = [ln["points"] for ln in bronze.json()["lines"]]
    assert shares == [2, 2, 2, 2, 1, 1, 1, 1, 1, 1]  # largest remainder, ties to the earlier line
    shop.storage.upsert_customer({"id": "ada", "tier": "Silver"})
    silver = shop.order("W-S", breads(), 1_490, channel="app")
    assert silver.json()["points_earned"] == 18 and shop.ledger_rows()[-1]["reason"] == "app order"
    balance, spend = shop.storage.balance("ada"), shop.spend()
    first = shop.give_back("W-B", "R-1", [(1, 1)])
    assert first.status_code == 201, first.text
    assert first.json() | {"balance": 0} == {"order_id": "W-B", "return_id": "R-1", "recorded": True,
                                             "points_reversed": 2, "points_refunded": 0, "refund_cents": 149,
                                             "lines": [{"line_no": 1, "qty": 1}], "balance": 0}
    assert shop.storage.balance("ada") == balance - 2 and shop.spend() == spend - 149
    assert shop.ledger_rows()[-1] == {"kind": "burn", "points": 2, "reason": "order return",
                                      "source": "order-return:W-B:R-1", "store_id": "web"}
    assert shop.give_back("W-B", "R-1", [(1, 1)]).json()["recorded"] is False  # re-posted: nothing changes
    assert shop.storage.balance("ada") == balance - 2 and shop.spend() == spend - 149
    twice = shop.give_back("W-B", "R-2", [(1, 1)])
    assert twice.status_code == 422 and "only 0 of the 1 bought remain" in twice.json()["message"]
    rest = shop.give_back("W-B", "R-3", [(n, 1) for n in range(2, 11)])
    assert rest.json()["points_reversed"] == 12  # with line 1: exactly the 14 the order earned
    assert shop.storage.balance("ada") == balance - 14 and shop.spend() == spend - 1_490


def test_partial_units_of_a_line_add_up_to_its_share(shop: Shop) -> None:
    placed = shop.order("W-Q", [line(BREAD, 3, 149), line(WINE, 1, 1_000)], 1_447)
    assert placed.status_code == 201 and [ln["points"] for ln in placed.json()["lines"]] == [4, 10]
    got = [shop.give_back("W-Q", f"R{k}", [(1, 1)]).json()["points_reversed"] for k in range(3)]
    assert sum(got) == 4 and got == [1, 1, 2]


def test_points_burned_on_an_order_follow_the_till_rules(shop: Shop) -> None:
    too_many = shop.order("W-X", [line(LAPTOP, 1, 250_000)], 250_000 - 5_000, points_redeemed=5_000)
    assert too_many.status_code == 409 and too_many.json()["error"] == "insufficient_points"
    assert "spends 5000 points but customer ada has only 1000" in too_many.json()["message"]
    too_few = shop.order("W-X", [line(WINE, 1, 1_000)], 950, points_redeemed=50)
    assert too_few.status_code == 422 and "redeem at least 100 points" in too_few.json()["message"]
    over_share = shop.order("W-X", [line(WINE, 1, 1_000)], 400, points_redeemed=600)
    assert over_share.status_code == 422 and "at most 50%" in over_share.json()["message"]
    assert shop.storage.balance("ada") == 1_000 and shop.ledger_rows()[-1]["source"] == "admin:admin"
    burned = shop.order("W-P", [line(WINE, 2, 1_000)], 1_500, points_redeemed=500)
    assert burned.status_code == 201, burned.text
    assert burned.json()["points_redeemed"] == 500 and burned.json()["points_earned"] == 15  # points earn nothing
    assert shop.storage.balance("ada") == 1_000 - 500 + 15 and shop.spend() == 1_500
    assert [(r["kind"], r["points"]) for r in shop.ledger_rows()[-2:]] == [("burn", 500), ("earn", 15)]
    back = shop.give_back("W-P", "R-1", [(1, 1)])
    assert back.json()["points_refunded"] == 250 and back.json()["points_reversed"] == 7
    assert back.json()["refund_cents"] == 750
    assert shop.storage.balance("ada") == 515 + 250 - 7 and shop.spend() == 750


def test_a_coupon_is_redeemed_once_by_its_customer_and_given_back_on_cancel(shop: Shop) -> None:
    st = shop.storage
    st.upsert_offer({"id": "TEN", "kind": "percent_off", "name": "Ten off", "params": {"percent": 10},
                     "requires_coupon": True})
    st.create_coupon("ADA-10", "TEN", "ada")
    st.create_coupon("BOB-10", "TEN", "bob")
    st.create_coupon("OLD-10", "TEN", None)
    st.revoke_coupon("OLD-10")
    no_coupon = shop.order("W-C", [line(WINE, 1, 1_000)], 900)
    assert no_coupon.status_code == 422 and "prices it at 1000 cents" in no_coupon.json()["message"]
    used = shop.order("W-C", [line(WINE, 1, 1_000)], 900, coupons=["ada-10"])
    assert used.status_code == 201, used.text
    assert used.json()["coupons"] == ["ADA-10"] and used.json()["points_earned"] == 9 and shop.spend() == 900
    again = shop.order("W-D", [line(WINE, 1, 1_000)], 900, coupons=["ADA-10"])
    assert again.status_code == 409 and "already used" in again.json()["message"]
    other = shop.order("W-D", [line(WINE, 1, 1_000)], 900, coupons=["BOB-10"])
    assert other.status_code == 422 and "belongs to another customer" in other.json()["message"]
    revoked = shop.order("W-D", [line(WINE, 1, 1_000)], 900, coupons=["OLD-10"])
    assert revoked.status_code == 422 and "withdrawn" in revoked.json()["message"]
    assert shop.cancel("W-C").json()["cancelled"] is True
    with st.read() as conn:
        assert conn.execute(select(coupons.c.redeemed_at).where(coupons.c.code == "ADA-10")).scalar() is None
    assert shop.order("W-E", [line(WINE, 1, 1_000)], 900, coupons=["ADA-10"]).status_code == 201


def test_cancel_reverses_what_the_returns_left_and_only_once(shop: Shop) -> None:
    placed = shop.order("W-Z", [line(WINE, 2, 1_000), line(BREAD, 1, 149)], 2_149 - 200, points_redeemed=200)
    assert placed.status_code == 201, placed.text
    assert shop.give_back("W-Z", "R-1", [(1, 1)]).status_code == 201
    cancelled = shop.cancel("W-Z")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
    assert shop.storage.balance("ada") == 1_000 and shop.spend() == 0  # everything reversed, exactly
    assert shop.ledger_rows()[-1]["reason"] == "order cancelled"
    assert shop.cancel("W-Z").json()["cancelled"] is False and shop.storage.balance("ada") == 1_000
    late = shop.give_back("W-Z", "R-2", [(2, 1)])
    assert late.status_code == 409 and "was cancelled" in late.json()["message"]
    assert shop.cancel("W-NOPE").status_code == 404


def test_promotion_category_and_tier_multipliers_apply_as_at_the_till(shop: Shop) -> None:
    st = shop.storage
    st.set_config("loyalty_rules", '{"category_multipliers": {"Wine": 2}}')
    st.upsert_offer({"id": "X3", "kind": "points_multiplier", "name": "Triple bread", "params": {"multiplier": 3,
                     "category": "Bakery"}})
    st.upsert_customer({"id": "ada", "tier": "Gold"})
    placed = shop.order("W-M", [line(WINE, 1, 1_000), line(BREAD, 1, 149)], 1_149)
    # wine: 10 x2 category x1.5 Gold = 30; bread: 1.49 x3 promo x1.5 = 6.705; once per order: 36
    assert placed.json()["points_earned"] == 36, placed.text


def test_the_order_store_gets_the_points(shop: Shop) -> None:
    shop.storage.upsert_customer({"id": "cy", "display_name": "Cy"})
    pickup = httpx.post(f"{shop.hub.url}/v1/orders", headers=shop.headers, json={
        "order_id": "P-1", "customer_id": "cy", "channel": "app", "total_cents": 1_000, "pickup_store_id": "s2",
        "lines": [line(WINE, 1, 1_000)]})
    assert pickup.json()["store_id"] == "s2" and shop.ledger_rows("cy")[-1]["store_id"] == "s2"
    sold = shop.order("S-1", [line(WINE, 1, 1_000)], 1_000, store_id="s1", pickup_store_id="s2")
    assert sold.json()["store_id"] == "s1"
    unknown = shop.order("S-2", [line(WINE, 1, 1_000)], 1_000, pickup_store_id="nowhere")
    assert unknown.status_code == 422 and "'pickup_store_id' 'nowhere' is not a store" in unknown.json()["message"]


@pytest.mark.parametrize(("bad", "said"), [
    ({"gtin": BREAD, "qty": 0, "unit_price_cents": 149}, "line 2: 'qty' must be a whole number from 1 to 999, got 0"),
    ({"gtin": BREAD, "qty": True, "unit_price_cents": 149}, "line 2: 'qty' must be a whole number"),
    ({"gtin": BREAD, "qty": 1, "unit_price_cents": -1}, "line 2: 'unit_price_cents' must be a whole number from 0"),
    ({"gtin": BREAD, "qty": 1, "unit_price_cents": 1.5}, "line 2: 'unit_price_cents' must be a whole number"),
    ({"gtin": BREAD, "qty": 1}, "line 2: needs 'unit_price_cents'"),
    ({"qty": 1, "unit_price_cents": 149}, "line 2: needs 'gtin'"),
    ({"gtin": "12ab", "qty": 1, "unit_price_cents": 149}, "line 2: 'gtin' must be the product's GTIN"),
    ({"gtin": "1" * 15, "qty": 1, "unit_price_cents": 149}, "line 2: 'gtin' must be a string of 1 to 14"),
    ({"gtin": BREAD, "qty": 1, "unit_price_cents": 149, "category": ""}, "line 2: 'category' must be a string"),
    ({"gtin": BREAD, "qty": 1, "unit_price_cents": 149, "name": "a\x00b"}, "line 2: 'name' contains a NUL"),
    ({"gtin": BREAD, "qty": 1, "unit_price_cents": 149, "line_no": 1}, "line 2: 'line_no' 1 appears twice"),
    ({"gtin": BREAD, "qty": 1, "unit_price_cents": 149, "line_no": {}}, "line 2: 'line_no' must be a whole number"),
    ("bread", "line 2: must be a JSON object"),
])
def test_each_hostile_line_is_refused_naming_the_line_and_field(shop: Shop, bad: Any, said: str) -> None:
    answer = shop.order("W-H", [line(WINE, 1, 1_000, line_no=1), bad], 1_149)
    assert answer.status_code == 400 and said in answer.json()["message"], answer.text
    assert "line 1" not in answer.json()["message"]  # the good line is not blamed
    assert shop.storage.balance("ada") == 1_000 and shop.spend() == 0


def test_lines_are_checked_against_the_catalogue_and_the_total(shop: Shop) -> None:
    dearer = shop.order("W-K", [line(WINE, 1, 1_000), line(BREAD, 1, 99_999)], 100_999)
    assert dearer.status_code == 422
    assert "line 2: 'unit_price_cents' 99999 is above the catalogue price 149" in dearer.json()["message"]
    moved = shop.order("W-K", [line(WINE, 1, 1_000, category="Bakery")], 1_000)
    assert "line 1: 'category' 'Bakery' is not the catalogue's 'Wine'" in moved.json()["message"]
    cheaper = shop.order("W-K", [line(WINE, 1, 800), line("9999999999994", 2, 500, category="Gifts")], 1_800)
    assert cheaper.status_code == 201 and cheaper.json()["points_earned"] == 18  # unknown GTIN: its own category
    for body in ([], {"order_id": "W-L"}, {"order_id": "W-L", "customer_id": "ada", "channel": "web",
                                           "total_cents": 5, "lines": []}):
        refused = httpx.post(f"{shop.hub.url}/v1/orders", json=body, headers=shop.headers)
        assert refused.status_code == 400, refused.text
    nobody = httpx.post(f"{shop.hub.url}/v1/orders", headers=shop.headers, json={
        "order_id": "W-N", "customer_id": "ghost", "channel": "web", "total_cents": 149, "lines": [line(BREAD, 1, 149)]})
    assert nobody.status_code == 422 and nobody.json()["error"] == "unknown_customer"


def test_hostile_returns_are_refused_line_by_line(shop: Shop) -> None:
    assert shop.order("W-R", [line(WINE, 2, 1_000)], 2_000).status_code == 201
    refused = shop.give_back("W-R", "R-1", [(1, 3), (7, 1)])
    assert refused.status_code == 422
    assert "line 1: 3 units of line 1 returned but only 2" in refused.json()["message"]
    assert "line 2: order W-R has no line 7" in refused.json()["message"]
    bad = httpx.post(f"{shop.hub.url}/v1/orders/W-R/returns", headers=shop.headers,
                     json={"return_id": "R-2", "lines": [{"line_no": 1, "qty": 0}, {"line_no": "1", "qty": 1}]})
    assert bad.status_code == 400 and "line 1: 'qty'" in bad.json()["message"]
    assert "line 2: 'line_no'" in bad.json()["message"]
    assert shop.give_back("W-NONE", "R-1", [(1, 1)]).status_code == 404
    assert shop.storage.balance("ada") == 1_020 and shop.spend() == 2_000


def test_cancel_and_returns_need_the_orders_scope(shop: Shop) -> None:
    reports = {"Authorization": f"Bearer {shop.storage.create_api_key('ops', ['reports'])}"}
    for path in ("/v1/orders/W-1/cancel", "/v1/orders/W-1/returns"):
        denied = httpx.post(f"{shop.hub.url}{path}", headers=reports, json={})
        assert denied.status_code == 403 and "'orders' scope" in denied.json()["message"]
        assert httpx.post(f"{shop.hub.url}{path}", json={}).status_code == 401


def test_hub_default_tier_multipliers_are_the_tills() -> None:
    from edge.core.programme import ProgrammeRules
    from edge.settings import LoyaltySettings

    assert LoyaltySettings().tier_multipliers == ProgrammeRules().multipliers


# ------------------------------------------------------------------------------------------- liability (item 6)
def _earn_at(storage: HubStorage, customer_id: str, points: int, store_id: str, at: datetime, n: int) -> None:
    from sync.hub.ledger import post_points

    with storage.db.write() as conn:
        post_points(conn, customer_id=customer_id, points=points, reason="purchase", source=f"sale:old-{n}",
                    entry_id=f"old-{n}", at=at.isoformat().replace("+00:00", "Z"), store_id=store_id)


def _liability_book(shop: Shop) -> None:
    """ada: 1,000 opening points (hub, now), 300 earned in s1 about 23.5 months ago (expire in ~2 weeks),
    200 in s2 about 22.3 months ago (expire in ~7 weeks), a EUR 2,500 web order, 100 spent (FIFO: from s1);
    bob spends 50 he never had (overdrawn). One point is worth half a cent."""
    from sync.hub.liability import add_months

    now = datetime.now(UTC)
    st = shop.storage
    st.set_config("loyalty_rules", '{"point_value_cents": 0.5}')
    _earn_at(st, "ada", 300, "s1", add_months(now, -23) - timedelta(days=15), 1)
    _earn_at(st, "ada", 200, "s2", add_months(now, -22) - timedelta(days=10), 2)
    assert shop.order("W-L", [line(LAPTOP, 1, 250_000)], 250_000).status_code == 201
    _earn_at(st, "ada", -100, "s2", now, 3)
    _earn_at(st, "bob", -50, "s1", now, 4)


def test_liability_per_store_with_expiry_windows_and_value(shop: Shop) -> None:
    _liability_book(shop)
    answer = httpx.get(f"{shop.hub.url}/v1/admin/liability",
                       headers={"Authorization": f"Bearer {shop.storage.create_api_key('ops', ['reports'])}"})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    stores = {s["store_id"]: (s["points"], s["expiring"], s["value_cents"]) for s in doc["stores"]}
    assert stores == {"hub": (1_000, {"30": 0, "60": 0, "90": 0}, 500),
                      "s1": (200, {"30": 200, "60": 200, "90": 200}, 100),
                      "s2": (200, {"30": 0, "60": 200, "90": 200}, 100),
                      "web": (2_500, {"30": 0, "60": 0, "90": 0}, 1_250)}
    assert doc["total"]["points"] == 3_900 and doc["total"]["expiring_value_cents"] == {"30": 100, "60": 200,
                                                                                         "90": 200}
    assert doc["overdrawn_points"] == 50 and doc["balances_points"] == 3_900 - 50
    assert doc["expiry_months"] == 24 and doc["point_value_cents"] == 0.5
    assert httpx.get(f"{shop.hub.url}/v1/admin/liability", headers=shop.headers).status_code == 403


def test_report_liability_command_prints_json_and_a_table(sqlite_hub: HubServer, tmp_path: Path) -> None:
    sqlite_shop = _open_shop(sqlite_hub)
    _liability_book(sqlite_shop)
    sqlite_shop.storage.set_programme(["expiry_months=12"])  # the s1 and s2 points are past their expiry
    db = str(tmp_path / "hub.db")  # the sqlite_hub fixture's file

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edge.cli", "hub", "report", "liability", "--db", db, *args],
                              capture_output=True, text=True, timeout=120)

    as_json = run("--json")
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout.strip().splitlines()[-1])
    assert doc["expiry_months"] == 12 and doc["total"]["expiring"]["30"] == 400  # overdue until an expiry run
    table = run()
    assert table.returncode == 0, table.stderr
    rows = {ln.split()[0]: ln.split() for ln in table.stdout.splitlines()[2:]}
    assert rows["web"][1:3] == ["2,500", "€12.50"] and rows["total"][1] == "3,900"  # grouped like the money
    assert "overdrawn: 50 points" in table.stdout


def test_a_quote_says_what_the_order_will_cost_and_earn_and_writes_nothing(shop: Shop) -> None:
    shop.storage.upsert_offer({"id": "BIG", "kind": "amount_off_basket", "name": "Big shop",
                               "params": {"amount_cents": 500, "threshold_cents": 5_000}})
    body = {"customer_id": "ada", "channel": "web", "lines": [line(WINE, 6, 1_000)], "points_redeemed": 100}
    quoted = httpx.post(f"{shop.hub.url}/v1/orders/quote", json=body, headers=shop.headers)
    assert quoted.status_code == 200, quoted.text
    q = quoted.json()
    assert (q["subtotal_cents"], q["discount_cents"], q["points_value_cents"], q["total_cents"]) == (6_000, 500, 100,
                                                                                                     5_400)
    assert q["points_earned"] == 54 and q["discounts"][0]["reason"] == "Big shop: €5.00 off on a basket over €50.00"
    assert shop.storage.balance("ada") == 1_000 and shop.spend() == 0
    placed = shop.order("W-Q1", body["lines"], q["total_cents"], points_redeemed=100)
    assert placed.status_code == 201 and placed.json()["points_earned"] == 54


def test_web_orders_move_the_tier_and_a_partial_return_lowers_net_spend(shop: Shop) -> None:
    """Issue 15: a €2,500 web order makes a Bronze member Gold at once (Gold from €1,500 of net spend); a
    partial return takes its share off the net spend (a downgrade waits for the programme's review)."""
    def tier() -> str:
        with shop.storage.read() as conn:
            return str(conn.execute(select(customers.c.tier).where(customers.c.id == "ada")).scalar())

    assert tier() == "Bronze"
    placed = shop.order("W-TIER", [line(LAPTOP, 1, 250_000, line_no=1), *breads(2)[1:]], 250_149)
    assert placed.status_code == 201, placed.text
    assert tier() == "Gold" and shop.spend() == 250_149
    assert shop.give_back("W-TIER", "R-1", [(1, 1)]).status_code == 201
    assert shop.spend() == 149 and tier() == "Gold"


def test_an_order_naming_a_merged_away_member_is_the_survivors(shop: Shop) -> None:
    """The web shop still holds the id of a record the hub merged into another: the order earns, burns and
    counts spend for the survivor, a retry of it is the same order (not another customer's), and a quote
    prices it with the survivor's balance."""
    shop.storage.upsert_customer({"id": "ada-old", "display_name": "A. Lovelace", "home_store_id": "s2"})
    shop.storage.adjust_balance("ada-old", 200, "opening balance")
    shop.storage.merge_members("ada", "ada-old", who="test", reason="the same person")
    assert shop.storage.balance("ada") == 1_200
    doc = {"order_id": "W-OLD", "customer_id": "ada-old", "channel": "web", "total_cents": 1_000,
           "lines": [line(WINE, 1, 1_000)]}
    quoted = httpx.post(f"{shop.hub.url}/v1/orders/quote", json=doc, headers=shop.headers)
    assert quoted.status_code == 200, quoted.text
    placed = httpx.post(f"{shop.hub.url}/v1/orders", json=doc, headers=shop.headers)
    assert placed.status_code == 201, placed.text
    assert placed.json()["points_earned"] == 10 and placed.json()["balance"] == 1_210
    assert shop.storage.balance("ada") == 1_210 and shop.spend("ada") == 1_000
    again = httpx.post(f"{shop.hub.url}/v1/orders", json=doc, headers=shop.headers)
    assert again.status_code == 200 and again.json()["recorded"] is False, again.text
    assert shop.storage.balance("ada") == 1_210


def test_an_order_status_outside_click_and_collect_states_is_refused_in_words(shop: Shop) -> None:
    """The till shows a pick-up order's status to the cashier: only the states it knows are taken."""
    odd = shop.order("W-ODD", [line(BREAD, 1, 149)], 149, status="shipped-to-mars", pickup_store_id="s1")
    assert odd.status_code == 400 and "'status'" in odd.json()["message"], odd.text
    assert "ready" in odd.json()["message"]
    ready = shop.order("W-READY", [line(BREAD, 1, 149)], 149, status="ready", pickup_store_id="s1")
    assert ready.status_code == 201, ready.text
