"""Members (customers) at the hub: profiles, relevance to stores, consents, erasure, web/app orders.

A customer is *relevant* to a store once they have a home store or a pick-up there, or the store was granted them
(``make_relevant``, the audited member look-up); only relevant stores receive the profile, personal offers,
coupons and presence identities, and only their devices may name the customer in events (``ingest``). Points are
whole points, money in cents; JSON fields (consents, preferences, rewards) are stored as text. Functions take
the caller's transaction; refusals raise ``HubError``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, desc, func, select, update

from edge.core.contract import ChangeKind
from sync.hub import offer_limits, presence, programme
from sync.hub.changes import record_many, relevant_stores
from sync.hub.common import HubError, chunks, now_iso
from sync.hub.db import insert
from sync.hub.ledger import add_exception
from sync.hub.tables import (
    consent_history,
    coupons,
    customer_stores,
    customers,
    ledger,
    member_aliases,
    offers,
    orders,
    sales,
)

# the newest purchases (date, channel, total; no items) a till keeps per member: its member panel shows four,
# and a profile goes to every relevant till on each change, so the store holds no more than it needs
RECENT_PURCHASES = 10
APPLIED_ENTRY_IDS = 5_000
_COUNT: Any = {"preserve_rowcount": True}  # an INSERT's rowcount (1 added, 0 on conflict) is kept only on request
_PROFILE = ("card_number", "display_name", "phone_hash", "email_hash", "tier", "spend_12m_cents", "consents",
            "birthday", "preferences", "rewards", "home_store_id", "external_id", "updated_at")


def exists(conn: Connection, customer_id: str) -> bool:
    return conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is not None


def resolve_id(conn: Connection, member_id: str) -> str | None:
    """The member's current id: itself, or the survivor a merged record was absorbed into (the API's
    profile, web orders and reward claims follow it); None when unknown."""
    if exists(conn, member_id):
        return member_id
    return resolve_alias(conn, "id", member_id)


def resolve_alias(conn: Connection, kind: str, value: str) -> str | None:
    """The survivor that a merged record's ``kind`` (``member_records.ALIAS_KINDS``: id, card, phone_hash,
    email_hash, external_id) ``value`` resolves to, or None. The member look-up at a till asks it for a card."""
    found = conn.execute(select(member_aliases.c.customer_id).where(
        member_aliases.c.kind == kind, member_aliases.c.value == value)).scalar()
    return None if found is None else str(found)


def require(conn: Connection, customer_id: str) -> None:
    """Raise ``HubError('unknown_customer', ..., 422)`` unless the customer exists."""
    if not exists(conn, customer_id):
        raise HubError("unknown_customer", f"there is no customer {customer_id!r}", 422)


def customer_changed(conn: Connection, customer_id: str) -> None:
    """Every store the customer is relevant to re-reads the profile."""
    record_many(conn, [(ChangeKind.CUSTOMER, customer_id, s) for s in relevant_stores(conn, customer_id)])


def customers_changed(conn: Connection, customer_ids: Sequence[str]) -> None:
    """``customer_changed`` for many customers with one look-up per chunk and one executemany."""
    rows: list[tuple[str, str, str | None]] = []
    for chunk in chunks(customer_ids):
        found = conn.execute(select(customer_stores.c.customer_id, customer_stores.c.store_id)
                             .where(customer_stores.c.customer_id.in_(chunk)))
        rows.extend((ChangeKind.CUSTOMER, cid, store_id) for cid, store_id in found)
    order = {cid: i for i, cid in enumerate(customer_ids)}
    record_many(conn, sorted(rows, key=lambda r: order[r[1]]))


def make_relevant(conn: Connection, customer_id: str, store_id: str, reason: str) -> None:
    """A customer becomes relevant to a store: the store receives the profile and personal offers."""
    added = conn.execute(insert(conn, customer_stores).values(
        customer_id=customer_id, store_id=store_id, reason=reason, since=now_iso()).on_conflict_do_nothing(),
        execution_options=_COUNT).rowcount
    if not added:
        return
    personal_offers = conn.execute(select(offers.c.id).where(offers.c.customer_id == customer_id))
    personal_coupons = conn.execute(select(coupons.c.code).where(coupons.c.customer_id == customer_id))
    record_many(conn, [(ChangeKind.CUSTOMER, customer_id, store_id),
                       *((ChangeKind.OFFER, r[0], store_id) for r in personal_offers),
                       *((ChangeKind.COUPON, r[0], store_id) for r in personal_coupons)])
    presence.identities_changed(conn, customer_id, store_id)


def ensure(conn: Connection, customer_id: str, store_id: str) -> None:
    """Points are never dropped: an entry for a customer the hub has not heard of creates a stub (reported)."""
    now = now_iso()
    created = conn.execute(insert(conn, customers).values(
        id=customer_id, display_name=f"(unknown customer from {store_id})", home_store_id=store_id,
        updated_at=now).on_conflict_do_nothing(), execution_options=_COUNT).rowcount
    if created:
        add_exception(conn, "unknown_customer", f"store {store_id} sent activity for customer {customer_id}, who "
                      "was unknown; a stub was created", detected_at=now, customer_id=customer_id, store_id=store_id)


def upsert(conn: Connection, data: dict[str, Any]) -> None:
    """Create a customer profile, or update an existing one with only the fields ``data`` holds.

    ``id`` required. On creation an absent field takes its default (name = id, tier Bronze, no consents, ...);
    on update an absent field keeps its stored value - a partial update never wipes card, tier, consents,
    birthday, preferences, rewards or contact hashes (issue 15). ``balance`` only on creation: it moves by ledger.
    """
    cid = str(data["id"])
    home = data.get("home_store_id")
    values = {
        "card_number": data.get("card_number"), "display_name": data.get("display_name", cid),
        "phone_hash": data.get("phone_hash"), "email_hash": data.get("email_hash"),
        "tier": data.get("tier", "Bronze"), "spend_12m_cents": int(data.get("spend_12m_cents", 0)),
        "consents": json.dumps(data.get("consents", {})), "birthday": data.get("birthday"),
        "preferences": json.dumps(data.get("preferences", {})), "rewards": json.dumps(data.get("rewards", [])),
        "home_store_id": home, "external_id": data.get("external_id"), "updated_at": now_iso(),
    }
    stmt = insert(conn, customers).values(id=cid, balance=int(data.get("balance", 0)), **values)
    given = [k for k in _PROFILE if k in data or k == "updated_at"]
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={k: stmt.excluded[k] for k in given}))
    if home:
        make_relevant(conn, cid, str(home), "home store")
    customer_changed(conn, cid)
    # consent may have changed: each store re-reads the tags and keys (null once consent is gone)
    presence.identities_changed(conn, cid)


def set_consent(conn: Connection, customer_id: str, name: str, granted: bool, *, source: str = "admin",
                wording_version: str = "unversioned", at: str | None = None) -> None:
    """One consent flag, given or withdrawn: ``customers.consents`` (the current state the tills pull) changes and
    a ``consent_history`` row keeps when, from where (``source``: "admin", "api:<key name>", "import:<file>")
    and under which wording; a change of 'location' adds or removes the customer's tags and keys at the stores.
    Raises ``HubError('unknown_customer', 422)``."""
    raw = conn.execute(select(customers.c.consents).where(customers.c.id == customer_id).with_for_update()).scalar()
    if raw is None:
        raise HubError("unknown_customer", f"there is no customer {customer_id!r}", 422)
    consents = json.loads(raw) if raw else {}
    consents[name] = bool(granted)
    when = at or now_iso()
    conn.execute(update(customers).where(customers.c.id == customer_id)
                 .values(consents=json.dumps(consents), updated_at=when))
    conn.execute(consent_history.insert().values(customer_id=customer_id, name=name, granted=int(bool(granted)),
                                                 wording_version=wording_version, source=source, recorded_at=when))
    customer_changed(conn, customer_id)
    presence.identities_changed(conn, customer_id)


def balance(conn: Connection, customer_id: str) -> int | None:
    value = conn.execute(select(customers.c.balance).where(customers.c.id == customer_id)).scalar()
    return None if value is None else int(value)


def forget(conn: Connection, customer_id: str) -> list[str]:
    """Erase a customer at the hub: every relevant store gets ``data: null`` for the customer, their identities,
    personal offers and unredeemed coupons. The hub ledger keeps the (pseudonymous) id. Returns the stores."""
    require(conn, customer_id)
    stores = relevant_stores(conn, customer_id)
    idents = presence.forget_identities(conn, customer_id)
    open_coupons = [r[0] for r in conn.execute(select(coupons.c.code).where(
        coupons.c.customer_id == customer_id, coupons.c.redeemed_at.is_(None)))]
    personal = [r[0] for r in conn.execute(select(offers.c.id).where(offers.c.customer_id == customer_id))]
    conn.execute(delete(coupons).where(coupons.c.customer_id == customer_id, coupons.c.redeemed_at.is_(None)))
    conn.execute(delete(offers).where(offers.c.customer_id == customer_id,
                                      offers.c.id.not_in(select(coupons.c.offer_id))))
    # an offer a redeemed coupon still names stays, inactive and no longer personal
    for oid, data in conn.execute(select(offers.c.id, offers.c.data).where(offers.c.customer_id == customer_id)).all():
        kept = {**json.loads(data), "customer_id": None, "active": False}
        conn.execute(update(offers).where(offers.c.id == oid)
                     .values(data=json.dumps(kept), customer_id=None, updated_at=now_iso()))
    conn.execute(delete(customers).where(customers.c.id == customer_id))
    # a merged member's card and contact hashes that resolved to this customer go with them
    conn.execute(delete(member_aliases).where(member_aliases.c.customer_id == customer_id))
    record_many(conn, [change for sid in stores for change in (
        (ChangeKind.CUSTOMER, customer_id, sid),
        *((ChangeKind.PRESENCE_IDENTITY, i, sid) for i in idents),
        *((ChangeKind.COUPON, c, sid) for c in open_coupons),
        *((ChangeKind.OFFER, o, sid) for o in personal))])
    conn.execute(delete(customer_stores).where(customer_stores.c.customer_id == customer_id))
    return stores


def record_order(conn: Connection, order: dict[str, Any]) -> bool:
    """A web/app order (checked by the API). Idempotent by ``order_id``; False when already recorded. A pick-up
    order makes the customer relevant to the pick-up store. Raises ``HubError`` 422 for an unknown customer."""
    cid = order["customer_id"]
    require(conn, cid)
    now = now_iso()
    added = conn.execute(insert(conn, orders).values(
        order_id=order["order_id"], customer_id=cid, channel=order["channel"], total_cents=order["total_cents"],
        status=order.get("status", "placed"), pickup_store_id=order.get("pickup_store_id"),
        lines=json.dumps(order.get("lines", [])), created_at=order.get("created_at") or now,
        received_at=now).on_conflict_do_nothing(), execution_options=_COUNT).rowcount
    if added:
        pickup = order.get("pickup_store_id")
        if pickup:
            make_relevant(conn, cid, pickup, "pick-up order")
        programme.refresh_tiers(conn, [cid], datetime.now(UTC))  # the order's spend: an upgrade at once
        customer_changed(conn, cid)
    return bool(added)


# ------------------------------------------------------------------------------------------- the profile a store pulls
def _items(lines: Any) -> list[dict[str, Any]]:
    if not isinstance(lines, list):
        return []
    return [{k: line.get(k) for k in ("gtin", "name", "qty") if k in line} for line in lines[:50]
            if isinstance(line, dict)]


def _ranked(conn: Connection, table: Any, columns: Sequence[Any], where: Sequence[Any], order: Sequence[Any],
            ids: Sequence[str], limit: int) -> dict[str, list[Any]]:
    """The first ``limit`` rows (``columns``) per customer of ``table`` by ``order``, for the customer ids
    ``ids`` (one statement per ``CHUNK``, a window function: SQLite >= 3.25 and PostgreSQL): id -> rows."""
    out: dict[str, list[Any]] = {cid: [] for cid in ids}
    rank = func.row_number().over(partition_by=table.c.customer_id, order_by=list(order)).label("rank")
    for chunk in chunks(sorted(out)):
        inner = select(table.c.customer_id, *columns, rank).where(table.c.customer_id.in_(chunk), *where).subquery()
        for row in conn.execute(select(*inner.c).where(inner.c.rank <= limit)
                                .order_by(inner.c.customer_id, inner.c.rank)):
            out[row[0]].append(tuple(row[1:-1]))
    return out


def _histories(conn: Connection, cids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each customer's ``RECENT_PURCHASES`` latest purchases, store sales and web/app orders, newest first:
    ``channel, id, store_id`` (None for an order), ``total_cents, created_at``."""
    s, o = sales.c, orders.c
    store_sales = _ranked(conn, sales, (s.sale_id, s.store_id, s.total_cents, s.created_at), (),
                          (desc(s.created_at), desc(s.sale_id)), cids, RECENT_PURCHASES)
    web = _ranked(conn, orders, (o.order_id, o.channel, o.total_cents, o.created_at), (),
                  (desc(o.created_at), desc(o.order_id)), cids, RECENT_PURCHASES)
    out: dict[str, list[dict[str, Any]]] = {}
    for cid in cids:
        history = [{"channel": "store", "id": sale_id, "store_id": sid, "total_cents": total, "created_at": created}
                   for sale_id, sid, total, created in store_sales[cid]]
        history += [{"channel": channel, "id": oid, "store_id": None, "total_cents": total, "created_at": created}
                    for oid, channel, total, created in web[cid]]
        history.sort(key=lambda h: h["created_at"], reverse=True)
        out[cid] = history[:RECENT_PURCHASES]
    return out


