"""Web and app orders earn and burn by the till's rules; cancellations and returns reverse exactly their share.

The hub prices an order with the same ``edge.core`` functions a till runs on a basket (``offers.evaluate`` with
the hub's offers and the order's coupons, then ``loyalty.settle``): category, tier and promotion multipliers,
points rounded once per order (``money.split_floored``) and allocated to the lines by largest remainder. The
order's ``total_cents`` must equal what the hub computes (what the customer pays, after discounts and the value
of the points redeemed), so a shop and the hub cannot disagree silently. A burn follows the till's redemption
rules with the hub's balance (``loyalty.redemption_limit``, online); coupons follow the till's rules
(single use, bound to their customer, not revoked) and one that gave nothing is not used.

Every points movement goes through ``ledger.post_points`` with reason "web order"/"app order", "order return"
or "order cancelled" and source ``order:<id>`` or ``order-return:<id>:<return id>``, attributed to the order's
store: ``store_id`` (the store that sold it), else ``pickup_store_id``, else ``web``. Spend
(``customers.spend_12m_cents``) grows by what the customer paid and shrinks by what is refunded.

A return reverses, per line, the cumulative share of the units returned so far: after ``r`` of ``q`` units of a
line whose share is ``s`` (points earned, points redeemed, cents paid), ``floor(s * r / q)`` has been reversed,
so every return is a whole number and the last unit brings the line to exactly ``s``. Idempotent: by order id,
by (order id, return id); a cancel reverses what the returns have not. Functions take the caller's write
transaction and raise ``HubError`` with the HTTP status: 404 unknown order, 409 a conflict with the state
(balance too low, coupon already used, order cancelled, order id of another customer), 422 a refusal of meaning.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from edge.core.catalog import Product
from edge.core.contract import ChangeKind
from edge.core.loyalty import Balance, LoyaltyRules, Settlement, check_redemption, redemption_limit, settle
from edge.core.money import split_floored
from edge.core.offers import BasketLine, CustomerContext, Offer, Pricing, evaluate
from sync.hub import members
from sync.hub.changes import record_scoped
from sync.hub.common import HubError
from sync.hub.ledger import post_points
from sync.hub.tables import config, coupons, customers, offers, order_returns, orders, products, stores

log = logging.getLogger(__name__)

WEB_STORE = "web"  # the store id an order without a store or pick-up store counts for
RULES_CONFIG_KEY = "loyalty_rules"  # hub config: a JSON object of LoyaltyRules fields (the till's [loyalty])
REASON_RETURN = "order return"
REASON_CANCEL = "order cancelled"


def loyalty_rules(conn: Connection) -> LoyaltyRules:
    """The programme's earning and redemption rules at the hub: the hub config ``loyalty_rules`` (a JSON object
    of ``LoyaltyRules`` fields, as in a till's ``[loyalty]``) over the till's defaults. A field that is not one
    of them is ignored and logged, never guessed."""
    from sync.hub.programme import get_rules  # the programme's tier ladder (hub programme set tiers=...)

    rules = LoyaltyRules(tier_multipliers=get_rules(conn).multipliers)
    raw = conn.execute(select(config.c.value).where(config.c.key == RULES_CONFIG_KEY)).scalar()
    try:
        given = json.loads(raw) if raw else {}
    except ValueError:
        given = None
    if not isinstance(given, dict):
        log.warning("hub config %s is not a JSON object; the default rules apply", RULES_CONFIG_KEY)
        return rules
    known = {f.name for f in fields(LoyaltyRules)}
    unknown = sorted(set(given) - known)
    if unknown:
        log.warning("hub config %s: unknown fields %s ignored", RULES_CONFIG_KEY, ", ".join(unknown))
    return LoyaltyRules(**{**rules.__dict__, **{k: v for k, v in given.items() if k in known}})


# ------------------------------------------------------------------------------------------- reading
def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _offer(doc: dict[str, Any]) -> Offer | None:
    """A hub offer document (``offers.normalise_offer``) as the engine's ``Offer``; None when unreadable."""
    try:
        return Offer(id=str(doc["id"]), kind=str(doc["kind"]), name=str(doc.get("name") or doc["id"]),
                     params=dict(doc.get("params") or {}), priority=int(doc.get("priority") or 0),
                     stackable=bool(doc.get("stackable")), tiers=tuple(doc.get("tiers") or ()),
                     customer_id=doc.get("customer_id"), requires_coupon=bool(doc.get("requires_coupon")),
                     birthday_month=bool(doc.get("birthday_month")), valid_from=_time(doc.get("valid_from")),
                     valid_until=_time(doc.get("valid_until")), active=bool(doc.get("active", True)))
    except (KeyError, TypeError, ValueError):
        return None


