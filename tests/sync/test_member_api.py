"""The member API (issue 15 item 1) and the member admin commands (items 7, 8), against the real hub over HTTP on
127.0.0.1, on SQLite and PostgreSQL: creation with a card the till accepts, partial updates, the profile across
channels, consents with history, merging two records, scopes and input checks, the tier override, points
corrections with who and why, and the CSV import with bad rows mixed in."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from devices.barcode.config import LoyaltyCardFormat
from devices.barcode.loyalty_card import match_card
from edge.cli import main
from edge.core.contacts import contact_hash
from edge.core.contract import EventType
from sync.hub import member_records
from sync.hub.server import HubServer
from sync.hub.tables import changes, customers, ledger
from tests.support.raw_device import Till, earn, priced_sale

SIGN_UP = {"display_name": "Ada Lovelace", "email": " Ada@Example.org ", "phone": "612 34 56 78", "region": "ES",
           "birthday": "1990-12-10", "home_store_id": "s1", "preferences": {"language": "es"},
           "consents": [{"name": "marketing", "granted": True, "wording_version": "2026-01"}]}


class Api:
    def __init__(self, hub: HubServer, scopes: list[str]) -> None:
        self.client = httpx.Client(base_url=hub.url, timeout=20,
                                   headers={"Authorization": f"Bearer {hub.storage.create_api_key('shop', scopes)}"})

    def create(self, doc: dict[str, Any]) -> httpx.Response:
        return self.client.post("/v1/members", json=doc)

    def get(self, member_id: str, **params: Any) -> httpx.Response:
        return self.client.get(f"/v1/members/{member_id}", params=params)

    def patch(self, member_id: str, doc: Any) -> httpx.Response:
        return self.client.patch(f"/v1/members/{member_id}", json=doc)


@pytest.fixture
def api(hub: HubServer) -> Api:
    for store in ("s1", "s2"):
        hub.storage.create_store(store)
    return Api(hub, ["members:read", "members:write"])


def _changes(hub: HubServer, kind: str, key: str) -> list[str | None]:
    with hub.storage.read() as conn:
        return [r[0] for r in conn.execute(select(changes.c.store_id).where(changes.c.kind == kind,
                                                                            changes.c.key == key))]


def test_create_allocates_a_card_the_till_accepts_and_hashes_contacts(hub: HubServer, api: Api) -> None:
    made = api.create({**SIGN_UP, "external_id": "WEB-1"})
    assert made.status_code == 201, made.text
    m = made.json()
    card = match_card(m["card_number"], LoyaltyCardFormat())  # the till's default card pattern and Luhn check
    assert card is not None and card.error is None
    assert m["tier"] == "Bronze" and m["balance"] == 0 and m["next_tier"]["tier"] == "Silver"
    assert m["consents"]["marketing"]["granted"] is True
    assert m["consents"]["marketing"]["source"] == "api:shop"
    assert m["consents"]["marketing"]["wording_version"] == "2026-01" and m["consents"]["marketing"]["at"]
    with hub.storage.read() as conn:
        row = conn.execute(select(customers.c.email_hash, customers.c.phone_hash, customers.c.consents)
                           .where(customers.c.id == m["id"])).one()
    assert row.email_hash == contact_hash("email", "ada@example.org")
    assert row.phone_hash == contact_hash("phone", "+34612345678")
    assert json.loads(row.consents) == {"marketing": True}  # the current state the tills pull
    assert "s1" in _changes(hub, "customer", m["id"])  # the home store receives the profile
    again = api.create({**SIGN_UP, "external_id": "WEB-1"})  # a retried sign-up
    assert again.status_code == 200 and again.json()["id"] == m["id"] and again.json()["created"] is False
    other = api.create({"display_name": "Bob"}).json()
    assert other["card_number"] != m["card_number"]
    taken = api.create({"display_name": "Cy", "card_number": m["card_number"]})
    assert taken.status_code == 409 and taken.json()["error"] == "card_taken"


def test_patch_changes_only_what_it_names(api: Api) -> None:
    m = api.create(SIGN_UP).json()
    changed = api.patch(m["id"], {"birthday": "1991-01-02"})
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["birthday"] == "1991-01-02"
    for kept in ("card_number", "display_name", "consents", "home_store_id", "preferences", "has_phone", "has_email"):
        assert after[kept] == m[kept], kept
    cleared = api.patch(m["id"], {"email": None}).json()
    assert cleared["has_email"] is False and cleared["has_phone"] is True


BAD = {
    "unknown field": ({"nickname": "x"}, "unknown field 'nickname'"),
    "name type": ({"display_name": 5}, "'display_name' must be a string"),
    "name too long": ({"display_name": "x" * 101}, "'display_name' must be 1 to 100"),
    "email": ({"email": "not-an-address"}, "'email' is not an e-mail address"),
    "phone": ({"phone": "99999999", "region": "ES"}, "'phone' '99999999' is not a valid phone number in ES"),
    "region alone": ({"region": "ES"}, "'region' is only used to read 'phone'"),
    "birthday": ({"birthday": "1990-02-30"}, "'birthday' '1990-02-30' is not a date"),
    "future birthday": ({"birthday": "2999-01-01"}, "'birthday' must be between 1900-01-01 and today"),
    "card check digit": ({"card_number": "6009000000000001"}, "'card_number' has a wrong check digit"),
    "consent name": ({"consents": [{"name": "Mark", "granted": True, "wording_version": "1"}]}, "'name' must be"),
    "consent granted": ({"consents": [{"name": "sms", "granted": "yes", "wording_version": "1"}]},
                        "'granted' must be true or false"),
    "consent field": ({"consents": [{"name": "sms", "granted": True, "wording_version": "1", "x": 1}]},
                      "unknown field 'x'"),
    "preferences": ({"preferences": {"a": [1]}}, "'preferences' 'a' must be a string"),
    "NUL": ({"display_name": "A\u0000"}, "NUL"),
    "not an object": ([1, 2], "the body must be a JSON object"),
    "empty": ({}, "nothing to change"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_every_field_is_checked_and_named(api: Api, name: str) -> None:
    m = api.create({"display_name": "Ann"}).json()
    doc, words = BAD[name]
    refused = api.patch(m["id"], doc)
    assert refused.status_code == 400 and refused.json()["error"] == "bad_request", refused.text
    assert words in refused.json()["message"]
    assert api.get(m["id"]).json()["display_name"] == "Ann"  # nothing changed


def test_scopes_unknown_members_and_unknown_stores(hub: HubServer, api: Api) -> None:
    m = api.create({"display_name": "Ann"}).json()
    assert api.get("nobody").status_code == 404 and api.get("nobody").json()["error"] == "unknown_member"
    assert api.patch("nobody", {"display_name": "x"}).status_code == 404
    assert api.create({"display_name": "x", "home_store_id": "s9"}).status_code == 422
    reader = Api(hub, ["members:read"])
    assert reader.get(m["id"]).status_code == 200
    refused = reader.patch(m["id"], {"display_name": "x"})
    assert refused.status_code == 403 and "--scope members:write" in refused.json()["message"]
    shop = Api(hub, ["orders"])
    assert shop.get(m["id"]).status_code == 403
    assert httpx.get(f"{hub.url}/v1/members/{m['id']}").status_code == 401
    assert api.get(m["id"], history=0).status_code == 400


def test_profile_lists_purchases_across_channels_with_items_and_points_with_source(hub: HubServer, api: Api) -> None:
    m = api.create({"display_name": "Ada", "home_store_id": "s1"}).json()
    till = Till(hub, hub.storage.create_device("s1", "t1"), "t1", "s1")
    sale = priced_sale(m["id"])
    results = till.push(till.event(EventType.SALE_COMPLETED, sale),
                        till.event(EventType.LEDGER_EARN, {**earn(m["id"], 18), "sale_id": sale["id"]}))
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    hub.storage.record_order({"order_id": "W-1", "customer_id": m["id"], "channel": "web", "total_cents": 2500,
                              "lines": [{"gtin": "04006381333931", "name": "Pen", "qty": 3}]})
    hub.storage.adjust_balance(m["id"], 100, "goodwill: late delivery", who="lea")
    p = api.get(m["id"]).json()
    # net spend over the programme's window counts every channel: the till sale (1,898) and the web order (2,500)
    assert p["balance"] == 118 and p["spend_12m_cents"] == 1898 + 2500
    assert p["next_tier"] == {"tier": "Silver", "cents_to_go": 50_000 - 4398, "threshold_cents": 50_000}
    by_channel = {h["channel"]: h for h in p["purchases"]}
    assert by_channel["store"]["items"][0]["name"] == "Coffee beans 500 g" and by_channel["store"]["store_id"] == "s1"
    assert by_channel["web"]["items"] == [{"gtin": "04006381333931", "name": "Pen", "qty": 3}]
    sources = {e["source"]: e for e in p["points"]}
    assert sources[f"sale:{sale['id']}"]["points"] == 18
    assert sources["admin:lea"]["reason"] == "goodwill: late delivery" and sources["admin:lea"]["balance_after"] == 118


def test_consents_keep_their_history_and_reach_the_tills(hub: HubServer, api: Api) -> None:
    m = api.create(SIGN_UP).json()
    answer = api.client.post(f"/v1/members/{m['id']}/consents", json={"consents": [
        {"name": "marketing", "granted": False, "wording_version": "2026-02"},
        {"name": "location", "granted": True, "wording_version": "2026-02"}]})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["consents"]["marketing"]["granted"] is False and doc["consents"]["location"]["granted"] is True
    assert [(h["name"], h["granted"], h["wording_version"]) for h in doc["history"]] == [
        ("marketing", True, "2026-01"), ("marketing", False, "2026-02"), ("location", True, "2026-02")]
    hub.storage.set_consent(m["id"], "location", False)  # the admin command's path records history too
    history = api.client.get(f"/v1/members/{m['id']}/consents").json()["history"]
    assert history[-1]["source"] == "admin" and history[-1]["granted"] is False
    with hub.storage.read() as conn:
        state = conn.execute(select(customers.c.consents).where(customers.c.id == m["id"])).scalar()
    assert json.loads(state) == {"marketing": False, "location": False}
    assert _changes(hub, "customer", m["id"]).count("s1") >= 3  # each change re-sent to the home store
    bad = api.client.post(f"/v1/members/{m['id']}/consents", json={"consents": []})
    assert bad.status_code == 400


def test_merge_keeps_both_ledgers_and_resolves_the_absorbed_card(hub: HubServer, api: Api) -> None:
    keep = api.create({"display_name": "Ada", "home_store_id": "s1", "email": "ada@example.org"}).json()
    gone = api.create({"display_name": "A. Lovelace", "home_store_id": "s2", "phone": "+34612345678",
                       "external_id": "OLD-7"}).json()
    hub.storage.adjust_balance(keep["id"], 300, "opening", who="t")
    hub.storage.adjust_balance(gone["id"], 450, "opening", who="t")
    t2 = Till(hub, hub.storage.create_device("s2", "t2"), "t2", "s2")
    merged = api.client.post(f"/v1/members/{keep['id']}/merge", json={"absorbed_id": gone["id"], "reason": "same"})
    assert merged.status_code == 200, merged.text
    assert merged.json() == {"survivor_id": keep["id"], "absorbed_id": gone["id"], "points_moved": 450,
                             "merged": True, "balance": 750}
    again = api.client.post(f"/v1/members/{keep['id']}/merge", json={"absorbed_id": gone["id"], "reason": "same"})
    assert again.json()["merged"] is False and hub.storage.balance(keep["id"]) == 750
    p = api.get(gone["id"]).json()  # the absorbed id answers the survivor
    assert p["id"] == keep["id"] and p["merged_from"] == [gone["id"]] and p["has_phone"]
    assert {e["member_id"] for e in p["points"]} == {keep["id"], gone["id"]}  # both ledgers
    with hub.storage.read() as conn:
        assert member_records.resolve_alias(conn, "card", gone["card_number"]) == keep["id"]
        assert member_records.resolve_alias(conn, "external_id", "OLD-7") == keep["id"]
        sources = {r[0] for r in conn.execute(select(ledger.c.source).where(ledger.c.entry_id.like("merge-%")))}
    assert sources == {f"merge:{keep['id']}", f"merge:{gone['id']}"}
    pulled = {(c["key"], c["data"] is None) for c in t2.pull_all() if c["kind"] == "customer"}
    assert (gone["id"], True) in pulled and (keep["id"], False) in pulled  # s2 erases one and receives the other
    # a till that was offline during the merge still names the absorbed id: the survivor gets the points
    result = t2.push(t2.event(EventType.LEDGER_EARN, earn(gone["id"], 25)))
    assert result[0]["status"] == "accepted" and hub.storage.balance(keep["id"]) == 775
    third = api.create({"display_name": "Cy"}).json()
    clash = api.client.post(f"/v1/members/{third['id']}/merge", json={"absorbed_id": gone["id"], "reason": "x"})
    assert clash.status_code == 409
    reverse = api.client.post(f"/v1/members/{gone['id']}/merge", json={"absorbed_id": keep["id"], "reason": "x"})
    assert reverse.status_code == 409 and hub.storage.balance(keep["id"]) == 775
    self_merge = api.client.post(f"/v1/members/{keep['id']}/merge", json={"absorbed_id": keep["id"], "reason": "x"})
    assert self_merge.status_code == 400
    missing = api.client.post(f"/v1/members/{keep['id']}/merge", json={"absorbed_id": "nobody", "reason": "x"})
    assert missing.status_code == 404
    assert api.client.post(f"/v1/members/{keep['id']}/merge", json={"absorbed_id": "x"}).status_code == 400


# ------------------------------------------------------------------------------------------- admin commands
def test_adjust_points_records_who_and_why(hub: HubServer, api: Api) -> None:
    m = api.create({"display_name": "Ann"}).json()
    hub.storage.adjust_balance(m["id"], -20, "wrong scan refunded", who="lea")
    entry = api.get(m["id"]).json()["points"][0]
    assert (entry["points"], entry["reason"], entry["source"]) == (-20, "wrong scan refunded", "admin:lea")
    with pytest.raises(Exception, match="no customer"):
        hub.storage.adjust_balance("nobody", 5, "x", who="lea")


def test_tier_override_has_a_reason_and_an_end_date(hub: HubServer, api: Api) -> None:
    m = api.create({"display_name": "Ann", "home_store_id": "s1"}).json()
    hub.storage.set_tier_override(m["id"], "Gold", reason="complaint settled", until="2099-12-31", who="lea")
    p = api.get(m["id"]).json()
    assert p["tier"] == "Gold"
    assert p["tier_override"] == {"tier": "Gold", "reason": "complaint settled", "until": "2099-12-31", "by": "lea"}
    till = Till(hub, hub.storage.create_device("s1", "t1"), "t1", "s1")
    profile = [c["data"] for c in till.pull_all() if c["kind"] == "customer" and c["key"] == m["id"]][-1]
    assert profile["tier"] == "Gold"  # the till shows the overridden tier
    for tier, until, reason, words in (("Platinum", "2099-01-01", "x", "no tier 'Platinum'"),
                                       ("Gold", "2001-01-01", "x", "has passed"),
                                       ("Gold", "31/12/2099", "x", "not a date"),
                                       ("Gold", "2099-01-01", " ", "say why")):
        with pytest.raises(ValueError, match=words):
            hub.storage.set_tier_override(m["id"], tier, reason=reason, until=until)
    hub.storage.set_tier_override(m["id"], None)
    assert api.get(m["id"]).json()["tier"] == "Bronze" and api.get(m["id"]).json()["tier_override"] is None


def _members_file(path: Path, n: int) -> dict[int, str]:
    """``n`` rows; every 25th is bad in a different way. Returns {row number: the column at fault}."""
    faults = {0: ("email", "nobody@"), 1: ("birthday", "1990-13-01"), 2: ("phone", "12"),
              3: ("card_number", "6009000000000001"), 4: ("consent_marketing", "maybe"),
              5: ("home_store_id", "nowhere"), 6: ("display_name", ""),
              7: ("display_name", "Eve \u202egnp.exe"), 8: ("display_name", "\u200b\u200b")}
    bad: dict[int, str] = {}
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["external_id", "display_name", "email", "phone", "birthday", "home_store_id",
                               "consent_marketing", "consent_wording_version", "card_number"])
        w.writeheader()
        for i in range(n):
            row = {"external_id": f"OLD-{i}", "display_name": f"Member {i}", "email": f"m{i}@example.org",
                   "phone": f"+3461{i:07d}", "birthday": "1980-05-06", "home_store_id": "s1",
                   "consent_marketing": "yes", "consent_wording_version": "v3", "card_number": ""}
            if i % 25 == 24:
                col, value = faults[(i // 25) % len(faults)]
                row[col] = value
                bad[i + 2] = col  # the header is line 1
            w.writerow(row)
    return bad


def test_import_members_and_balances_reports_bad_rows_and_changes_nothing_twice(hub: HubServer, api: Api,
                                                                                 tmp_path: Path) -> None:
    bad = _members_file(tmp_path / "members.csv", 300)
    report = hub.storage.import_members(tmp_path / "members.csv", chunk=64)
    assert {r.row: r.field for r in report.rejected} == bad
    assert report.added == 300 - len(bad) and report.rows == 300
    assert all(r.problem for r in report.rejected)
    again = hub.storage.import_members(tmp_path / "members.csv", chunk=64)
    assert again.added == 0 and again.unchanged == report.added and len(again.rejected) == len(bad)
    assert hub.storage.count("customers") == report.added
    balances = tmp_path / "balances.csv"
    balances.write_text("external_id,points\n" + "".join(f"OLD-{i},{i}\n" for i in range(300))
                        + "OLD-1,-5\nGHOST,10\nOLD-2,ten\n", encoding="utf-8")
    posted = hub.storage.import_balances(balances, chunk=64)
    imported = 300 - len(bad)
    assert posted.added == imported - 1  # OLD-0 opens with 0 points: nothing to post
    assert [(r.row, r.field) for r in posted.rejected] == [
        *((row, "external_id") for row in sorted(bad)), (302, "points"), (303, "external_id"), (304, "points")]
    ledger_rows = hub.storage.count("ledger")
    assert hub.storage.import_balances(balances, chunk=64).added == 0 and hub.storage.count("ledger") == ledger_rows
    with hub.storage.read() as conn:
        cid = conn.execute(select(customers.c.id).where(customers.c.external_id == "OLD-7")).scalar()
    p = api.get(cid).json()
    assert p["balance"] == 7 and p["points"][0]["source"] == "import:balances.csv"
    assert p["points"][0]["reason"] == "opening balance" and p["points"][0]["entry_id"] == "opening-OLD-7"
    assert p["consents"]["marketing"] == {"granted": True, "at": p["consents"]["marketing"]["at"],
                                          "source": "import:members.csv", "wording_version": "v3"}
    assert match_card(p["card_number"], LoyaltyCardFormat()).error is None  # type: ignore[union-attr]


def test_import_refuses_a_file_with_an_unknown_column(hub: HubServer, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("external_id,display_name,shoe_size\nx,Ann,42\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown column 'shoe_size'"):
        hub.storage.import_members(path)
    assert hub.storage.count("customers") == 0


def test_member_commands_on_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.db")

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["hub", *argv, "--db", db], stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    assert run("create-customer", "--id", "c1", "--name", "Ann")[0] == 0
    code, out, _ = run("adjust-points", "--customer", "c1", "--points", "40", "--reason", "goodwill", "--by", "lea")
    assert code == 0 and "balance 40" in out
    code, _, err = run("adjust-points", "--customer", "c1", "--points", "0", "--reason", "x")
    assert code == 1 and err.count("\n") == 1 and "--points" in err
    code, out, _ = run("tier-override", "--customer", "c1", "--tier", "Silver", "--until", "2099-01-31",
                       "--reason", "staff", "--by", "lea")
    assert code == 0 and "Silver until 2099-01-31" in out
    (tmp_path / "m.csv").write_text("external_id,display_name,email\nx1,Ann,ann@example.org\nx2,Bo,bo@\n")
    code, out, _ = run("import", "members", str(tmp_path / "m.csv"))
    assert code == 0 and "2 rows, 1 added" in out and "row 3, email:" in out
    (tmp_path / "b.csv").write_text("external_id,points\nx1,70\n")
    code, out, _ = run("import", "balances", str(tmp_path / "b.csv"), "--json")
    assert code == 0 and json.loads(out) == {"file": "b.csv", "rows": 1, "added": 1, "unchanged": 0, "rejected": []}
