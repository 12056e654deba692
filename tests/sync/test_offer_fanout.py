"""Offer changes reach every store that had the offer (issue 12 item 6: personalised, deactivated, deleted,
ended): two stores, real sync clients, the hub
over HTTP on 127.0.0.1 on both engines."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.cli import hub as hub_cli
from edge.core.basket import Basket
from edge.store.repository import Repository
from sync.hub.common import HubError
from sync.hub.offers import offer_snapshot
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from tests.support.hub import make_edge, seed

OFFER = {"id": "o-coffee", "kind": "percent_off", "name": "10% coffee", "params": {"percent": 10}}


def _active(edge: object, offer_id: str) -> int | None:
    row = edge.db.execute("SELECT active FROM offers WHERE id = ?", [offer_id]).fetchone()  # type: ignore[attr-defined]
    return None if row is None else int(row[0])


def test_an_offer_made_personal_or_inactive_leaves_every_store_that_had_it(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 10)})
    one, two = (make_edge(tmp_path, d, hub.url, codes[d]) for d in ("t1", "t2"))
    st.upsert_offer(dict(OFFER))
    for edge in (one, two):
        edge.client().sync_once()
    assert _active(one, "o-coffee") == 1 and _active(two, "o-coffee") == 1
    st.upsert_offer({**OFFER, "customer_id": "ada"})  # now personal to a customer of store 1 only
    for edge in (one, two):
        edge.client().sync_once()
    assert _active(one, "o-coffee") == 1
    row = one.db.execute("SELECT customer_id FROM offers WHERE id = 'o-coffee'").fetchone()
    assert row[0] == "ada"
    assert _active(two, "o-coffee") == 0  # store 2 dropped it: it is not for its customers any more
    st.upsert_offer({**OFFER, "active": False})  # back to everyone, but deactivated
    for edge in (one, two):
        edge.client().sync_once()
    assert _active(one, "o-coffee") == 0 and _active(two, "o-coffee") == 0


# --------------------------------------------------------------------------- deleted and expired offers
GTIN = "04006381333931"


def _args(*argv: str) -> argparse.Namespace:
    """The command line parsed exactly as `store-edge hub ...` parses it."""
    parser = argparse.ArgumentParser()
    hub_cli.register(parser.add_subparsers())
    return parser.parse_args(["hub", *argv])


def _discount(edge: object, at: datetime, coupon: str | None = None) -> int:
    """What the till's own pricing (its store.db, its engine) takes off two notebooks at ``at``."""
    repo = Repository(edge.db)  # type: ignore[attr-defined]
    product = repo.product(GTIN)
    assert product is not None
    basket = Basket()
    basket.add(product, 2)
    if coupon:
        found = repo.coupon(coupon)
        if found is not None:
            basket.coupons[found["code"]] = found["offer_id"]
    return basket.price(repo.offers_for(None), at).discount_cents