def _offers_for(conn: Connection, customer_id: str) -> list[Offer]:
    """Store-wide offers and the customer's personal ones, as a till of theirs holds them."""
    rows = conn.execute(select(offers.c.data).where(
        (offers.c.customer_id.is_(None)) | (offers.c.customer_id == customer_id)).order_by(offers.c.id))
    return [o for (data,) in rows if (o := _offer(json.loads(data))) is not None]


@dataclass(frozen=True)
class _Customer:
    id: str
    tier: str
    balance: int
    birthday: date | None


def _lock_customer(conn: Connection, customer_id: str) -> _Customer:
    """The customer row, locked (PostgreSQL) so two orders cannot spend the same points; 422 if unknown."""
    c = customers.c
    row = conn.execute(select(c.id, c.tier, c.balance, c.birthday).where(c.id == customer_id)
                       .with_for_update()).first()
    if row is None:
        raise HubError("unknown_customer", f"there is no customer {customer_id!r}", 422)
    try:
        birthday = date.fromisoformat(row[3]) if row[3] else None
    except ValueError:
        birthday = None
    return _Customer(row[0], row[1], int(row[2]), birthday)


def _order_store(conn: Connection, order: dict[str, Any]) -> str:
    """The store the order's points count for; each store the order names must exist (422)."""
    for key in ("store_id", "pickup_store_id"):
        sid = order.get(key)
        if sid is not None and conn.execute(select(stores.c.id).where(stores.c.id == sid)).first() is None:
            raise HubError("unknown_store", f"order {order['order_id']}: '{key}' {sid!r} is not a store of this "
                           "hub ('store-edge hub create-store')", 422)
    return str(order.get("store_id") or order.get("pickup_store_id") or WEB_STORE)


def _basket(conn: Connection, order: dict[str, Any]) -> list[BasketLine]:
    """The order's lines as basket lines, each checked against the hub's catalogue where the GTIN is known: the
    category is the catalogue's (another one is refused: it would choose the multiplier) and the unit price may
    not exceed the catalogue price (a shop may sell cheaper, never earn on more). 422 naming every bad line."""
    gtins = {g for ln in order["lines"] for g in (ln["gtin"], ln["gtin"].zfill(14))}
    known = {r[0]: r for r in conn.execute(select(products.c.gtin, products.c.name, products.c.price_cents,
                                                  products.c.vat_rate_bp, products.c.category)
                                           .where(products.c.gtin.in_(sorted(gtins))))}
    problems, lines = [], []
    for n, ln in enumerate(order["lines"], start=1):
        row = known.get(ln["gtin"]) or known.get(ln["gtin"].zfill(14))
        category = ln["category"] or (row[4] if row else "general")
        if row is not None and ln["category"] and ln["category"] != row[4]:
            problems.append(f"line {n}: 'category' {ln['category']!r} is not the catalogue's {row[4]!r} for GTIN "
                            f"{ln['gtin']}")
        if row is not None and ln["unit_price_cents"] > row[2]:
            problems.append(f"line {n}: 'unit_price_cents' {ln['unit_price_cents']} is above the catalogue price "
                            f"{row[2]} of GTIN {ln['gtin']}")
        name = ln["name"] or (row[1] if row else ln["gtin"])
        product = Product(ln["gtin"], name, ln["unit_price_cents"], row[3] if row else 0, category)
        lines.append(BasketLine(ln["line_no"], product, ln["qty"]))
    if problems:
        raise HubError("bad_line", f"order {order['order_id']} refused: " + "; ".join(problems), 422)
    return lines


def _lock_coupons(conn: Connection, codes: list[str], customer_id: str) -> dict[str, str]:
    """code -> offer id for the order's coupons, by the till's rules (``SalesService._check_coupons``) and
    locked: unknown or withdrawn 422, another customer's 422, a used single-use coupon 409."""
    found: dict[str, str] = {}
    c = coupons.c
    for given in codes:
        row = None
        for code in dict.fromkeys((given, given.upper())):
            row = conn.execute(select(c.code, c.offer_id, c.customer_id, c.single_use, c.redeemed_at, c.revoked_at)
                               .where(c.code == code).with_for_update()).first()
            if row is not None:
                break
        if row is None:
            raise HubError("unknown_coupon", f"coupon {given} is not known to the hub", 422)
        if row[5] is not None:
            raise HubError("coupon_revoked", f"coupon {given} was withdrawn and can no longer be used", 422)
        if row[2] is not None and row[2] != customer_id:
            raise HubError("coupon_not_yours", f"coupon {given} belongs to another customer", 422)
        if row[3] and row[4] is not None:
            raise HubError("coupon_used", f"coupon {given} was already used (on {row[4]})", 409)
        found[row[0]] = row[1]
    return found


