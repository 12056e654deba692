"""Offers and coupons at the hub, and the catalogue of products.

An offer is stored as its JSON document (the shape the till's ``edge.core.offers`` runs); a personal offer
(``customer_id`` set) and its coupons reach only the stores that customer is relevant to. Coupon codes are
single-use unless created otherwise; a reuse is reported, never refused (the sale already happened).
Prices in cents, VAT rates in basis points. Functions take the caller's transaction; refusals raise
``HubError``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from edge.core import contract
from edge.core.contract import ChangeKind
from sync.hub.changes import record, record_many, record_scoped, relevant_stores
from sync.hub.common import HubError, chunks, now_iso
from sync.hub.db import insert
from sync.hub.tables import coupons, offers, products

_PRODUCT = ("gtin", "name", "price_cents", "vat_rate_bp", "category")


# ------------------------------------------------------------------------------------------- products
def upsert_products(conn: Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Create or update products (``gtin, name, price_cents, vat_rate_bp, category``); every store re-reads
    them. Returns how many."""
    now = now_iso()
    params = [{"gtin": r["gtin"], "name": r["name"], "price_cents": int(r["price_cents"]),
               "vat_rate_bp": int(r["vat_rate_bp"]), "category": r["category"], "updated_at": now} for r in rows]
    if not params:
        return 0
    stmt = insert(conn, products)
    conn.execute(stmt.on_conflict_do_update(index_elements=["gtin"], set_={
        k: stmt.excluded[k] for k in ("name", "price_cents", "vat_rate_bp", "category", "updated_at")}), params)
    record_many(conn, [(ChangeKind.PRODUCT, p["gtin"], None) for p in params])
    return len(params)


def _catalog_row(path: Path, lineno: int, r: dict[str, str]) -> dict[str, Any]:
    gtin = (r["gtin"] or "").strip()
    if not gtin.isdigit() or len(gtin) > 14:
        raise HubError("bad_csv", f"{path} line {lineno}: gtin {gtin!r} is not a GTIN")
    try:
        price, vat = int(r["price_cents"]), int(r["vat_rate_bp"])
    except (TypeError, ValueError):
        raise HubError("bad_csv", f"{path} line {lineno}: price_cents and vat_rate_bp must be "
                       "whole numbers") from None
    if price < 0 or not 0 <= vat <= 10_000:
        raise HubError("bad_csv", f"{path} line {lineno}: price or VAT rate out of range")
    return {"gtin": gtin.zfill(14), "name": r["name"].strip(), "price_cents": price, "vat_rate_bp": vat,
            "category": (r["category"] or "").strip() or "general"}


def read_catalog_csv(path: Path) -> list[dict[str, Any]]:
    """CSV columns: gtin,name,price_cents,vat_rate_bp,category. Errors (``HubError 'bad_csv'``) name the line
    and the column; nothing is imported from a file with an error."""
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = set(_PRODUCT) - set(reader.fieldnames or [])
        if missing:
            raise HubError("bad_csv", f"{path}: the header lacks {', '.join(sorted(missing))}")
        return [_catalog_row(path, lineno, r) for lineno, r in enumerate(reader, start=2)]


def product_snapshot(conn: Connection, gtin: str, _store_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(*(products.c[k] for k in _PRODUCT)).where(products.c.gtin == gtin)).first()
    return None if row is None else dict(row._mapping)


