"""`store-edge hub create-customer` and `hub create-offer --coupon` against a real hub database, on SQLite and
PostgreSQL: a partial customer update keeps what it was not given; a coupon offer reaches no basket without its
code (issue 15)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.cli import hub as hub_cli
from edge.core.basket import Basket
from edge.core.errors import CliError
from edge.core.offers import CustomerContext
from edge.store.repository import Repository
from sync.hub import members
from sync.hub.offers import offer_snapshot
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from tests.support.hub import make_edge, seed

NOW = datetime.now(UTC)
GTIN = "04006381333931"


def _args(*argv: str) -> argparse.Namespace:
    """The command line parsed exactly as `store-edge hub ...` parses it."""
    parser = argparse.ArgumentParser()
    hub_cli.register(parser.add_subparsers())
    return parser.parse_args(["hub", *argv])


def _profile(storage: HubStorage, cid: str) -> dict:
    with storage.read() as conn:
        doc = members.snapshot(conn, cid, "s1")
    assert doc is not None
    return doc


def test_create_customer_on_an_existing_id_changes_only_what_was_given(hub_storage: HubStorage) -> None:
    hub_storage.create_store("s1")
    hub_storage.upsert_customer({
        "id": "ada", "display_name": "Ada", "card_number": "6009000000000017", "tier": "Gold",
        "phone_hash": "ph", "email_hash": "eh", "consents": {"marketing": True, "location": True},
        "birthday": "1990-05-17", "preferences": {"language": "nl"}, "rewards": ["free coffee"],
        "home_store_id": "s1"})  # fmt: skip
    before = _profile(hub_storage, "ada")

    hub_cli._create_customer(_args("create-customer", "--id", "ada", "--name", "Ada Lovelace"), hub_storage)

    after = _profile(hub_storage, "ada")
    assert after["display_name"] == "Ada Lovelace"
    assert {k: v for k, v in after.items() if k != "display_name"} == {
        k: v for k, v in before.items() if k != "display_name"}
    assert after["card_number"] == "6009000000000017" and after["tier"] == "Gold"
    assert after["consents"] == {"marketing": True, "location": True} and after["birthday"] == "1990-05-17"
    assert after["preferences"] == {"language": "nl"} and after["rewards"] == ["free coffee"]
    assert (after["phone_hash"], after["email_hash"]) == ("ph", "eh")

    hub_cli._create_customer(_args("create-customer", "--id", "ada", "--tier", "Silver"), hub_storage)
    again = _profile(hub_storage, "ada")
    assert again["tier"] == "Silver" and again["display_name"] == "Ada Lovelace"
    assert again["card_number"] == "6009000000000017" and again["consents"]["location"] is True


def test_create_customer_refuses_a_name_the_member_api_refuses(hub_storage: HubStorage) -> None:
    """The same name rule as the member API and the CSV import: a text-direction control reorders the receipt."""
    with pytest.raises(CliError) as refused:
        hub_cli._create_customer(_args("create-customer", "--id", "eve", "--name", "Eve \u202egnp.exe"), hub_storage)
    assert refused.value.exit_code == 2 and "U+202E" in str(refused.value)
    with hub_storage.read() as conn:
        assert not members.exists(conn, "eve")


def test_create_customer_with_a_new_id_takes_the_defaults(hub_storage: HubStorage) -> None:
    hub_cli._create_customer(_args("create-customer", "--id", "bo", "--points", "40"), hub_storage)
    bo = _profile(hub_storage, "bo")
    assert (bo["display_name"], bo["tier"], bo["card_number"], bo["consents"]) == ("bo", "Bronze", None, {})
    assert bo["confirmed_points"] == 40


def _basket(repo: Repository, customer: CustomerContext | None, coupon: str | None) -> int:
    """The discount the till's own pricing gives a basket of two notebooks, with or without the coupon."""
    basket = Basket(customer=customer)
    product = repo.product(GTIN)
    assert product is not None
    basket.add(product, 2)
    if coupon:
        found = repo.coupon(coupon)
        assert found is not None
        basket.coupons[found["code"]] = found["offer_id"]
    return basket.price(repo.offers_for(customer.id if customer else None), NOW).discount_cents


def test_a_coupon_offer_reaches_no_basket_without_its_code(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    st.upsert_products([{"gtin": GTIN, "name": "Notebook", "price_cents": 1000, "vat_rate_bp": 2100,
                         "category": "Stationery"}])  # fmt: skip
    hub_cli._create_offer(_args("create-offer", "--id", "SPRING", "--kind", "percent_off", "--name", "Spring 20%",
                                "--params", '{"percent": 20}', "--coupon", "SPRING20"), st)  # fmt: skip
    with st.read() as conn:
        assert offer_snapshot(conn, "SPRING", "s1")["requires_coupon"] is True  # type: ignore[index]

    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.client().sync_once()
    repo = Repository(edge.db)
    assert [o.id for o in repo.offers_for(None)] == ["SPRING"] and repo.offers_for(None)[0].requires_coupon
    member = CustomerContext("ada", "Bronze")
    assert _basket(repo, None, None) == 0  # a guest without the code
    assert _basket(repo, member, None) == 0  # a member without the code
    assert _basket(repo, None, "SPRING20") == 400  # the code unlocks 20 % of 20.00
    assert _basket(repo, member, "SPRING20") == 400