def _check_burn(order: dict[str, Any], customer: _Customer, pricing: Pricing, rules: LoyaltyRules) -> None:
    """The till's redemption rules against the hub balance (locked): too few points 409, other rules 422."""
    points = order["points_redeemed"]
    if not points:
        return
    if points > customer.balance:
        raise HubError("insufficient_points", f"order {order['order_id']} spends {points} points but customer "
                       f"{customer.id} has only {max(customer.balance, 0)}", 409)
    limit = redemption_limit(Balance(customer.balance), pricing.total_cents, rules, hub_online=True)
    problem = check_redemption(points, limit, rules)
    if problem:
        raise HubError("bad_redemption", f"order {order['order_id']}: {problem}", 422)


def _check_total(order: dict[str, Any], settlement: Settlement) -> None:
    due = settlement.amount_due_cents
    if order["total_cents"] == due:
        return
    pricing = settlement.pricing
    parts = [f"lines {pricing.subtotal_cents}"]
    parts += [f"- {d.amount_cents} ({d.reason})" for d in pricing.discounts]
    if settlement.points_value_cents:
        parts.append(f"- {settlement.points_value_cents} ({settlement.points_redeemed} points)")
    raise HubError("total_mismatch", f"order {order['order_id']}: 'total_cents' is {order['total_cents']} but "
                   f"the hub prices it at {due} cents: {' '.join(parts)}", 422)


def _burn_shares(points: int, settlement: Settlement) -> list[int]:
    """The points redeemed spread over the lines by what each cost before them (the weights the till spreads
    their value with), largest remainder: the shares add up to ``points``."""
    nets = [p.net_cents for p in sorted(settlement.pricing.lines, key=lambda p: p.line.line_no)]
    whole = sum(nets)
    if not points or not whole:
        return [0] * len(nets)
    return split_floored([points * n for n in nets], [whole] * len(nets))


def _stored_lines(order: dict[str, Any], settlement: Settlement) -> list[dict[str, Any]]:
    priced = sorted(settlement.pricing.lines, key=lambda p: p.line.line_no)
    burns = _burn_shares(settlement.points_redeemed, settlement)
    return [{"line_no": p.line.line_no, "gtin": p.line.product.gtin, "name": p.line.product.name,
             "category": p.line.product.category, "qty": p.line.qty,
             "unit_price_cents": p.line.product.price_cents, "gross_cents": p.line.gross_cents,
             "discount_cents": p.discount_cents, "paid_cents": s.paid_cents, "points": s.points,
             "points_redeemed": burn, "returned_qty": 0}
            for p, s, burn in zip(priced, settlement.lines, burns, strict=True)]


def _outcome(row: Any, recorded: bool) -> dict[str, Any]:
    m = row._mapping
    return {"order_id": m["order_id"], "recorded": recorded, "store_id": m["store_id"], "status": m["status"],
            "total_cents": int(m["paid_cents"]), "points_earned": int(m["points_earned"]),
            "points_redeemed": int(m["points_redeemed"]), "coupons": json.loads(m["coupons"]),
            "lines": [{k: ln.get(k) for k in ("line_no", "qty", "paid_cents", "points", "points_redeemed",
                                                "returned_qty")} for ln in json.loads(m["lines"])]}


def _existing(conn: Connection, order_id: str, *, lock: bool = False) -> Any:
    stmt = select(orders).where(orders.c.order_id == order_id)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


# ------------------------------------------------------------------------------------------- placing
@dataclass(frozen=True)
class _Priced:
    customer: _Customer
    store: str
    coupon_offers: dict[str, str]  # code -> offer id
    settlement: Settlement

    @property
    def used_coupons(self) -> list[str]:
        """The coupons whose offer gave a discount (one that gave nothing is not used, as at the till)."""
        given = {d.offer_id for d in self.settlement.pricing.discounts}
        return sorted(code for code, offer_id in self.coupon_offers.items() if offer_id in given)