def product_snapshots(conn: Connection, gtins: Sequence[str], _store_id: str) -> dict[str, dict[str, Any] | None]:
    """``product_snapshot`` of many GTINs in one query per ``CHUNK`` (a pull page of a catalogue change is
    hundreds of products); a GTIN the hub no longer holds maps to None."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(gtins)
    for chunk in chunks(list(gtins)):
        for row in conn.execute(select(*(products.c[k] for k in _PRODUCT)).where(products.c.gtin.in_(chunk))):
            found[row.gtin] = dict(row._mapping)
    return found


# ------------------------------------------------------------------------------------------- offers
def normalise_offer(data: dict[str, Any]) -> dict[str, Any]:
    """The offer document as the tills receive it; a malformed offer would reach every till, so it is refused
    here with the reason (``HubError 'bad_offer'``)."""
    problem = contract.offer_params_problem(str(data.get("kind")), data.get("params", {}))
    if problem:
        raise HubError("bad_offer", f"offer {data.get('id')!r} refused: {problem}")
    limits = data.get("limits") or {}
    problem = contract.offer_limits_problem(limits)
    if problem:
        raise HubError("bad_offer", f"offer {data.get('id')!r} refused: {problem}")
    if data.get("birthday_month"):
        # it gave its discount on every sale of the month (issue 15): the gift is a single-use coupon now
        raise HubError("bad_offer", f"offer {data.get('id')!r} refused: birthday offers are single-use personal "
                       "coupons issued by 'store-edge hub issue-birthday-coupons', not an offer for the whole month")
    valid_from, valid_until = _validity(data)
    return {
        "id": str(data["id"]), "kind": data["kind"], "name": data.get("name", data["id"]),
        "params": data.get("params", {}), "priority": int(data.get("priority", 0)),
        "stackable": bool(data.get("stackable", False)), "tiers": data.get("tiers", []),
        "customer_id": data.get("customer_id"), "requires_coupon": bool(data.get("requires_coupon", False)),
        "birthday_month": 0, "valid_from": valid_from,
        "valid_until": valid_until, "active": bool(data.get("active", True)), "limits": dict(limits),
    }


def _offer_time(offer_id: Any, name: str, value: Any) -> str | None:
    """``valid_from``/``valid_until`` as the tills compare them: ISO 8601, UTC when no zone is given, written
    back in UTC (``2027-01-31T23:00:00Z``); anything else is refused (a till could not read it)."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise HubError("bad_offer", f"offer {offer_id!r} refused: {name} {value!r} is not an ISO 8601 date "
                       "and time (e.g. 2027-01-31T23:00:00+01:00)") from None
    utc = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")  # the hub's one way of writing a UTC time (common.now_iso)


def _validity(data: dict[str, Any]) -> tuple[str | None, str | None]:
    valid_from = _offer_time(data.get("id"), "valid_from", data.get("valid_from"))
    valid_until = _offer_time(data.get("id"), "valid_until", data.get("valid_until"))
    if valid_from and valid_until and valid_until <= valid_from:
        raise HubError("bad_offer", f"offer {data.get('id')!r} refused: it would end ({valid_until}) before it "
                       f"starts ({valid_from})")
    return valid_from, valid_until


def upsert_offer(conn: Connection, offer: dict[str, Any]) -> None:
    """Save a normalised offer (``normalise_offer``) and tell the stores that may see it, and the stores that had
    it before when its reach changed (made personal, moved to another customer): those outside the new reach
    receive it as gone (``offer_snapshot``) and their tills drop it."""
    before = conn.execute(select(offers.c.customer_id).where(offers.c.id == offer["id"])).first()
    stmt = insert(conn, offers).values(id=offer["id"], data=json.dumps(offer), customer_id=offer["customer_id"],
                                       updated_at=now_iso())
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
        k: stmt.excluded[k] for k in ("data", "customer_id", "updated_at")}))
    record_scoped(conn, ChangeKind.OFFER, offer["id"], offer["customer_id"])
    if before is not None and before[0] != offer["customer_id"]:
        record_scoped(conn, ChangeKind.OFFER, offer["id"], before[0])


def delete_offer(conn: Connection, offer_id: str) -> int:
    """Retire an offer for good: every store that may have it receives it as gone (``data: null``, its tills
    stop applying it at their next pull) and its coupons not yet redeemed are revoked (the tills drop them).
    The row stays as a tombstone (``deleted_at`` in its document) because redeemed coupons and past sales name
    it; creating an offer with the same id again brings it back. Returns how many coupons were revoked;
    ``HubError 'unknown_offer'`` when there is no such offer (a deleted one is deleted again harmlessly)."""
    row = conn.execute(select(offers.c.data, offers.c.customer_id).where(offers.c.id == offer_id)
                       .with_for_update()).first()
    if row is None:
        raise HubError("unknown_offer", f"there is no offer {offer_id!r}")
    now = now_iso()
    doc = {**json.loads(row[0]), "active": False, "deleted_at": now}
    conn.execute(update(offers).where(offers.c.id == offer_id).values(data=json.dumps(doc), updated_at=now))
    record_scoped(conn, ChangeKind.OFFER, offer_id, row[1])
    live = conn.execute(select(coupons.c.code, coupons.c.customer_id).where(
        coupons.c.offer_id == offer_id, coupons.c.redeemed_at.is_(None), coupons.c.revoked_at.is_(None))).all()
    for code, customer_id in live:
        conn.execute(update(coupons).where(coupons.c.code == code).values(revoked_at=now))
        record_scoped(conn, ChangeKind.COUPON, code, customer_id)
        record(conn, ChangeKind.REVOCATION, f"coupon:{code}")
    return len(live)


