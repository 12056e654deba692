"""``store-edge hub`` commands for presence data, consent, revocations and erasure.

``register(add)`` takes the hub group's ``add(name, fn, help)`` (edge/cli/hub.py) so these commands share its
``--db`` option and error handling: a ``HubError`` or ``ValueError`` becomes one ``store-edge:`` line, exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.hub.storage import HubError, HubStorage

Add = Callable[[str, Callable[[argparse.Namespace, Any], Any], str], argparse.ArgumentParser]


def _p(args: argparse.Namespace, text: str) -> None:
    print(text, file=getattr(args, "stdout", None) or sys.stdout)


def _link_tag(args: argparse.Namespace, s: HubStorage) -> None:
    key = f"ibeacon:{args.ibeacon}" if args.ibeacon else f"eddystone-uid:{args.eddystone_uid}"
    ident = s.link_tag(args.customer, key)
    _p(args, f"tag {ident} linked to customer {args.customer} (sent to stores while location consent lasts)")


def _set_eid_key(args: argparse.Namespace, s: HubStorage) -> None:
    ident = s.set_eid_key(args.customer, args.key, args.exponent, args.clock_offset)
    _p(args, f"EID identity key {ident} saved for customer {args.customer}")


def _unlink(args: argparse.Namespace, s: HubStorage) -> None:
    if not s.unlink_identity(args.id):
        raise HubError("unknown_identity", f"there is no tag or EID key {args.id!r}")
    _p(args, f"{args.id} unlinked; the stores delete it at their next pull")


def _add_store_beacon(args: argparse.Namespace, s: HubStorage) -> None:
    key = s.add_store_beacon(args.store, args.key, args.zone, args.label)
    _p(args, f"store beacon {key} marks zone {args.zone} in store {args.store}")


def _remove_store_beacon(args: argparse.Namespace, s: HubStorage) -> None:
    if not s.remove_store_beacon(args.store, args.key):
        raise HubError("unknown_beacon", f"store {args.store} has no beacon {args.key!r}")
    _p(args, f"store beacon {args.key} removed from store {args.store}")


def _presence_rule(args: argparse.Namespace, s: HubStorage) -> None:
    if args.remove:
        if not s.remove_presence_rule(args.store, args.remove):
            raise HubError("unknown_rule", f"store {args.store} has no presence rule {args.remove!r}")
        _p(args, f"presence rule {args.remove} removed from store {args.store}")
        return
    if not args.file:
        raise ValueError("give --file rule.json (or --remove CAMPAIGN_ID)")
    try:
        rule = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{args.file} is not valid JSON ({exc})") from None
    _p(args, f"presence rule {s.set_presence_rule(args.store, rule)} saved for store {args.store}")


def _set_consent(args: argparse.Namespace, s: HubStorage) -> None:
    s.set_consent(args.customer, args.consent, args.state == "on")
    _p(args, f"customer {args.customer}: {args.consent} consent {args.state}")


def _revoke_coupon(args: argparse.Namespace, s: HubStorage) -> None:
    if not s.coupon_exists(args.code):
        raise HubError("unknown_coupon", f"there is no coupon {args.code!r}")
    s.revoke_coupon(args.code)
    _p(args, f"coupon {args.code} revoked; tills drop it at their next pull")


def _revoke_key(args: argparse.Namespace, s: HubStorage) -> None:
    if not s.signing_key_exists(args.kid):
        raise HubError("unknown_key", f"there is no signing key {args.kid!r}")
    s.revoke_signing_key(args.kid)
    _p(args, f"signing key {args.kid} revoked; app codes signed with it are refused after the next pull")


def _forget_customer(args: argparse.Namespace, s: HubStorage) -> None:
    stores = s.forget_customer(args.customer)
    _p(args, f"customer {args.customer} erased; {len(stores)} store(s) delete them at their next pull")


def register(add: Add) -> None:
    sp = add("link-tag", _link_tag, "link a registered tag to a customer")
    sp.add_argument("--customer", required=True, help="the customer's id")
    tag = sp.add_mutually_exclusive_group(required=True)
    tag.add_argument("--ibeacon", metavar="UUID:MAJOR:MINOR", help="an iBeacon tag: its UUID, major and minor")
    tag.add_argument("--eddystone-uid", metavar="NAMESPACE:INSTANCE",
                     help="an Eddystone-UID tag: 20 hex digits of namespace, 12 of instance")
    sp = add("set-eid-key", _set_eid_key, "the loyalty app's Eddystone-EID identity key for a customer")
    sp.add_argument("--customer", required=True, help="the customer's id")
    sp.add_argument("--key", required=True, help="16-byte identity key, 32 hex digits")
    sp.add_argument("--exponent", type=int, required=True, help="rotation period exponent K (0..15)")
    sp.add_argument("--clock-offset", type=int, default=0, help="unix time minus the beacon's time, seconds")
    sp = add("unlink-identity", _unlink, "remove a tag (its beacon key) or an EID key (eid:CUSTOMER)")
    sp.add_argument("id", help="the tag's beacon key (e.g. ibeacon:UUID:MAJOR:MINOR) or eid:CUSTOMER")
    sp = add("add-store-beacon", _add_store_beacon, "a fixed beacon marking a zone of a store")
    sp.add_argument("--store", required=True, help="the store's id")
    sp.add_argument("--key", required=True, help="ibeacon:UUID:MAJOR:MINOR, eddystone-uid:NS:INST or altbeacon:ID")
    sp.add_argument("--zone", required=True, help="the zone the beacon marks, e.g. entrance")
    sp.add_argument("--label", default="", help="a note for people, e.g. where it is mounted")
    sp = add("remove-store-beacon", _remove_store_beacon, "remove a store beacon")
    sp.add_argument("--store", required=True, help="the store's id")
    sp.add_argument("--key", required=True, help="the beacon's key, as given to add-store-beacon")
    sp = add("presence-rule", _presence_rule, "save (or --remove) a store's presence rule from a JSON file")
    sp.add_argument("--store", required=True, help="the store's id")
    sp.add_argument("--file", default=None,
                    help='a JSON file holding one rule: {"campaign_id": ..., "zone": ..., "trigger": "enter" or '
                         '"dwell", "offer": {"kind": ..., "name": ..., "params": {...}}, ...} '
                         "(edge.core.presence_offers.rule_from_dict)")
    sp.add_argument("--remove", default=None, metavar="CAMPAIGN_ID", help="remove the rule of this campaign")
    sp = add("set-consent", _set_consent, "turn one consent of a customer on or off (e.g. location)")
    sp.add_argument("--customer", required=True, help="the customer's id")
    sp.add_argument("--consent", default="location",
                    help="which consent: location (presence at the stores) or another the programme records "
                         "(default location)")
    sp.add_argument("state", choices=["on", "off"], help="give (on) or withdraw (off) the consent")
    sp = add("revoke-coupon", _revoke_coupon, "revoke a coupon everywhere")
    sp.add_argument("code", help="the coupon code")
    sp = add("revoke-key", _revoke_key, "revoke a loyalty-token signing key")
    sp.add_argument("kid", help="the key id (kid) shown by rotate-key")
    sp = add("forget-customer", _forget_customer, "erase a customer; the stores delete them")
    sp.add_argument("customer", help="the customer's id")