def _price(conn: Connection, order: dict[str, Any], at: str) -> _Priced:
    """The order priced as a till prices a basket, the customer and coupons locked, the burn checked."""
    customer = _lock_customer(conn, order["customer_id"])
    store = _order_store(conn, order)
    rules = loyalty_rules(conn)
    coupon_offers = _lock_coupons(conn, order["coupons"], customer.id)
    now = _time(at)
    assert now is not None
    pricing = evaluate(_basket(conn, order), _offers_for(conn, customer.id),
                       CustomerContext(customer.id, customer.tier, customer.birthday), now, coupon_offers.values())
    _check_burn(order, customer, pricing, rules)
    return _Priced(customer, store, coupon_offers, settle(pricing, order["points_redeemed"], rules, customer.tier))


def _survivors(conn: Connection, order: dict[str, Any]) -> dict[str, Any]:
    """``order`` naming the member's current id (``members.resolve_id``: a merged-away record's survivor); an
    unknown id stays as it is, for ``_lock_customer`` to refuse."""
    return {**order, "customer_id": members.resolve_id(conn, order["customer_id"]) or order["customer_id"]}


def quote(conn: Connection, order: dict[str, Any], at: str) -> dict[str, Any]:
    """What placing ``order`` now would do, written nowhere: the total the hub expects (``total_cents``), the
    discounts with their reasons, the points earned and redeemed, per line. Refusals as ``place``."""
    p = _price(conn, _survivors(conn, order), at)
    s = p.settlement
    return {"order_id": order["order_id"], "store_id": p.store, "subtotal_cents": s.pricing.subtotal_cents,
            "discount_cents": s.pricing.discount_cents, "points_value_cents": s.points_value_cents,
            "total_cents": s.amount_due_cents, "points_earned": s.points_earned,
            "points_redeemed": s.points_redeemed, "coupons": p.used_coupons,
            "unused_coupons": sorted(set(p.coupon_offers) - set(p.used_coupons)),
            "discounts": [{"offer_id": d.offer_id, "line_no": d.line_no, "amount_cents": d.amount_cents,
                           "reason": d.reason} for d in s.pricing.discounts],
            "lines": [{k: ln[k] for k in ("line_no", "paid_cents", "points", "points_redeemed")}
                      for ln in _stored_lines(order, s)]}


def place(conn: Connection, order: dict[str, Any], at: str) -> dict[str, Any]:
    """Record a checked order (``order_input.check_order``), earn and burn its points, redeem its coupons,
    count its spend, all in the caller's transaction. ``at`` (ISO UTC) is the hub's time: offers are valid
    and points earned as of then. Returns the outcome (``recorded`` False, and nothing changed, when the order id
    was recorded before for the same customer; another customer's order id is 409). An order naming a member
    record merged into another is the survivor's (``_survivors``)."""
    order = _survivors(conn, order)
    oid = order["order_id"]
    before = _existing(conn, oid)
    if before is not None:
        if before._mapping["customer_id"] != order["customer_id"]:
            raise HubError("order_id_taken", f"order id {oid} is already used by another customer's order", 409)
        return {**_outcome(before, False), "balance": members.balance(conn, order["customer_id"])}
    p = _price(conn, order, at)
    settlement, cid, used = p.settlement, p.customer.id, p.used_coupons
    _check_total(order, settlement)
    conn.execute(insert(orders).values(
        order_id=oid, customer_id=cid, channel=order["channel"], total_cents=settlement.amount_due_cents,
        status=order["status"], pickup_store_id=order["pickup_store_id"],
        lines=json.dumps(_stored_lines(order, settlement)), created_at=order["created_at"] or at, received_at=at,
        store_id=p.store, points_earned=settlement.points_earned, points_redeemed=settlement.points_redeemed,
        paid_cents=settlement.amount_due_cents, coupons=json.dumps(used)))
    for code in used:
        conn.execute(update(coupons).where(coupons.c.code == code).values(
            redeemed_at=at, redeemed_sale_id=f"order:{oid}", redeemed_store_id=p.store))
        record_scoped(conn, ChangeKind.COUPON, code, cid)
    _move(conn, order, p.store, at, [(f"order:{oid}:burn", -settlement.points_redeemed),
                                     (f"order:{oid}:earn", settlement.points_earned)],
          f"{order['channel']} order", f"order:{oid}")
    _spend(conn, cid, settlement.amount_due_cents)
    if order["pickup_store_id"]:
        members.make_relevant(conn, cid, order["pickup_store_id"], "pick-up order")
    _after_order(conn, cid, oid, settlement.amount_due_cents, at)
    _retier(conn, cid, at)
    members.customer_changed(conn, cid)
    return {**_outcome(_existing(conn, oid), True), "unused_coupons": sorted(set(p.coupon_offers) - set(used)),
            "balance": members.balance(conn, cid)}