def test_a_deleted_offer_and_its_coupons_leave_every_till_at_the_next_pull(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 10)})
    st.upsert_products([{"gtin": GTIN, "name": "Notebook", "price_cents": 1000, "vat_rate_bp": 2100,
                         "category": "Stationery"}])  # fmt: skip
    hub_cli._create_offer(_args("create-offer", "--id", "o-note", "--kind", "percent_off", "--name", "Notes 10%",
                                "--params", '{"percent": 10}'), st)  # fmt: skip
    hub_cli._create_offer(_args("create-offer", "--id", "o-code", "--kind", "percent_off", "--name", "Code 20%",
                                "--params", '{"percent": 20}', "--coupon", "TWENTY"), st)  # fmt: skip
    tills = [make_edge(tmp_path, d, hub.url, codes[d]) for d in ("t1", "t2")]
    now = datetime.now(UTC)
    for edge in tills:
        edge.client().sync_once()
        assert _discount(edge, now) == 200 and _discount(edge, now, "TWENTY") == 400  # the better one

    hub_cli._delete_offer(_args("delete-offer", "o-note"), st)
    hub_cli._delete_offer(_args("delete-offer", "o-code"), st)
    for edge in tills:
        edge.client().sync_once()
        assert _active(edge, "o-note") == 0 and _active(edge, "o-code") == 0
        assert _discount(edge, now) == 0 and _discount(edge, now, "TWENTY") == 0
        assert edge.db.execute("SELECT count(*) FROM coupons WHERE code = 'TWENTY'").fetchone()[0] == 0
    with st.read() as conn:
        assert offer_snapshot(conn, "o-note", "s1") is None
    with pytest.raises(HubError, match="was deleted"):
        st.create_coupon("AGAIN", "o-note")
    with pytest.raises(HubError, match="there is no offer 'o-none'"):
        st.delete_offer("o-none")

    hub_cli._create_offer(_args("create-offer", "--id", "o-note", "--kind", "percent_off", "--name", "Notes 10%",
                                "--params", '{"percent": 10}'), st)  # fmt: skip
    tills[1].client().sync_once()
    assert _discount(tills[1], now) == 200  # created again: it is back


def test_a_personal_offer_deleted_leaves_only_the_stores_of_its_customer(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 10)})
    st.upsert_offer({**OFFER, "customer_id": "ada"})
    one, two = (make_edge(tmp_path, d, hub.url, codes[d]) for d in ("t1", "t2"))
    for edge in (one, two):
        edge.client().sync_once()
    assert _active(one, "o-coffee") == 1 and _active(two, "o-coffee") is None
    st.delete_offer("o-coffee")
    one.client().sync_once()
    assert _active(one, "o-coffee") == 0


def test_an_offer_past_its_end_is_not_applied_by_the_till(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"]}, {})
    st.upsert_products([{"gtin": GTIN, "name": "Notebook", "price_cents": 1000, "vat_rate_bp": 2100,
                         "category": "Stationery"}])  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)
    ended, later = now - timedelta(hours=1), now + timedelta(hours=1)
    hub_cli._create_offer(_args("create-offer", "--id", "o-gone", "--kind", "percent_off", "--name", "Ended",
                                "--params", '{"percent": 10}', "--valid-until", ended.isoformat()), st)
    hub_cli._create_offer(_args("create-offer", "--id", "o-soon", "--kind", "percent_off", "--name", "Later",
                                "--params", '{"percent": 30}', "--valid-from", later.isoformat()), st)
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    edge.client().sync_once()
    assert _discount(edge, now) == 0  # one ended an hour ago, the other starts in an hour
    assert _discount(edge, ended - timedelta(minutes=1)) == 200  # the same rows did apply before the end
    assert _discount(edge, later + timedelta(minutes=1)) == 600
    row = edge.db.execute("SELECT valid_until FROM offers WHERE id = 'o-gone'").fetchone()
    assert row[0] == ended.astimezone(UTC).isoformat().replace("+00:00", "Z")  # the hub writes UTC as Z


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--valid-until", "next tuesday", "valid_until 'next tuesday' is not an ISO 8601"),
    ("--valid-from", "2027-02-30T00:00:00", "valid_from '2027-02-30T00:00:00' is not an ISO 8601"),
])  # fmt: skip
def test_an_offer_with_an_unreadable_date_is_refused_at_the_hub(sqlite_hub_storage: HubStorage, flag: str,
                                                                value: str, said: str) -> None:
    with pytest.raises(HubError, match=said):
        hub_cli._create_offer(_args("create-offer", "--id", "o", "--kind", "percent_off", "--name", "x",
                                    "--params", '{"percent": 10}', flag, value), sqlite_hub_storage)
    with pytest.raises(HubError, match="would end"):
        sqlite_hub_storage.upsert_offer({**OFFER, "valid_from": "2027-01-02T00:00:00+00:00",
                                         "valid_until": "2027-01-01T00:00:00+00:00"})
