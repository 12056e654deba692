"""Offers the tills cannot price are refused where they enter: the hub's storage, the create-offer command
(in one line), and a pull, which stores the good offers and lists the bad ones in its warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from edge.db.connection import open_database
from sync.apply import WARNINGS_KEY, apply_page, get_state
from sync.hub.storage import HubError, HubStorage
from sync.protocol import Change, ChangesPage
from tests.support.cli import one_line, run_cli

pytestmark = pytest.mark.usefixtures("no_store_edge_env")


def test_hub_refuses_offers_whose_params_the_tills_cannot_price(hub_storage: HubStorage) -> None:
    with pytest.raises(HubError, match="params must be a JSON object, got list"):
        hub_storage.upsert_offer({"id": "o1", "kind": "percent_off", "name": "X", "params": [1]})
    with pytest.raises(HubError, match="'percent'"):
        hub_storage.upsert_offer({"id": "o2", "kind": "percent_off", "name": "X", "params": {"percent": 120}})
    with pytest.raises(HubError, match="'get'"):
        hub_storage.upsert_offer({"id": "o3", "kind": "buy_x_get_y", "name": "X", "params": {"buy": 2, "get": 0}})
    hub_storage.upsert_offer({"id": "ok", "kind": "percent_off", "name": "X", "params": {"percent": 10}})
    page = hub_storage.changes(_device(hub_storage), None, 100)
    assert [c.key for c in page.changes if c.kind == "offer"] == ["ok"]


def _device(storage: HubStorage) -> Any:
    storage.create_store("s1")
    code = storage.create_device("s1", "till-1")
    enrolment = storage.enroll(code)
    return storage.authenticate(enrolment.token)


def test_create_offer_cli_refuses_bad_params_in_one_line(tmp_path: Path) -> None:
    hub_db = str(tmp_path / "hub.db")
    code, _, err = run_cli(["hub", "create-offer", "--id", "o1", "--kind", "percent_off", "--name", "X",
                            "--params", "[1]", "--db", hub_db])
    assert code == 1
    assert "offer 'o1' refused: params must be a JSON object, got list" in one_line(err)
    storage = HubStorage.open(hub_db)
    try:
        with storage.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM offers")).scalar() == 0
    finally:
        storage.close()


def test_pull_puts_malformed_offers_in_the_warnings_and_stores_the_rest(tmp_path: Path) -> None:
    db = open_database(tmp_path / "store.db")
    good = {"id": "good", "kind": "percent_off", "name": "Ten", "params": {"percent": 10}}
    bad = {"id": "bad", "kind": "percent_off", "name": "X", "params": [1]}
    worse = {"id": "worse", "kind": "amount_off_basket", "name": "Y", "params": {"amount_cents": "5"}}
    applied = apply_page(db, ChangesPage([Change("offer", "bad", bad), Change("offer", "worse", worse),
                                          Change("offer", "good", good)], cursor="c1"))
    assert applied == 1
    assert db.execute("SELECT id FROM offers WHERE source = 'hub'").fetchall() == [("good",)]
    warnings = json.loads(get_state(db, WARNINGS_KEY) or "[]")
    assert any(w.startswith("offer bad:") and "JSON object" in w for w in warnings)
    assert any(w.startswith("offer worse:") and "'amount_cents'" in w for w in warnings)
