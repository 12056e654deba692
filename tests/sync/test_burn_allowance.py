"""Burns checked against the offline allowance (issue 12 item 2): a till may let a member spend at most the
balance the hub confirmed plus the programme's ``offline_burn_cap_points`` per day; a burn the hub receives past
that is reported as ``burn_over_allowance`` (the sale stands: the customer left with the goods), one within it
as an ``overdraft``. Real tills (store.db, enrolled credential, SyncClient) against the real hub over HTTP on
127.0.0.1, on SQLite and PostgreSQL; the till's session takes the hub's allowance."""

from __future__ import annotations

from pathlib import Path

from edge.core.loyalty import LoyaltyRules
from edge.session import TillSession
from edge.settings import load_settings
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from tests.support.hub import Edge, hub_ledger_set, make_edge, seed


def _burn(edge: Edge, customer_id: str, points: int) -> str:
    """A sale of this till paid partly with ``points`` (its burn names the sale, as the till's own do)."""
    sale_id = edge.sale(customer_id, 1_000)
    return edge.ledger("burn", customer_id, points, sale_id)


def _kinds(st: HubStorage) -> dict[str, str]:
    """entry id -> exception kind, for the balance exceptions."""
    return {e["entry_id"]: e["kind"] for e in st.exceptions() if e["kind"] in ("overdraft", "burn_over_allowance")}


def _ledger_sum(st: HubStorage, customer_id: str) -> int:
    return sum(e["points"] if e["kind"] == "earn" else -e["points"] for e in st.ledger_entries()
               if e["customer_id"] == customer_id)


def test_a_burn_past_the_offline_allowance_is_reported_and_still_stands(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1", "t2"]}, {"ada": ("s1", 100), "bo": ("s1", 100)})
    one, two = make_edge(tmp_path, "t1", hub.url, codes["t1"]), make_edge(tmp_path, "t2", hub.url, codes["t2"])
    within = _burn(one, "ada", 1_100)  # 100 confirmed + 1,000 of the 2,000-point allowance
    also_within = _burn(one, "ada", 1_000)  # the allowance used up exactly (2,000 beyond the balance)
    past = _burn(one, "ada", 1)  # one point more than any honest till could give today
    other_till = _burn(two, "ada", 500)  # another till's own allowance: a double spend, not a forgery
    huge = _burn(one, "bo", 5_000)  # 100 confirmed: 4,900 beyond it at once
    for edge in (one, two):
        report = edge.client().sync_once()
        assert report.rejected == 0, report

    kinds = _kinds(st)
    assert kinds == {within: "overdraft", also_within: "overdraft", past: "burn_over_allowance",
                     other_till: "overdraft", huge: "burn_over_allowance"}
    detail = next(e["detail"] for e in st.exceptions() if e["entry_id"] == huge)
    assert "device t1 let them spend 4900 points beyond the balance" in detail
    assert "offline allowance of 2000 points" in detail
    # the sales stand: every burn is in the ledger once and the balances are its sums
    assert {within, also_within, past, huge} <= {e[0] for e in hub_ledger_set(st, "s1")}
    assert st.balance("ada") == 100 - 1_100 - 1_000 - 1 - 500 == _ledger_sum(st, "ada")
    assert st.balance("bo") == 100 - 5_000 == _ledger_sum(st, "bo")


def test_the_allowance_is_the_hubs_programme_and_the_till_uses_it(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"]}, {"ada": ("s1", 100)})
    st.set_programme(["offline_burn_cap_points=0"])
    edge = make_edge(tmp_path, "t1", hub.url, codes["t1"])
    edge.client().sync_once()
    till = TillSession(load_settings(environ={}).replace(data_dir=edge.data_dir), edge.db)
    assert till.rules.offline_burn_cap_points == 0 == till.sales.rules.offline_burn_cap_points
    assert LoyaltyRules().offline_burn_cap_points == 2_000  # the built-in default it replaced

    exact = _burn(edge, "ada", 100)  # the whole confirmed balance: no exception
    over = _burn(edge, "ada", 1)  # no allowance at all: the first point beyond is past it
    assert edge.client().sync_once().rejected == 0
    assert _kinds(st) == {over: "burn_over_allowance"}
    assert exact not in _kinds(st) and st.balance("ada") == -1 == _ledger_sum(st, "ada")


def test_the_hubs_own_burns_have_no_allowance_check(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    seed(st, {"s1": []}, {"ada": ("s1", 10)})
    st.adjust_balance("ada", -5_000, "correction")  # an administrator's correction below zero
    assert _kinds(st) == {next(e["entry_id"] for e in st.ledger_entries() if e["points"] == 5_000): "overdraft"}