def offer_snapshot(conn: Connection, offer_id: str, store_id: str) -> dict[str, Any] | None:
    """The offer as ``store_id`` may see it: None (gone: the till drops it) when it does not exist, was deleted
    (``delete_offer``) or is personal to a customer not relevant to that store."""
    row = conn.execute(select(offers.c.data, offers.c.customer_id).where(offers.c.id == offer_id)).first()
    if row is None or (row[1] is not None and store_id not in relevant_stores(conn, row[1])):
        return None
    doc = dict(json.loads(row[0]))
    if doc.get("deleted_at"):
        return None
    if isinstance(doc.get("limits"), dict) and "total" in doc["limits"]:
        from sync.hub.offer_limits import used_total

        doc["used_total"] = used_total(conn, offer_id)  # the tills keep to what is left of the budget
    return doc


# ------------------------------------------------------------------------------------------- coupons
def create_coupon(conn: Connection, code: str, offer_id: str, customer_id: str | None, single_use: bool) -> None:
    """A coupon code for an existing offer (``HubError 'unknown_offer'`` otherwise); an existing code is kept."""
    row = conn.execute(select(offers.c.data).where(offers.c.id == offer_id)).first()
    if row is None:
        raise HubError("unknown_offer", f"there is no offer {offer_id!r}")
    if json.loads(row[0]).get("deleted_at"):
        raise HubError("unknown_offer", f"offer {offer_id!r} was deleted: create it again first")
    conn.execute(insert(conn, coupons).values(code=code, offer_id=offer_id, customer_id=customer_id,
                                              single_use=int(single_use)).on_conflict_do_nothing())
    record_scoped(conn, ChangeKind.COUPON, code, customer_id)


def coupon_exists(conn: Connection, code: str) -> bool:
    return conn.execute(select(coupons.c.code).where(coupons.c.code == code)).first() is not None


def revoke_coupon(conn: Connection, code: str) -> None:
    conn.execute(update(coupons).where(coupons.c.code == code).values(revoked_at=now_iso()))
    record(conn, ChangeKind.REVOCATION, f"coupon:{code}")


def redeem_coupon(conn: Connection, code: str, sale_id: Any, store_id: str, at: str) -> tuple[str, str] | None:
    """A till redeemed ``code``. Returns None when recorded, else (exception kind, sentence) to report:
    ``unknown_coupon`` or ``coupon_reused``. The coupon row is locked
    (PostgreSQL) so two stores redeeming it at once are seen as a reuse."""
    row = conn.execute(select(coupons.c.redeemed_at, coupons.c.redeemed_store_id, coupons.c.single_use,
                              coupons.c.customer_id).where(coupons.c.code == code).with_for_update()).first()
    if row is None:
        return "unknown_coupon", f"coupon {code!r} redeemed in store {store_id} is not known to the hub"
    if row[0] is not None and row[2]:
        # the sale stands (the customer left with the goods); the double use is reported
        return "coupon_reused", (f"single-use coupon {code!r} was redeemed again in store {store_id} "
                                 f"(first in store {row[1]})")
    conn.execute(update(coupons).where(coupons.c.code == code)
                 .values(redeemed_at=at, redeemed_sale_id=sale_id, redeemed_store_id=store_id))
    record_scoped(conn, ChangeKind.COUPON, code, row[3])
    return None


def coupon_snapshot(conn: Connection, code: str, _store_id: str) -> dict[str, Any] | None:
    c = coupons.c
    row = conn.execute(select(c.code, c.offer_id, c.customer_id, c.single_use, c.redeemed_at, c.redeemed_sale_id,
                              c.revoked_at).where(c.code == code)).first()
    if row is None:
        return None
    return {"code": row[0], "offer_id": row[1], "customer_id": row[2], "single_use": bool(row[3]),
            "redeemed_at": row[4], "redeemed_sale_id": row[5], "revoked_at": row[6]}
