"""The reward catalogue at the hub and the claims of its rewards (issue 15 item 3).

A reward is points for a product (``gtin``: handed over at the till), a fixed amount off (``amount_cents``: the
hub makes the offer ``reward-<id>``, an amount off the basket that needs its coupon) or a coupon of an
existing offer that needs one (``offer_id``). Claiming a reward of the last two kinds issues a single-use
personal coupon (``contract.reward_coupon_code``). The catalogue reaches every store (``ChangeKind.REWARD``);
a retired reward reaches them as gone.

A claim is applied once by its claim id, through ``ledger.post_points`` (reason ``reward: <name>``, source
``reward:<claim id>``, entry id = claim id, so the till that wrote the claim sees it confirmed in the profile's
``applied_entry_ids``). A till's claim (``reward.claimed``, made offline or not) stands even when the balance
cannot cover it: it is applied and reported as an ``overdraft``, like a burn. The hub charges the
catalogue's points; a till that said otherwise is reported (``reward_points_differ``). A claim through the API
(the app) is refused when the balance cannot cover it. Functions take the caller's transaction; refusals
raise ``HubError``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, select, update

from edge.core.contract import (
    ChangeKind,
    RewardKind,
    reward_coupon_code,
    reward_offer_id,
    reward_problem,
)
from sync.hub import members, offers
from sync.hub.changes import record
from sync.hub.common import HubError, now_iso
from sync.hub.db import insert
from sync.hub.ids import new_id
from sync.hub.ledger import Batch, existing_entries, post_points
from sync.hub.tables import customers, reward_claims, rewards

_COUNT: Any = {"preserve_rowcount": True}
_FIELDS = ("id", "name", "kind", "points", "gtin", "amount_cents", "offer_id")


def _reward(conn: Connection, reward_id: str) -> dict[str, Any] | None:
    r = rewards.c
    row = conn.execute(select(r.id, r.name, r.kind, r.points, r.gtin, r.amount_cents, r.offer_id, r.retired_at)
                       .where(r.id == reward_id)).first()
    return None if row is None else dict(row._mapping)


def add(conn: Connection, doc: dict[str, Any]) -> dict[str, Any]:
    """Create or change a reward (``contract.reward_problem`` rules; ``HubError 'bad_reward'`` with the reason).
    A coupon reward's offer must exist and need a coupon (else its discount would reach every basket); an
    amount_off reward gets its offer ``reward-<id>``. A retired reward added again is live again. Every store
    re-reads it. Returns the reward as the tills receive it."""
    problem = reward_problem(doc)
    if problem:
        raise HubError("bad_reward", problem)
    kind = RewardKind(doc["kind"])
    reward = {"id": doc["id"], "name": str(doc["name"]).strip(), "kind": kind.value, "points": int(doc["points"]),
              "gtin": doc.get("gtin") if kind is RewardKind.PRODUCT else None,
              "amount_cents": doc.get("amount_cents") if kind is RewardKind.AMOUNT_OFF else None,
              "offer_id": doc.get("offer_id") if kind is RewardKind.COUPON else None}
    if kind is RewardKind.COUPON:
        offer = offers.offer_snapshot(conn, str(reward["offer_id"]), "")
        if offer is None or offer.get("customer_id") or not offer.get("requires_coupon"):
            raise HubError("bad_reward", f"reward {reward['id']}: offer {reward['offer_id']!r} must exist, be for "
                           "everyone and need a coupon (hub create-offer --coupon ...)")
    if kind is RewardKind.AMOUNT_OFF:
        reward["offer_id"] = reward_offer_id(reward["id"])
        offers.upsert_offer(conn, offers.normalise_offer({
            "id": reward["offer_id"], "kind": "amount_off_basket", "name": reward["name"],
            "params": {"amount_cents": reward["amount_cents"], "threshold_cents": 0},
            "requires_coupon": True, "stackable": True}))
    now = now_iso()
    stmt = insert(conn, rewards).values(**reward, created_at=now, updated_at=now, retired_at=None)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
        k: stmt.excluded[k] for k in (*_FIELDS[1:], "updated_at", "retired_at")}))
    record(conn, ChangeKind.REWARD, reward["id"])
    return reward


def retire(conn: Connection, reward_id: str) -> None:
    """The reward is no longer offered: every store drops it (claims made before stay valid)."""
    found = conn.execute(update(rewards).where(rewards.c.id == reward_id, rewards.c.retired_at.is_(None))
                         .values(retired_at=now_iso(), updated_at=now_iso()), execution_options=_COUNT).rowcount
    if not found:
        raise HubError("unknown_reward", f"there is no live reward {reward_id!r} (hub reward list)", 404)
    record(conn, ChangeKind.REWARD, reward_id)


def listing(conn: Connection, *, include_retired: bool = False) -> list[dict[str, Any]]:
    """The catalogue, by id: each reward with ``retired_at`` (None while live)."""
    r = rewards.c
    query = select(r.id, r.name, r.kind, r.points, r.gtin, r.amount_cents, r.offer_id, r.retired_at).order_by(r.id)
    if not include_retired:
        query = query.where(r.retired_at.is_(None))
    return [dict(row._mapping) for row in conn.execute(query)]


def snapshot(conn: Connection, reward_id: str, _store_id: str) -> dict[str, Any] | None:
    """The reward as every store receives it; None (the till drops it) once retired or unknown."""
    reward = _reward(conn, reward_id)
    if reward is None or reward["retired_at"] is not None:
        return None
    return {k: reward[k] for k in _FIELDS}


def till_claim_problem(conn: Connection, payload: dict[str, Any], pending: Collection[str] = ()) -> str | None:
    """Why a till's ``reward.claimed`` cannot be applied (a rejection reason), or None: the reward must be one
    the hub has had in its catalogue (a retired one still counts: the till may have claimed it offline
    before it learned), a coupon code, when given, must be the one the claim id gives, and the claim id must not
    be a points movement's entry id already (``pending``: the entry ids of the batch being applied), since the
    claim's burn is posted under it and would be skipped as a repeat: a free reward."""
    reward = _reward(conn, payload["reward_id"])
    if reward is None:
        return f"reward {payload['reward_id']!r} is not in the hub's catalogue: a till may only claim rewards " \
               "the hub has sent"
    if _entry_taken(conn, payload["claim_id"], pending):
        return f"claim id {payload['claim_id']!r} is already the id of another points movement; a claim's id " \
               "must be new"
    code = payload.get("coupon_code")
    if code is not None and code != reward_coupon_code(payload["claim_id"]):
        return f"coupon code {code!r} is not the one claim {payload['claim_id']} issues"
    return None


