"""``store-edge hub`` commands for members: points corrections with who and why, the manual tier override,
merging two records, and the migration from another programme (``import members|balances FILE.csv``).

``register(add)`` takes the hub group's ``add(name, fn, help)`` (edge/cli/hub.py), so these commands share its
``--db`` option and error handling: a ``HubError`` or ``ValueError`` becomes one ``store-edge:`` line, exit 1.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.core.contract import MAX_POINTS_PER_ENTRY
from sync.hub.storage import HubStorage

Add = Callable[[str, Callable[[argparse.Namespace, Any], Any], str], argparse.ArgumentParser]
MAX_ADJUST = 10 * MAX_POINTS_PER_ENTRY  # one correction; larger movements are an import, not a correction


def _p(args: argparse.Namespace, text: str) -> None:
    print(text, file=getattr(args, "stdout", None) or sys.stdout)


def _who(args: argparse.Namespace) -> str:
    who = (args.by or "").strip() or getpass.getuser()
    if len(who) > 64:
        raise ValueError("--by is at most 64 characters")
    return who


def _reason(args: argparse.Namespace) -> str:
    reason = (args.reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValueError("--reason must say why, in 1 to 500 characters")
    return reason


def _adjust_points(args: argparse.Namespace, s: HubStorage) -> None:
    if args.points == 0 or abs(args.points) > MAX_ADJUST:
        raise ValueError(f"--points must be a whole number from -{MAX_ADJUST:,} to {MAX_ADJUST:,}, not 0")
    who, reason = _who(args), _reason(args)
    s.adjust_balance(args.customer, args.points, reason, who=who)
    _p(args, f"customer {args.customer}: {args.points:+d} points ({reason}, by {who}); balance "
             f"{s.balance(args.customer)}")


def _tier_override(args: argparse.Namespace, s: HubStorage) -> None:
    if args.clear:
        cid = s.set_tier_override(args.customer, None, who=_who(args))
        _p(args, f"customer {cid}: tier override cleared; the programme's tier applies")
        return
    if not args.tier or not args.until:
        raise ValueError("give --tier and --until (or --clear)")
    who = _who(args)
    cid = s.set_tier_override(args.customer, args.tier, reason=_reason(args), until=args.until, who=who)
    _p(args, f"customer {cid}: tier {args.tier} until {args.until} inclusive (by {who})")


def _merge(args: argparse.Namespace, s: HubStorage) -> None:
    result = s.merge_members(args.survivor, args.absorbed, who=f"admin:{_who(args)}", reason=_reason(args))
    done = "merged" if result["merged"] else "was already merged"
    _p(args, f"member {args.absorbed} {done} into {result['survivor_id']}: {result['points_moved']} points moved, "
             f"balance {result['balance']}")


def _import(args: argparse.Namespace, s: HubStorage) -> None:
    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    if args.what == "members":
        report = s.import_members(path, region=(args.region or "").upper())
    else:
        report = s.import_balances(path)
    if args.json:
        _p(args, json.dumps(report.to_json()))
        return
    _p(args, report.summary())
    for rejected in report.rejected:
        _p(args, f"  {rejected}")


def register(add: Add) -> None:
    sp = add("adjust-points", _adjust_points, "correct a customer's points, saying who and why (in the ledger)")
    sp.add_argument("--customer", required=True, help="the customer's id")
    sp.add_argument("--points", type=int, required=True, help="points to add (or take, negative)")
    sp.add_argument("--reason", required=True, help="why, in words the member may read in their history")
    sp.add_argument("--by", default=None, help="who makes the correction (default: the logged-in user)")
    sp = add("tier-override", _tier_override, "give a customer a tier until an end date, saying why (or --clear)")
    sp.add_argument("--customer", required=True, help="the customer's id")
    sp.add_argument("--tier", default=None, help="the tier to give, e.g. Gold")
    sp.add_argument("--until", default=None, metavar="YYYY-MM-DD", help="the last day the tier holds")
    sp.add_argument("--reason", default=None, help="why the tier is given")
    sp.add_argument("--by", default=None, help="who decides (default: the logged-in user)")
    sp.add_argument("--clear", action="store_true", help="end the override now")
    sp = add("merge-members", _merge, "merge two records of one member: the survivor keeps both ledgers")
    sp.add_argument("survivor", help="the member id that stays")
    sp.add_argument("absorbed", help="the member id merged into it (its card and contacts then find the survivor)")
    sp.add_argument("--reason", required=True, help="why the records are one member")
    sp.add_argument("--by", default=None, help="who merges (default: the logged-in user)")
    sp = add("import", _import, "import members or opening balances from another programme's CSV export")
    sp.add_argument("what", choices=["members", "balances"],
                    help="members: external_id,display_name[,email,phone,birthday,home_store_id,card_number,language,"
                         "consent_<name>,consent_wording_version]; balances: external_id,points")
    sp.add_argument("file", help="the CSV file (UTF-8, header row)")
    sp.add_argument("--region", default=None, help="country whose local phone numbers the file holds, e.g. ES")
    sp.add_argument("--json", action="store_true", help="the report as one JSON object")