def _move(conn: Connection, order: dict[str, Any], store: str, at: str, moves: list[tuple[str, int]],
          reason: str, source: str) -> None:
    """Post each (entry id, points) of one order event through the ledger (0 writes nothing)."""
    for entry_id, points in moves:
        post_points(conn, customer_id=order["customer_id"], points=points, reason=reason, source=source,
                    entry_id=entry_id, at=at, store_id=store, sale_id=None, device_id="hub", event_id=source)


def _spend(conn: Connection, customer_id: str, cents: int) -> None:
    if cents:
        conn.execute(update(customers).where(customers.c.id == customer_id)
                     .values(spend_12m_cents=customers.c.spend_12m_cents + cents))


def _after_order(conn: Connection, customer_id: str, order_id: str, paid_cents: int, at: str) -> None:
    """What a member's order brings as a till sale does (``ingest._after_member_sale``): the first-purchase
    bonus (once per member, whatever the channel) and the next-order coupon, when configured."""
    from sync.hub import bonuses, personal_coupons

    bonuses.award(conn, bonuses.BonusKind.FIRST_PURCHASE, customer_id, at)
    rule = personal_coupons.next_order_rule(conn)
    if rule.amount_cents > 0:
        personal_coupons.issue_next_order(conn, rule, customer_id=customer_id, source_id=f"order:{order_id}",
                                          total_cents=paid_cents, at=at)


def _retier(conn: Connection, customer_id: str, at: str) -> None:
    """The member's tier after an order changed their net spend: an upgrade at once, a downgrade only at the
    programme's review (``programme.refresh_tiers``)."""
    from sync.hub import programme

    programme.refresh_tiers(conn, [customer_id], _time(at) or datetime.now(UTC))


# ------------------------------------------------------------------------------------------- reversing
def _share(total: int, before: int, now: int, qty: int) -> int:
    """What returning ``now`` more units (after ``before``) of a ``qty``-unit line reverses of its ``total``:
    the cumulative share floored, so the returns of a line add up to exactly ``total``."""
    return total * (before + now) // qty - total * before // qty


def _returned(conn: Connection, order_id: str) -> tuple[int, int, int]:
    """(points reversed, points refunded, cents refunded) by the order's returns so far."""
    r = order_returns.c
    row = conn.execute(select(func.coalesce(func.sum(r.points_reversed), 0), func.coalesce(func.sum(r.points_refunded), 0),
                              func.coalesce(func.sum(r.refund_cents), 0)).where(r.order_id == order_id)).one()
    return int(row[0]), int(row[1]), int(row[2])


def _require_order(conn: Connection, order_id: str) -> Any:
    row = _existing(conn, order_id, lock=True)
    if row is None:
        raise HubError("unknown_order", f"there is no order {order_id!r}", 404)
    return row


def cancel(conn: Connection, order_id: str, at: str) -> dict[str, Any]:
    """Cancel an order: what its returns have not reversed is reversed (points earned taken back, points
    redeemed given back, spend reduced) and its coupons are usable again (unless withdrawn meanwhile). A second
    cancel changes nothing (``cancelled`` False). 404 for an unknown order."""
    row = _require_order(conn, order_id)
    m = row._mapping
    if m["cancelled_at"] is not None:
        return {"order_id": order_id, "cancelled": False, "cancelled_at": m["cancelled_at"]}
    reversed_, refunded, refund_cents = _returned(conn, order_id)
    earn_back, burn_back = int(m["points_earned"]) - reversed_, int(m["points_redeemed"]) - refunded
    order = {"customer_id": m["customer_id"]}
    _move(conn, order, m["store_id"], at, [(f"order:{order_id}:cancel:earn", -earn_back),
                                           (f"order:{order_id}:cancel:burn", burn_back)],
          REASON_CANCEL, f"order:{order_id}")
    _spend(conn, m["customer_id"], -(int(m["paid_cents"]) - refund_cents))
    for code in json.loads(m["coupons"]):
        conn.execute(update(coupons).where(coupons.c.code == code, coupons.c.revoked_at.is_(None),
                                           coupons.c.redeemed_sale_id == f"order:{order_id}")
                     .values(redeemed_at=None, redeemed_sale_id=None, redeemed_store_id=None))
        record_scoped(conn, ChangeKind.COUPON, code, m["customer_id"])
    conn.execute(update(orders).where(orders.c.order_id == order_id).values(status="cancelled", cancelled_at=at))
    _retier(conn, m["customer_id"], at)
    members.customer_changed(conn, m["customer_id"])
    return {"order_id": order_id, "cancelled": True, "cancelled_at": at, "points_reversed": earn_back,
            "points_refunded": burn_back, "refund_cents": int(m["paid_cents"]) - refund_cents,
            "balance": members.balance(conn, m["customer_id"])}