def apply_claim(conn: Connection, claim: dict[str, Any], *, channel: str, store_id: str, device_id: str,
                event_id: str, batch: Batch | None = None) -> bool:
    """Record a claim (``claim_id, reward_id, customer_id, points, created_at``; checked by the caller) and
    post its points once; False when this claim id was applied before. The catalogue's points are charged;
    a till's different figure is reported (``reward_points_differ``); the coupon of a coupon reward is issued
    to the member (``single use``). The caller tells the stores (``customer_changed``)."""
    reward = _reward(conn, claim["reward_id"])
    assert reward is not None  # till_claim_problem / the API checked it
    at, received = str(claim.get("created_at") or now_iso()), now_iso()
    code = (claim.get("coupon_code") or reward_coupon_code(claim["claim_id"])) if reward["offer_id"] else None
    added = conn.execute(insert(conn, reward_claims).values(
        claim_id=claim["claim_id"], reward_id=reward["id"], customer_id=claim["customer_id"],
        points=int(reward["points"]), coupon_code=code, channel=channel, store_id=store_id, device_id=device_id,
        claimed_at=at, received_at=received).on_conflict_do_nothing(), execution_options=_COUNT).rowcount
    if not added:
        return False
    if int(claim["points"]) != int(reward["points"]) and batch is not None:
        batch.report("reward_points_differ", f"claim {claim['claim_id']} of reward {reward['id']} in store "
                     f"{store_id} said {claim['points']} points; the catalogue's {reward['points']} were charged",
                     entry_id=claim["claim_id"], customer_id=claim["customer_id"], store_id=store_id,
                     device_id=device_id)
    post_points(conn, customer_id=claim["customer_id"], points=-int(reward["points"]),
                reason=f"reward: {reward['name']}", source=f"reward:{claim['claim_id']}",
                entry_id=claim["claim_id"], at=at, store_id=store_id, device_id=device_id, event_id=event_id,
                batch=batch)
    if code is not None and not offers.coupon_exists(conn, code):
        offers.create_coupon(conn, code, str(reward["offer_id"]), claim["customer_id"], True)
    return True


