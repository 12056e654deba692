"""Claiming a reward at the till (issue 15 item 3): a till session against a real seeded SQLite file.

The claim is one transaction with its ``reward.claimed`` event (a crash leaves all of it or none), works
offline within the offline burn cap, refuses what the balance cannot cover, and a coupon reward's coupon goes
on the sale and is redeemed by it.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from edge.db import open_database
from edge.demo.seed import demo_card, demo_gtin
from edge.session import TillSession
from edge.settings import Settings
from tests.conftest import FIXED_NOW

BRAM = demo_card(1)  # C1001, 1,500 confirmed points


def _session(settings: Settings) -> TillSession:
    return TillSession(settings, open_database(settings.database_path), clock=lambda: FIXED_NOW)


def _outbox(session: TillSession) -> list[tuple[str, dict]]:
    return [(t, json.loads(p)) for t, p in session.db.execute("SELECT type, payload FROM outbox ORDER BY seq")]


def test_a_product_reward_is_claimed_offline_with_its_event_in_one_transaction(demo_settings: Settings) -> None:
    session = _session(demo_settings)
    assert not session.claim_reward("free-coffee").ok  # no member on the sale
    session.scan(BRAM)
    outcome = session.claim_reward("free-coffee")
    assert outcome.ok and outcome.kind == "reward"
    assert outcome.message == ("Free coffee claimed for 500 points: hand over Ground Coffee 250g; "
                               "1000 points left")
    assert session.customer is not None and session.customer.balance.available == 1000
    [(kind, payload)] = _outbox(session)
    assert kind == "reward.claimed" and payload["reward_id"] == "free-coffee" and payload["points"] == 500
    assert payload["customer_id"] == "C1001" and payload["coupon_code"] is None
    ledger = session.db.execute("SELECT entry_id, kind, points, offline FROM ledger").fetchall()
    assert ledger == [(payload["claim_id"], "burn", 500, 1)]


def test_the_balance_and_the_offline_cap_refuse_a_claim_and_nothing_is_written(demo_settings: Settings) -> None:
    capped = demo_settings.replace(loyalty=dataclasses.replace(demo_settings.loyalty, offline_burn_cap_points=1000))
    session = _session(capped)
    session.scan(BRAM)
    assert session.claim_reward("five-off").ok  # 800 of the 1,000 a day offline
    refused = session.claim_reward("free-coffee")
    assert not refused.ok and "at most 1000 points a day" in refused.message and "800 spent today" in refused.message
    session.hub_online = True  # with the hub the cap does not apply; the balance does
    assert session.claim_reward("free-coffee").ok  # 1,300 of 1,500
    refused = session.claim_reward("free-coffee")
    assert refused.message == "Free coffee needs 500 points; the member has 200"
    assert [t for t, _ in _outbox(session)].count("reward.claimed") == 2
    assert session.db.execute("SELECT count(*) FROM reward_claims").fetchone()[0] == 2


def test_a_failure_before_commit_leaves_no_claim(demo_settings: Settings) -> None:
    """The outbox write is the claim's last step: when it fails (here its table is gone, a real SQLite error)
    the burn, the claim row and the coupon written before it in the transaction are gone too."""
    session = _session(demo_settings)
    session.scan(BRAM)
    session.db.execute("DROP TABLE outbox")
    with pytest.raises(sqlite3.OperationalError, match="outbox"):
        session.claim_reward("five-off")
    for table in ("ledger", "reward_claims"):
        assert session.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert session.db.execute("SELECT count(*) FROM coupons WHERE code LIKE 'RW-%'").fetchone()[0] == 0


def test_an_amount_off_reward_puts_its_coupon_on_the_sale_which_redeems_it(demo_settings: Settings) -> None:
    session = _session(demo_settings)
    session.scan(BRAM)
    session.add_gtin(demo_gtin(1), 10)
    before = session.settlement().amount_due_cents
    outcome = session.claim_reward("five-off")
    assert outcome.ok and "is on this sale" in outcome.message
    code = next(iter(session.basket.coupons))
    assert code.startswith("RW-") and session.settlement().amount_due_cents == before - 500
    sale = session.complete("card")
    kinds = [t for t, _ in _outbox(session)]
    assert kinds[0] == "reward.claimed" and "coupon.redeemed" in kinds and kinds[-1] == "sale.completed"
    assert session.db.execute("SELECT redeemed_sale_id FROM coupons WHERE code = ?", [code]).fetchone() == (
        sale.sale_id,)


def test_a_parked_sale_keeps_its_claimed_rewards_for_the_receipt(demo_settings: Settings) -> None:
    """A reward's points are spent when it is claimed; parking the sale and recalling it (after a restart) keeps
    the reward on the sale, so the receipt still names it, and its coupon still applies."""
    session = _session(demo_settings)
    session.scan(BRAM)
    session.add_gtin(demo_gtin(1), 10)
    assert session.claim_reward("free-coffee").ok and session.claim_reward("five-off").ok
    due = session.settlement().amount_due_cents
    assert session.park().ok and session.sale_rewards == []
    session.db.close()

    again = _session(demo_settings)  # a restart between park and recall
    [parked] = again.parked()
    assert again.recall(parked.id).ok
    assert again.settlement().amount_due_cents == due  # the reward's coupon is back on the sale
    sale = again.complete("card")
    assert sale.reward_points == 500 + 800  # both rewards, as claimed before parking
    assert "Free coffee" in sale.receipt and "EUR 5 off" in sale.receipt, sale.receipt