def _pickups(conn: Connection, cids: Sequence[str], store_id: str) -> dict[str, list[dict[str, Any]]]:
    """Each customer's open pick-up orders at ``store_id``, oldest first."""
    o = orders.c
    out: dict[str, list[dict[str, Any]]] = {cid: [] for cid in cids}
    for chunk in chunks(sorted(out)):
        for cid, oid, status, total, created, lines_json in conn.execute(
                select(o.customer_id, o.order_id, o.status, o.total_cents, o.created_at, o.lines).where(
                    o.customer_id.in_(chunk), o.pickup_store_id == store_id,
                    o.status.not_in(("collected", "cancelled"))).order_by(o.customer_id, o.created_at)):
            out[cid].append({"order_id": oid, "status": status, "total_cents": total, "created_at": created,
                             "items": _items(json.loads(lines_json))})
    return out


_SNAPSHOT_COLUMNS = ("id", "card_number", "display_name", "phone_hash", "email_hash", "tier", "balance",
                     "spend_12m_cents", "consents", "birthday", "preferences", "rewards", "tier_override",
                     "tier_override_until")


def snapshots(conn: Connection, cids: Sequence[str], store_id: str) -> dict[str, dict[str, Any] | None]:
    """``snapshot`` of many customers with a few statements per ``CHUNK`` of ids, not several per customer
    (a pull page after a busy push names dozens of members): customer id -> profile, None when deleted."""
    out: dict[str, dict[str, Any] | None] = dict.fromkeys(cids)
    rows: dict[str, Any] = {}
    for chunk in chunks(sorted(set(cids))):
        rows.update((row.id, row) for row in conn.execute(
            select(*(customers.c[k] for k in _SNAPSHOT_COLUMNS)).where(customers.c.id.in_(chunk))))
    present = sorted(rows)
    if not present:
        return out
    l_ = ledger.c
    applied = _ranked(conn, ledger, (l_.entry_id,), (l_.store_id == store_id,),
                      (desc(l_.applied_at), desc(l_.entry_id)), present, APPLIED_ENTRY_IDS)
    history, pickups = _histories(conn, present), _pickups(conn, present, store_id)
    points, uses = programme.points_summaries(conn, present), offer_limits.customers_uses(conn, present)
    today = now_iso()[:10]
    for cid, row in rows.items():
        # a manual tier override is the member's tier until its end date (inclusive)
        tier = row.tier_override if row.tier_override and str(row.tier_override_until or "")[:10] >= today else row.tier
        out[cid] = {
            "id": cid, "card_number": row.card_number, "display_name": row.display_name,
            "phone_hash": row.phone_hash, "email_hash": row.email_hash, "tier": tier,
            "confirmed_points": int(row.balance), "spend_12m_cents": int(row.spend_12m_cents),
            "consents": json.loads(row.consents), "birthday": row.birthday, "preferences": json.loads(row.preferences),
            "rewards": json.loads(row.rewards), "recent_purchases": history[cid], "pickup_orders": pickups[cid],
            "applied_entry_ids": [entry_id for (entry_id,) in applied[cid]], "points": points[cid],
            "offer_uses": uses[cid],  # uses of offers limited per member
        }
    return out


def snapshot(conn: Connection, cid: str, store_id: str) -> dict[str, Any] | None:
    """The customer as ``store_id``'s tills receive it (None: deleted): profile, tier (a manual override wins
    until its end date), confirmed balance, recent purchases in every channel, open pick-ups at the store, points
    summary, uses of per-member limited offers. ``applied_entry_ids`` are the store's most recent ledger entries
    (at most ``APPLIED_ENTRY_IDS``) the hub has applied (the till marks them confirmed)."""
    return snapshots(conn, [cid], store_id)[cid]