def claim_online(conn: Connection, customer_id: str, reward_id: str, claim_id: str) -> tuple[dict[str, Any], bool]:
    """A claim through the hub API (the app): the member and a live reward must exist and the balance must
    cover it (``HubError`` 404/409 otherwise; the customer row is locked, so two claims at once cannot both
    spend the same points). Idempotent by ``claim_id``: the same id again answers the first claim.
    Returns (the claim, whether it was made now). A member record merged into another claims as the survivor
    (``members.resolve_id``)."""
    customer_id = members.resolve_id(conn, customer_id) or customer_id
    balance = conn.execute(select(customers.c.balance).where(customers.c.id == customer_id)
                           .with_for_update()).scalar()
    if balance is None:
        raise HubError("unknown_customer", f"there is no member {customer_id!r}", 404)
    earlier = _earlier_claim(conn, customer_id, reward_id, claim_id)
    if earlier is not None:
        return earlier, False
    reward = _reward(conn, reward_id)
    if reward is None or reward["retired_at"] is not None:
        raise HubError("unknown_reward", f"there is no live reward {reward_id!r}", 404)
    if int(balance) < int(reward["points"]):
        raise HubError("insufficient_points", f"reward {reward['name']!r} needs {reward['points']} points; the "
                       f"member has {int(balance)}", 409)
    if _entry_taken(conn, claim_id):  # the burn's entry id is the claim id: an existing one would post nothing
        raise HubError("claim_id_taken", f"claim id {claim_id!r} is already the id of another points movement; "
                       "send a new claim id", 409)
    # the app's claim id may be short or guessable: the coupon code comes from a fresh random id instead
    made = apply_claim(conn, {"claim_id": claim_id, "reward_id": reward_id, "customer_id": customer_id,
                              "points": reward["points"], "created_at": now_iso(),
                              "coupon_code": reward_coupon_code(new_id())},
                       channel="app", store_id="hub", device_id="api", event_id="api")
    if not made:  # another member's claim with this id committed meanwhile (their row was locked, not ours)
        earlier = _earlier_claim(conn, customer_id, reward_id, claim_id)
        if earlier is None:
            raise HubError("claim_id_taken", f"claim id {claim_id!r} was used for another claim", 409)
        return earlier, False
    return _claim_answer(conn, claim_id), True


def _earlier_claim(conn: Connection, customer_id: str, reward_id: str, claim_id: str) -> dict[str, Any] | None:
    """The answer of the claim ``claim_id`` made before for this member and reward, None when there is none;
    ``HubError`` 409 when the id belongs to another member's or another reward's claim (never shown)."""
    done = conn.execute(select(reward_claims.c.reward_id, reward_claims.c.customer_id)
                        .where(reward_claims.c.claim_id == claim_id)).first()
    if done is None:
        return None
    if (done[0], done[1]) != (reward_id, customer_id):
        raise HubError("claim_id_taken", f"claim id {claim_id!r} was used for another claim", 409)
    return _claim_answer(conn, claim_id)


def _entry_taken(conn: Connection, claim_id: str, pending: Collection[str] = ()) -> bool:
    """Whether ``claim_id`` is already a ledger entry id (in the database or ``pending``: the entries of the
    batch being applied) that no claim with this id posted: the claim's burn would then post nothing."""
    has_claim = conn.execute(select(reward_claims.c.claim_id).where(reward_claims.c.claim_id == claim_id)).first()
    return has_claim is None and (claim_id in pending or bool(existing_entries(conn, [claim_id])))


def _claim_answer(conn: Connection, claim_id: str) -> dict[str, Any]:
    c = reward_claims.c
    row = conn.execute(select(c.claim_id, c.reward_id, c.customer_id, c.points, c.coupon_code, c.claimed_at,
                              rewards.c.name, rewards.c.kind, rewards.c.gtin)
                       .join_from(reward_claims, rewards, rewards.c.id == c.reward_id)
                       .where(c.claim_id == claim_id)).one()
    balance = conn.execute(select(customers.c.balance).where(customers.c.id == row.customer_id)).scalar()
    return {"claim_id": row.claim_id, "reward_id": row.reward_id, "name": row.name, "kind": row.kind,
            "points": int(row.points), "coupon_code": row.coupon_code, "gtin": row.gtin,
            "claimed_at": row.claimed_at, "balance": int(balance or 0)}
