"""Rewards at the till: the catalogue pulled from the hub, and claiming one for the identified member.

A claim is written like a burn (``edge/store/sales.py``): in one ``BEGIN IMMEDIATE`` transaction, a ledger
``burn`` whose entry id is the claim id (marked offline without the hub), a ``reward_claims`` row, for an
``amount_off`` or ``coupon`` reward the member's single-use coupon (``contract.reward_coupon_code``), and the
``reward.claimed`` outbox event. A crash leaves all of it or none of it. The hub applies the claim once by its
id and confirms the entry in the member's profile (``applied_entry_ids``), as it does a burn.

The till refuses what it knows: a balance that does not cover the reward, and, without the hub, a claim over
the offline burn cap per member per day (``loyalty.offline_burn_cap_points``, the same cap as points redeemed
in sales). Messages are for the cashier, in the store's language (``tr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from edge.core.contract import EventType, RewardKind, reward_coupon_code
from edge.core.i18n import Translator
from edge.core.loyalty import Balance, LoyaltyRules
from edge.db.connection import immediate
from edge.store.repository import Repository
from sync.ids import uuid7
from sync.outbox import enqueue


class RewardError(Exception):
    """The reward was not claimed (nothing was written); the message says why, for the cashier."""


@dataclass(frozen=True)
class Reward:
    """A reward of the catalogue: ``points`` for a product (``gtin``), an amount off (``amount_cents``) or a
    coupon of ``offer_id`` (the amount_off reward's offer too)."""

    id: str
    name: str
    kind: str
    points: int
    gtin: str | None = None
    amount_cents: int | None = None
    offer_id: str | None = None


@dataclass(frozen=True)
class RewardClaim:
    """A claim written at this till: the member's balance after it (the burn pending until the hub confirms)
    and the coupon it issued (None for a product: the cashier hands the product over)."""

    claim_id: str
    reward: Reward
    customer_id: str
    coupon_code: str | None
    balance: Balance
    product_name: str | None = None


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rewards(db: sqlite_utils.Database) -> list[Reward]:
    """The live catalogue as pulled, cheapest first."""
    rows = db.execute("SELECT id, name, kind, points, gtin, amount_cents, offer_id FROM rewards "
                      "ORDER BY points, name").fetchall()
    return [Reward(*row) for row in rows]


def _check(db: sqlite_utils.Database, repo: Repository, reward: Reward, customer_id: str, rules: LoyaltyRules, *,
           hub_online: bool, now: datetime, tr: Translator) -> Balance:
    """The claim's checks against what the till knows, inside the transaction; the balance before."""
    balance = repo.balance(customer_id)
    if balance.available < reward.points:
        raise RewardError(tr._("{reward} needs {points} points; the member has {available}").format(
            reward=reward.name, points=reward.points, available=balance.available))
    if not hub_online:
        burned = repo.offline_burned_today(customer_id, now)
        if burned + reward.points > rules.offline_burn_cap_points:
            raise RewardError(tr._("the hub is offline: at most {cap} points a day per member may be spent until "
                                   "it is back ({burned} spent today)").format(
                cap=rules.offline_burn_cap_points, burned=burned))
    if reward.offer_id and db.execute("SELECT 1 FROM offers WHERE id = ?", [reward.offer_id]).fetchone() is None:
        raise RewardError(tr._("the coupon of {reward} has not reached this till yet; sync the till and try "
                               "again").format(reward=reward.name))
    return balance


def claim(db: sqlite_utils.Database, rules: LoyaltyRules, reward_id: str, customer_id: str, *, hub_online: bool,
          now: datetime, tr: Translator) -> RewardClaim:
    """Claim ``reward_id`` for ``customer_id`` (see the module docstring). Raises ``RewardError`` (nothing
    written) for an unknown reward or member, a balance that does not cover it, or the offline cap."""
    repo = Repository(db)
    with immediate(db):
        row = db.execute("SELECT id, name, kind, points, gtin, amount_cents, offer_id FROM rewards WHERE id = ?",
                         [reward_id]).fetchone()
        if row is None:
            raise RewardError(tr._("this reward is no longer offered"))
        reward = Reward(*row)
        if db.execute("SELECT 1 FROM customers WHERE id = ?", [customer_id]).fetchone() is None:
            raise RewardError(tr._("scan the member's loyalty card first"))
        before = _check(db, repo, reward, customer_id, rules, hub_online=hub_online, now=now, tr=tr)
        claim_id, created = uuid7(), _iso(now)
        code = reward_coupon_code(claim_id) if reward.offer_id else None
        reason = f"reward: {reward.name}"
        db.execute("""INSERT INTO ledger (entry_id, customer_id, kind, points, sale_id, reason, offline, created_at)
                      VALUES (?, ?, 'burn', ?, NULL, ?, ?, ?)""",
                   [claim_id, customer_id, reward.points, reason, 0 if hub_online else 1, created])
        db.execute("""INSERT INTO reward_claims (claim_id, reward_id, name, customer_id, points, coupon_code,
                      created_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                   [claim_id, reward.id, reward.name, customer_id, reward.points, code, created])
        if code is not None:
            db.execute("INSERT INTO coupons (code, offer_id, customer_id, single_use) VALUES (?, ?, ?, 1)",
                       [code, reward.offer_id, customer_id])
        enqueue(db, EventType.REWARD_CLAIMED, {"claim_id": claim_id, "reward_id": reward.id,
                                               "customer_id": customer_id, "points": reward.points,
                                               "coupon_code": code, "created_at": created})
    product = repo.product(reward.gtin) if reward.kind == RewardKind.PRODUCT and reward.gtin else None
    after = Balance(before.confirmed, before.pending_earn, before.pending_burn + reward.points)
    return RewardClaim(claim_id, reward, customer_id, code, after, product.name if product else None)
