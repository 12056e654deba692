"""``store-edge hub`` commands for the loyalty programme's extras: the reward catalogue (``hub reward add |
list | retire``), event bonuses (``hub set-bonus``, ``hub award-referral``) and next-order coupons
(``hub set-next-order-coupon``). ``hub issue-birthday-coupons`` is wired in ``edge/cli/hub.py`` (its default
amount is the till's ``loyalty.birthday_coupon_cents`` setting) and calls ``HubStorage.issue_birthday_coupons``.

``register(add)`` takes the hub group's ``add(name, fn, help)`` (edge/cli/hub.py) so these commands share its
``--db`` option and error handling: a ``HubError`` or ``ValueError`` becomes one ``store-edge:`` line, exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from edge.core.catalog import InvalidGtin, normalize_gtin
from sync.hub.bonuses import BonusKind
from sync.hub.personal_coupons import NextOrderRule
from sync.hub.storage import HubStorage

Add = Callable[[str, Callable[[argparse.Namespace, Any], Any], str], argparse.ArgumentParser]


def _p(args: argparse.Namespace, text: str) -> None:
    print(text, file=getattr(args, "stdout", None) or sys.stdout)


def _reward_add(args: argparse.Namespace, s: HubStorage) -> None:
    doc: dict[str, Any] = {"id": args.id, "name": args.name, "points": args.points}
    if args.product is not None:
        try:
            doc.update(kind="product", gtin=normalize_gtin(args.product))
        except InvalidGtin as exc:
            raise ValueError(f"--product: {exc}") from None
    elif args.amount_cents is not None:
        doc.update(kind="amount_off", amount_cents=args.amount_cents)
    else:
        doc.update(kind="coupon", offer_id=args.offer)
    reward = s.add_reward(doc)
    _p(args, f"reward {reward['id']} saved: {_describe(reward)}; the tills receive it at their next pull")


def _describe(r: dict[str, Any]) -> str:
    gives = {"product": f"product {r.get('gtin')}", "amount_off": f"{r.get('amount_cents')} cents off",
             "coupon": f"a coupon of offer {r.get('offer_id')}"}[r["kind"]]
    return f"{r['name']!r}, {r['points']} points for {gives}"


def _reward_list(args: argparse.Namespace, s: HubStorage) -> None:
    rows = s.rewards(include_retired=args.all)
    if args.json:
        _p(args, json.dumps(rows))
        return
    if not rows:
        _p(args, "no rewards (hub reward add ...)")
    for r in rows:
        _p(args, f"{r['id']}: {_describe(r)}" + (f" (retired {r['retired_at'][:10]})" if r["retired_at"] else ""))


def _reward_retire(args: argparse.Namespace, s: HubStorage) -> None:
    s.retire_reward(args.id)
    _p(args, f"reward {args.id} retired; the tills drop it at their next pull (claims made stay valid)")


def _reward(args: argparse.Namespace, s: HubStorage) -> None:
    {"add": _reward_add, "list": _reward_list, "retire": _reward_retire}[args.reward_command](args, s)


def _set_bonus(args: argparse.Namespace, s: HubStorage) -> None:
    rule = s.set_bonus(args.kind, args.points, args.cap_per_year)
    if rule.points == 0:
        _p(args, f"the {rule.kind} bonus is off")
        return
    cap = f", at most {rule.cap_per_year} per referrer per year" if rule.cap_per_year else ""
    _p(args, f"the {rule.kind} bonus is {rule.points} points{cap}")


def _award_referral(args: argparse.Namespace, s: HubStorage) -> None:
    _p(args, s.award_referral(args.referrer, args.referee))


def _set_next_order(args: argparse.Namespace, s: HubStorage) -> None:
    s.set_next_order_coupon(NextOrderRule(args.min_total_cents, args.amount_cents, args.valid_days))
    if args.amount_cents == 0:
        _p(args, "next-order coupons are off")
    else:
        _p(args, f"a member's sale of {args.min_total_cents} cents or more issues a {args.amount_cents}-cent coupon "
                 f"for the next visit, valid {args.valid_days} days")


def _db_option(sp: argparse.ArgumentParser) -> None:
    # also after the action (``hub reward add --db X``); the group's own --db comes before it
    sp.add_argument("--db", default=argparse.SUPPRESS, help="SQLite file or postgresql:// DSN of the hub")


def _register_reward(add: Add) -> None:
    sp = add("reward", _reward, "the reward catalogue: add, list or retire rewards members claim with points")
    sub = sp.add_subparsers(dest="reward_command", metavar="ACTION", required=True)
    ap = sub.add_parser("add", help="add or change a reward", description="Add or change a reward: points for a "
                        "product, a fixed amount off, or a coupon of an offer that needs one.")
    _db_option(ap)
    ap.add_argument("--id", required=True, help="the reward's id (letters, digits, '.', '_', '-'), e.g. free-coffee")
    ap.add_argument("--name", required=True, help="what the cashier and the member read, e.g. 'Free coffee'")
    ap.add_argument("--points", type=int, required=True, help="the points it costs (1..100000)")
    gives = ap.add_mutually_exclusive_group(required=True)
    gives.add_argument("--product", metavar="GTIN", help="a product handed over at the till")
    gives.add_argument("--amount-cents", type=int, help="a fixed amount off the basket (a single-use coupon)")
    gives.add_argument("--offer", metavar="OFFER_ID", help="a single-use coupon of this offer (one that needs a coupon)")
    lp = sub.add_parser("list", help="the live rewards", description="The live rewards (--all: retired ones too).")
    _db_option(lp)
    lp.add_argument("--all", action="store_true", help="retired rewards too")
    lp.add_argument("--json", action="store_true", help="one JSON array instead of lines")
    rp = sub.add_parser("retire", help="stop offering a reward", description="Stop offering a reward; the tills "
                        "drop it at their next pull.")
    _db_option(rp)
    rp.add_argument("id", help="the reward's id")


def register(add: Add) -> None:
    _register_reward(add)
    sp = add("set-bonus", _set_bonus, "an event bonus: points for signing up, a first purchase, a birthday or a "
             "referral")
    sp.add_argument("kind", choices=list(BonusKind), help="which event")
    sp.add_argument("--points", type=int, required=True, help="the points it gives (0: off)")
    sp.add_argument("--cap-per-year", type=int, default=0,
                    help="referral only: at most this many bonuses per referrer per calendar year (0: no cap)")
    sp = add("award-referral", _award_referral, "give the referrer the referral bonus for a member they brought")
    sp.add_argument("--referrer", required=True, help="the member who referred")
    sp.add_argument("--referee", required=True, help="the new member they referred")
    sp = add("set-next-order-coupon", _set_next_order,
             "next-order coupons: a member's sale over a minimum issues a single-use coupon for the next visit")
    sp.add_argument("--amount-cents", type=int, required=True, help="what the coupon takes off (0: off)")
    sp.add_argument("--min-total-cents", type=int, default=0, help="the smallest sale that earns one (default any)")
    sp.add_argument("--valid-days", type=int, default=30, help="days the coupon is valid (30)")