def _return_lines(order_id: str, stored: list[dict[str, Any]], wanted: list[dict[str, Any]]
                  ) -> list[tuple[dict[str, Any], int]]:
    """(stored line, units) per returned line; 422 naming every line that is not on the order or returns more
    units than remain."""
    by_no = {ln["line_no"]: ln for ln in stored}
    problems, out = [], []
    for n, want in enumerate(wanted, start=1):
        line = by_no.get(want["line_no"])
        if line is None:
            problems.append(f"line {n}: order {order_id} has no line {want['line_no']}")
            continue
        left = line["qty"] - line.get("returned_qty", 0)
        if want["qty"] > left:
            problems.append(f"line {n}: {want['qty']} units of line {want['line_no']} returned but only {left} of "
                            f"the {line['qty']} bought remain to return")
            continue
        out.append((line, want["qty"]))
    if problems:
        raise HubError("bad_return", f"return refused: {'; '.join(problems)}", 422)
    return out


def add_return(conn: Connection, order_id: str, ret: dict[str, Any], at: str) -> dict[str, Any]:
    """Record a return (``order_input.check_return``): each returned line reverses its share of the points
    earned, gives back its share of the points redeemed and reduces the spend by its share of what was paid
    (module docstring). Idempotent by (order id, return id): ``recorded`` False. 404 unknown order, 409 a
    cancelled order, 422 a line not on the order or more units than remain."""
    row = _require_order(conn, order_id)
    m = row._mapping
    done = conn.execute(select(order_returns).where(order_returns.c.order_id == order_id,
                                                    order_returns.c.return_id == ret["return_id"])).first()
    if done is not None:
        d = done._mapping
        return {"order_id": order_id, "return_id": ret["return_id"], "recorded": False,
                "points_reversed": int(d["points_reversed"]), "points_refunded": int(d["points_refunded"]),
                "refund_cents": int(d["refund_cents"]), "lines": json.loads(d["lines"])}
    if m["cancelled_at"] is not None:
        raise HubError("order_cancelled", f"order {order_id} was cancelled; nothing is left to return", 409)
    stored = json.loads(m["lines"])
    reversed_ = refunded = refund = 0
    for line, qty in _return_lines(order_id, stored, ret["lines"]):
        before = line.get("returned_qty", 0)
        reversed_ += _share(int(line.get("points", 0)), before, qty, line["qty"])
        refunded += _share(int(line.get("points_redeemed", 0)), before, qty, line["qty"])
        refund += _share(int(line.get("paid_cents", 0)), before, qty, line["qty"])
        line["returned_qty"] = before + qty
    conn.execute(update(orders).where(orders.c.order_id == order_id).values(lines=json.dumps(stored)))
    conn.execute(insert(order_returns).values(order_id=order_id, return_id=ret["return_id"],
                                              lines=json.dumps(ret["lines"]), points_reversed=reversed_,
                                              points_refunded=refunded, refund_cents=refund, created_at=at))
    source = f"order-return:{order_id}:{ret['return_id']}"
    _move(conn, {"customer_id": m["customer_id"]}, m["store_id"], at,
          [(f"{source}:earn", -reversed_), (f"{source}:burn", refunded)], REASON_RETURN, source)
    _spend(conn, m["customer_id"], -refund)
    _retier(conn, m["customer_id"], at)
    members.customer_changed(conn, m["customer_id"])
    return {"order_id": order_id, "return_id": ret["return_id"], "recorded": True, "points_reversed": reversed_,
            "points_refunded": refunded, "refund_cents": refund, "lines": ret["lines"],
            "balance": members.balance(conn, m["customer_id"])}
