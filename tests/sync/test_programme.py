"""Programme rules at the hub, pulled by the tills (issue 15 item 3): tiers from rolling 12-month net spend,
points expiry in FIFO lots, the pending period; and what the till shows (item 7). A real hub on 127.0.0.1 on
both engines, real till databases, the till's session layer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.core.programme import ProgrammeRules, add_months
from edge.session import TillSession
from edge.settings import Settings, load_settings
from edge.ui.snapshot import take_snapshot
from edge.ui.widgets.panels import CustomerPanel
from sync.apply import programme_rules
from sync.hub import ledger as hub_ledger
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from sync.hub.tables import customers, ledger, point_lots
from tests.support.hub import make_edge, seed

COFFEE = {"gtin": "05901234123457", "name": "Espresso machine", "price_cents": 500_000, "vat_rate_bp": 2100,
          "category": "appliances"}


def _till(edge_dir: Path, db, now: datetime | None = None) -> TillSession:  # type: ignore[no-untyped-def]
    settings: Settings = load_settings(environ={}).replace(data_dir=edge_dir)
    return TillSession(settings, db, clock=(lambda: now) if now else None)


def _tier(st: HubStorage, cid: str) -> tuple[str, int]:
    with st.read() as conn:
        row = conn.execute(select(customers.c.tier, customers.c.spend_12m_cents).where(customers.c.id == cid)).one()
    return row[0], int(row[1])


def _post(st: HubStorage, cid: str, points: int, at: datetime, entry: str, source: str = "admin:test") -> None:
    with st.db.write() as conn:
        hub_ledger.post_points(conn, customer_id=cid, points=points, reason="test", source=source, entry_id=entry,
                               at=at.isoformat().replace("+00:00", "Z"))


def test_the_till_pulls_the_programme_and_earns_by_it(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"ada": ("s1", 0)})
    st.upsert_products([{**COFFEE, "price_cents": 1_000}])
    rules = st.set_programme(["tiers=Bronze:0:2,Silver:50000:3,Gold:150000:4", "pending_days=0",
                              "expiry_months=12"])
    assert rules.multipliers == {"Bronze": 2.0, "Silver": 3.0, "Gold": 4.0}
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.client().sync_once()
    assert programme_rules(edge.db.conn) == rules  # the till holds exactly the hub's rules
    session = _till(edge.data_dir, edge.db)
    assert session.lookup_customer("card-ada").ok
    session.add_gtin(COFFEE["gtin"])
    # €10.00 at 1 pt/€ x the hub's Bronze multiplier 2 (the till's own default would give 10)
    assert session.settlement().points_earned == 20
    assert session.next_tier() == ("Silver", 50_000 - 0)


def test_a_bad_programme_is_refused_key_by_key_and_nothing_changes(hub_storage: HubStorage) -> None:
    with pytest.raises(ValueError) as err:
        hub_storage.set_programme(["expiry_months=500", "evaluation_day=31", "evaluation_months=5",
                                   "tiers=Silver:100:2,Gold:50:1", "colour=red", "pending_days=x"])
    lines = str(err.value).splitlines()
    assert len(lines) == 6
    for key in ("expiry_months", "evaluation_day", "evaluation_months", "tiers", "colour", "pending_days"):
        assert any(line.startswith(f"{key}:") for line in lines), key
    assert "0 to 120" in next(line for line in lines if line.startswith("expiry_months"))
    assert hub_storage.programme_rules() == ProgrammeRules()


def test_five_thousand_spent_in_a_year_makes_gold_at_once_and_the_till_shows_it(hub: HubServer,
                                                                                tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"], "s2": ["till-2"]}, {"ada": ("s1", 0)})
    st.make_relevant("s2", "ada", "test")
    st.upsert_products([COFFEE])
    till1 = make_edge(tmp_path, "till1", hub.url, codes["till-1"])
    till2 = make_edge(tmp_path, "till2", hub.url, codes["till-2"])
    till1.client().sync_once()
    session = _till(till1.data_dir, till1.db)
    session.lookup_customer("card-ada")
    session.add_gtin(COFFEE["gtin"])
    session.complete("card")
    till1.client().sync_once()
    assert _tier(st, "ada") == ("Gold", 500_000)  # Gold starts at €1,500: upgraded when the sale landed
    till2.client().sync_once()
    other = _till(till2.data_dir, till2.db)
    assert other.lookup_customer("card-ada").message.endswith("(Gold)")  # the other store's till agrees


def test_spend_counts_only_inside_the_window_and_orders_count(hub_storage: HubStorage) -> None:
    st = hub_storage
    seed(st, {"s1": []}, {"bo": ("s1", 0)})
    old = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    st.record_order({"order_id": "o-old", "customer_id": "bo", "channel": "web", "total_cents": 900_000,
                     "created_at": old})
    assert _tier(st, "bo") == ("Bronze", 0)  # spent 13 months ago: not in the rolling 12 months
    st.record_order({"order_id": "o-new", "customer_id": "bo", "channel": "web", "total_cents": 60_000})
    assert _tier(st, "bo") == ("Silver", 60_000)
    st.record_order({"order_id": "o-gone", "customer_id": "bo", "channel": "app", "total_cents": 200_000,
                     "status": "cancelled"})
    assert _tier(st, "bo") == ("Silver", 60_000)  # a cancelled order is no spend


def test_downgrade_waits_for_the_review_and_its_grace(hub_storage: HubStorage) -> None:
    st = hub_storage
    seed(st, {"s1": []}, {"cy": ("s1", 0)})
    st.upsert_customer({"id": "cy", "tier": "Gold"})  # no spend behind it
    st.set_programme(["evaluation_months=12", "evaluation_day=1", "downgrade_grace_days=30"])
    t0 = datetime(2027, 3, 10, tzinfo=UTC)
    st.run_jobs(t0)  # first seen: marked, never downgraded between reviews
    assert _tier(st, "cy")[0] == "Gold"
    assert st.run_jobs(datetime(2027, 12, 31, tzinfo=UTC))["profiles_changed"] == 0
    assert _tier(st, "cy")[0] == "Gold"
    st.run_jobs(datetime(2028, 1, 20, tzinfo=UTC))  # the review of 1 January, inside its 30 days of grace
    assert _tier(st, "cy")[0] == "Gold"
    done = st.run_jobs(datetime(2028, 2, 1, tzinfo=UTC))  # grace over: downgraded to what the spend earns
    assert _tier(st, "cy")[0] == "Bronze" and done["profiles_changed"] == 1
    assert st.run_jobs(datetime(2028, 2, 2, tzinfo=UTC))["profiles_changed"] == 0  # once per review


def test_points_expire_in_lots_oldest_first_once(hub_storage: HubStorage) -> None:
    st = hub_storage
    seed(st, {"s1": []}, {"di": ("s1", 0)})
    t0 = datetime(2027, 1, 15, tzinfo=UTC)
    _post(st, "di", 100, t0, "e1")
    _post(st, "di", 200, t0 + timedelta(days=90), "e2")
    _post(st, "di", -150, t0 + timedelta(days=120), "b1")  # takes all of e1, then 50 of e2
    with st.read() as conn:
        lots = dict(conn.execute(select(point_lots.c.lot_id, point_lots.c.remaining)).all())
    assert lots == {"e1": 0, "e2": 150}
    summary = st.points_summary("di")
    assert summary["expiries"] == [{"points": 150, "on": "2029-04-15"}]  # 24 months after e2 was earned
    assert st.run_jobs(datetime(2029, 4, 14, tzinfo=UTC))["expired_points"] == 0
    done = st.run_jobs(datetime(2029, 4, 16, tzinfo=UTC))
    assert (done["expired_lots"], done["expired_points"]) == (1, 150)
    assert st.balance("di") == 0
    with st.read() as conn:
        row = conn.execute(select(ledger.c.reason, ledger.c.source, ledger.c.points, ledger.c.kind)
                           .where(ledger.c.entry_id == "expiry:e2")).one()
    assert tuple(row) == ("points expired", "expiry:e2", 150, "burn")
    assert st.run_jobs(datetime(2029, 5, 1, tzinfo=UTC))["expired_points"] == 0  # idempotent
    assert st.points_summary("di") | {"locked": []} == {"earned": 300, "spent": 150, "expired": 150,
                                                         "locked": [], "expiries": []}


def test_an_earn_after_an_overdraft_lots_only_what_the_balance_holds(hub_storage: HubStorage) -> None:
    st = hub_storage
    seed(st, {"s1": []}, {"ed": ("s1", 0)})
    now = datetime(2027, 1, 1, tzinfo=UTC)
    _post(st, "ed", -100, now, "b0")  # an offline double spend left the member at -100
    _post(st, "ed", 300, now + timedelta(days=1), "e1")
    assert st.balance("ed") == 200
    done = st.run_jobs(now + timedelta(days=800))
    assert done["expired_points"] == 200 and st.balance("ed") == 0


def test_pending_period_and_expiry_reach_the_till(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"fe": ("s1", 0)})
    st.set_programme(["pending_days=14", "expiry_warning_days=60"])
    st.upsert_products([{**COFFEE, "price_cents": 1_000}])
    long_ago = datetime.now(UTC) - timedelta(days=24 * 30 - 20)  # expires in about 20 days: "soon"
    _post(st, "fe", 120, long_ago, "old")
    _post(st, "fe", 500, datetime.now(UTC), "new")  # still in its 14 days
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.client().sync_once()
    session = _till(edge.data_dir, edge.db)
    session.lookup_customer("card-fe")
    view = session.points_view()
    assert view is not None
    assert (view.balance, view.spendable, view.earned, view.spent) == (620, 120, 620, 0)
    assert view.expiring == 120 and view.soon
    assert view.expires_on == add_months(long_ago, 24).date()
    panel = CustomerPanel(currency="EUR", locale="es_ES")._points_lines(take_snapshot(session))
    assert any("120 ptos. caducan el" in line and "[yellow]" in line for line in panel)  # soon: highlighted
    assert any("120 disponibles ahora, 500 tras el periodo de espera" in line for line in panel)
    assert any("Ganados 620, gastados 0 hasta hoy" in line for line in panel)
    session.add_gtin(COFFEE["gtin"], 20)  # €200: half may be paid with points, but only 120 are spendable
    assert session.redeem(500).ok is False
    assert session.redemption_limit().max_points == 120
    assert "spendable" in session.redemption_limit().reason
    assert session.redeem(120).ok
    sale = session.complete("card")
    # the receipt: points spent, the balance, and the next expiry after this sale took the oldest points
    assert "Points spent" in sale.receipt
    expiry_lines = [line for line in sale.receipt.splitlines() if "expire" in line]
    assert expiry_lines and "500 pts expire" in expiry_lines[0]


def test_the_receipt_and_panel_speak_spanish(hub: HubServer, tmp_path: Path) -> None:
    from edge.core.l10n import Formats
    from edge.core.receipt import expiry_words

    text = expiry_words(120, datetime(2027, 1, 31).date(), Formats("es_ES"))
    assert text == "120 ptos. caducan el 31 ene 2027"
    st = hub.storage
    codes = seed(st, {"s1": ["till-1"]}, {"gi": ("s1", 0)})
    _post(st, "gi", 300, datetime.now(UTC), "g1")
    edge = make_edge(tmp_path, "till", hub.url, codes["till-1"])
    edge.client().sync_once()
    stored = json.loads(edge.db.execute("SELECT points_summary FROM customers WHERE id = 'gi'").fetchone()[0])
    assert stored["earned"] == 300 and stored["expiries"][0]["points"] == 300


def test_hub_programme_command_names_each_bad_value_and_sets_good_ones(tmp_path: Path) -> None:
    import io

    from edge.cli.main import main

    db = str(tmp_path / "hub.db")
    out, err = io.StringIO(), io.StringIO()
    code = main(["hub", "programme", "set", "expiry_months=121", "downgrade_grace_days=-1", "--db", db],
                stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert code == 2
    assert lines[:2] == [
        "store-edge: programme downgrade_grace_days: must be a whole number from 0 to 365 (days after a review "
        "before a downgrade takes effect), got -1",
        "store-edge: programme expiry_months: must be a whole number from 0 to 120 (months after which earned "
        "points expire (0: never)), got 121"]
    assert lines[-1] == "store-edge: 2 programme value(s) refused; nothing was changed"
    out = io.StringIO()
    assert main(["hub", "programme", "set", "expiry_months=36", "pending_days=7", "--db", db], stdout=out) == 0
    out = io.StringIO()
    assert main(["hub", "programme", "show", "--json", "--db", db], stdout=out) == 0
    shown = json.loads(out.getvalue())
    assert (shown["expiry_months"], shown["pending_days"], shown["tiers"][2]["name"]) == (36, 7, "Gold")
    out = io.StringIO()
    assert main(["hub", "run-jobs", "--json", "--db", db], stdout=out) == 0
    assert json.loads(out.getvalue()) == {"expired_lots": 0, "expired_points": 0, "profiles_changed": 0,
                                          "birthday_coupons": 0}
    err = io.StringIO()  # expiry cannot be undone: a run "in 2099" asks for --future
    assert main(["hub", "run-jobs", "--now", "2099-01-01T00:00:00Z", "--db", db], stdout=io.StringIO(),
                stderr=err) == 2
    assert "is in the future" in err.getvalue() and "--future" in err.getvalue()
    assert main(["hub", "run-jobs", "--now", "2099-01-01T00:00:00Z", "--future", "--db", db],
                stdout=io.StringIO()) == 0


def test_the_serving_hub_runs_the_jobs_itself(hub_storage: HubStorage) -> None:
    import time

    seed(hub_storage, {"s1": []}, {"hu": ("s1", 0)})
    _post(hub_storage, "hu", 80, datetime.now(UTC) - timedelta(days=3 * 365), "ancient")
    assert hub_storage.balance("hu") == 80
    with HubServer(hub_storage, jobs_interval_s=0.2):
        deadline = time.monotonic() + 20
        while hub_storage.balance("hu") != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert hub_storage.balance("hu") == 0
    assert hub_storage.points_summary("hu")["expired"] == 80
