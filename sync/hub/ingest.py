"""Ingest: one pushed batch of a device's events, applied in one transaction (``POST /v1/events``).

Each event is accepted, a duplicate (its id was seen before) or rejected with a reason, on its own; a bad
event never stops the batch. Statements are batched (existing ids looked up in chunks, rows inserted with
executemany, balances kept in memory for the batch) because a drained outage backlog arrives as tens of
thousands of events.

Concurrency (PostgreSQL, several hub processes): there is no global lock. The pushing device's row is locked
first, so two copies of one batch arriving at once are applied once (the second sees duplicates); customers'
balances are locked in id order when prefetched, so two stores crediting one customer serialise on that
customer only; the change feed stays ordered without a lock (``sync.hub.feed``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, case, select, update
from sqlalchemy.exc import DataError

from edge.core.contract import (
    LEDGER_EVENTS,
    MAX_ID_CHARS,
    MAX_TIMESTAMP_CHARS,
    EventType,
    check_event_payload,
    text_problem,
)
from sync import protocol
from sync.hub import (
    admin,
    bonuses,
    claims,
    members,
    offer_limits,
    offers,
    personal_coupons,
    presence,
    programme,
    rewards,
)
from sync.hub.common import DeviceAuth, HubError, chunks, now_iso
from sync.hub.db import insert, insert_many
from sync.hub.ledger import Batch, LedgerRefused, add_exception, existing_entries, existing_sales
from sync.hub.tables import (
    customer_stores,
    customers,
    devices,
    events,
    feedback,
    member_merges,
    presence_notifications,
    sales,
)
from sync.protocol import ACCEPTED, DUPLICATE, REJECTED, Event, EventResult

_CUSTOMER_EVENTS = (EventType.LEDGER_EARN, EventType.LEDGER_BURN, EventType.SALE_COMPLETED, EventType.REWARD_CLAIMED)
MAX_SEQ = 2**63 - 1  # the ``seq`` column is a signed 64-bit integer
TOTAL_TOLERANCE_CENTS = 1  # a sale's total may differ from the one recomputed from its lines by this much


def _envelope_problem(ev: Event) -> str | None:
    """The envelope fields the hub stores: seq within 64 bits, clean bounded strings."""
    i, t, tm = ev.id, ev.type, ev.device_time
    joined = i + t + tm  # the common case in one test: short, ASCII, no NUL (then no text_problem to ask)
    if (ev.seq <= MAX_SEQ and len(i) <= MAX_ID_CHARS and len(t) <= MAX_ID_CHARS and len(tm) <= MAX_TIMESTAMP_CHARS
            and joined.isascii() and "\x00" not in joined):
        return None
    if ev.seq > MAX_SEQ:
        return f"'seq' must be at most 2^63-1, got {ev.seq}"
    for name, value, limit in (("id", ev.id, MAX_ID_CHARS), ("type", ev.type, MAX_ID_CHARS),
                               ("device_time", ev.device_time, MAX_TIMESTAMP_CHARS)):
        problem = "is too long" if len(value) > limit else text_problem(value)
        if problem:
            return f"the event's '{name}' {problem}"
    return None


def _cents(value: Any) -> int | None:
    return value if type(value) is int else None


def sale_total_problem(p: dict[str, Any]) -> str | None:
    """Why a ``sale.completed`` total does not follow from its lines, or None. Recomputed as
    sum(lines' gross_cents) - discount_cents - points_value_cents (``edge/store/sales.py`` writes them so), within
    ``TOTAL_TOLERANCE_CENTS``; only when every line carries ``gross_cents`` and the payload a ``total_cents``."""
    lines, total = p.get("lines"), _cents(p.get("total_cents"))
    if total is None or not isinstance(lines, list) or not lines:
        return None
    gross = [_cents(line.get("gross_cents")) for line in lines]
    if any(g is None for g in gross):
        return None
    subtotal = sum(g for g in gross if g is not None)
    line_discounts = [_cents(line.get("discount_cents")) for line in lines]
    if all(d is not None for d in line_discounts):
        discount = sum(d for d in line_discounts if d is not None)
    else:
        discount = _cents(p.get("discount_cents")) or 0
    expected = subtotal - discount - (_cents(p.get("points_value_cents")) or 0)
    if abs(expected - total) > TOTAL_TOLERANCE_CENTS:
        return (f"sale.completed total_cents {total} does not match its lines: {subtotal} gross less {discount} "
                f"discount and the points' value is {expected}")
    return None


def payload_problem(ev: Event) -> str | None:
    """Why the hub cannot apply this event, in a sentence; None when it can. The envelope, then the contract's
    per-type fields and ranges (``check_event_payload``), then the hub's own rules of meaning."""
    problem = _envelope_problem(ev) or check_event_payload(ev.type, ev.payload)
    if problem:
        return problem
    if ev.type == EventType.LOYALTY_TOKEN_SEEN:
        return presence.token_seen_problem(ev.payload)
    if ev.type == EventType.SALE_COMPLETED:
        return sale_total_problem(ev.payload)
    return None


Checked = tuple[Event | None, str | None, str]  # (event or None, problem, event id), from ``check_events``
# what a database raises for a value it cannot hold (SQLite's driver: an integer beyond 64 bits; PostgreSQL:
# out of range, a NUL character): the push is then redone one event per transaction (``HubStorage.push``)
UNSTORABLE: tuple[type[Exception], ...] = (OverflowError, DataError)


def refuse_unstorable(conn: Connection, device: DeviceAuth, item: Checked, exc: Exception) -> EventResult:
    """The verdict for one event the database refused a value of (``UNSTORABLE``): rejected with a sentence,
    and a row in the exceptions report (``unstorable_event``) with the database's words for the administrator."""
    ev, problem, eid = item
    if ev is None:
        return EventResult(eid, REJECTED, problem)
    reason = ("the hub database cannot store a value of this event (a number out of range or a character it "
              "does not hold); the hub administrator has the details in the exceptions report")
    detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    add_exception(conn, "unstorable_event", f"device {device.device_id} sent {ev.type} event {ev.id}: {detail}",
                  detected_at=now_iso(), entry_id=ev.id, customer_id=_named_customer(ev), store_id=device.store_id,
                  device_id=device.device_id)
    return EventResult(ev.id, REJECTED, reason)


def report_rejected(batch: Batch, device: DeviceAuth, eid: str, problem: str | None) -> None:
    """A row in the exceptions report (``rejected_event``, ``entry_id`` the event id, cut to 80 characters) for
    an event refused before any database work (malformed, forged envelope, out of range): what a device sent
    that the hub would not take is for the administrator to see, not only for the device's dead letters."""
    detail = (f"device {device.device_id} of store {device.store_id} sent event {eid[:80]!r} that the hub "
              f"refused: {problem}"[:1_000])
    # every character storable by both engines (no NUL, no lone surrogate), whatever the problem quotes
    detail = detail.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    batch.report("rejected_event", detail, entry_id=eid[:80], store_id=device.store_id, device_id=device.device_id)


def check_events(device: DeviceAuth, raw_events: list[Any]) -> list[Checked]:
    """Each raw event -> (event or None, problem, event id) before any database work."""
    checked: list[tuple[Event | None, str | None, str]] = []
    for raw in raw_events:
        ev, problem, eid = protocol.check_event(raw)
        if ev is not None and (ev.device_id != device.device_id or ev.store_id != device.store_id):
            problem = (f"the event names device {ev.device_id!r} of store {ev.store_id!r}, but the credential "
                       f"belongs to device {device.device_id!r} of store {device.store_id!r}")
            ev = None
        if ev is not None:
            problem = payload_problem(ev)
            if problem:
                ev = None
        if problem and text_problem(eid):  # the result echoes the id: never a character JSON cannot carry
            eid = eid.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
        checked.append((ev, problem, eid))
    return checked


def _seen_events(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(ids):
        found.update(r[0] for r in conn.execute(select(events.c.event_id).where(events.c.event_id.in_(chunk))))
    return found


def _named_customer(ev: Event) -> str | None:
    cid = ev.payload.get("customer_id")
    return cid if isinstance(cid, str) else None


def _prefetch_customers(conn: Connection, batch: Batch, store_id: str, evs: list[Event]) -> None:
    """One look-up per chunk instead of statements per event: the balances of the batch's ledger and sale
    customers (row-locked in id order on PostgreSQL), and which named customers are relevant to the store.
    Both facts stay true for the rest of the transaction; any other customer goes the per-event way."""
    cids = sorted({cid for ev in evs if ev.type in _CUSTOMER_EVENTS and (cid := _named_customer(ev))})
    for chunk in chunks(cids):
        for cid, balance in conn.execute(select(customers.c.id, customers.c.balance)
                                         .where(customers.c.id.in_(chunk)).order_by(customers.c.id).with_for_update()):
            batch.known_balances[cid] = int(balance or 0)
    for chunk in chunks(sorted({cid for ev in evs if (cid := _named_customer(ev))})):
        relevant = conn.execute(select(customer_stores.c.customer_id).where(
            customer_stores.c.store_id == store_id, customer_stores.c.customer_id.in_(chunk)))
        batch.relevant.update((cid, store_id) for (cid,) in relevant)


def scope_problem(conn: Connection, ev: Event, batch: Batch) -> str | None:
    """Why this device may not name the event's customer, or None. A device names only customers the hub has
    made relevant to its store (home store, a pick-up order, or ``make_relevant`` by the audited member
    look-up); activity at a till never makes a customer relevant by itself (issue 12). A refusal is reported
    (``out_of_scope``)."""
    cid = _named_customer(ev)
    if cid is None or (cid, ev.store_id) in batch.relevant:
        return None
    found = conn.execute(select(customer_stores.c.customer_id).where(
        customer_stores.c.store_id == ev.store_id, customer_stores.c.customer_id == cid)).first()
    if found is not None:
        batch.relevant.add((cid, ev.store_id))
        return None
    problem = (f"customer {cid!r} is not a customer of store {ev.store_id}: a till may only name customers the "
               "hub has sent to its store; look the member up first")
    batch.report("out_of_scope", f"device {ev.device_id} sent {ev.type} event {ev.id}: {problem}",
                 entry_id=ev.id, customer_id=cid, store_id=ev.store_id, device_id=ev.device_id)
    return problem


def burn_problem(conn: Connection, ev: Event, batch: Batch) -> str | None:
    """Why a ``ledger.burn`` does not name a sale of its own device, or None. The sale may be in this batch
    (a till sends the burn before its ``sale.completed``) or not yet sent; one recorded from another device, or
    no sale at all, is a problem. The burn still stands (the customer left with the goods); a person decides."""
    sale_id = ev.payload.get("sale_id")
    if not isinstance(sale_id, str):
        return f"burn of {ev.payload['points']} points names no sale"
    owners: dict[str, str | None] = batch.context.setdefault("sale_owners", {})
    if sale_id not in owners:  # the batch's burns' sales are read together in ``_start``
        owners[sale_id] = conn.execute(select(sales.c.device_id).where(sales.c.sale_id == sale_id)).scalar()
    owner = owners[sale_id]
    if owner is not None and owner != ev.device_id:
        return f"burn of {ev.payload['points']} points names sale {sale_id} of device {owner}"
    return None


def _ledger_event(conn: Connection, ev: Event, batch: Batch) -> None:
    p = ev.payload
    cid = p["customer_id"]
    if ev.type == EventType.LEDGER_BURN and p["entry_id"] not in batch.applied_entries:
        problem = burn_problem(conn, ev, batch)
        if problem:
            batch.report("burn_without_sale", f"{problem}: device {ev.device_id} of store {ev.store_id}, customer {cid}",
                         entry_id=p["entry_id"], customer_id=cid, store_id=ev.store_id, device_id=ev.device_id)
    batch.ledger(conn, {"entry_id": p["entry_id"], "customer_id": cid, "kind": ev.type.split(".")[1],
                        "points": p["points"], "sale_id": p.get("sale_id"), "reason": str(p.get("reason", ev.type)),
                        "store_id": ev.store_id, "device_id": ev.device_id, "event_id": ev.id,
                        "created_at": str(p.get("created_at", ev.device_time))})


def _sale_event(conn: Connection, ev: Event, payload_text: str, batch: Batch) -> None:
    p = ev.payload
    sale_id = str(p.get("id", p.get("sale_id")))
    cid = p.get("customer_id")
    cid = cid if isinstance(cid, str) else None
    if sale_id in batch.sale_ids:
        # spend counts once per sale whatever the event id: a re-sent sale changes nothing, a person looks
        batch.report("duplicate_sale", f"sale {sale_id} was sent again by device {ev.device_id} of store "
                     f"{ev.store_id} under event {ev.id}; its spend was not counted twice",
                     entry_id=ev.id, customer_id=cid, store_id=ev.store_id, device_id=ev.device_id)
        return
    batch.sale_ids.add(sale_id)
    total = p.get("total_cents", 0)
    total = total if isinstance(total, int) and not isinstance(total, bool) else 0
    batch.sales.append({"sale_id": sale_id, "store_id": ev.store_id,
                        "device_id": ev.device_id, "customer_id": cid,
                        "total_cents": total, "created_at": str(p.get("created_at", ev.device_time)),
                        "payload": payload_text})
    offer_limits.count_sale(conn, batch, p, sale_id=sale_id, customer_id=cid, store_id=ev.store_id,
                            device_id=ev.device_id, at=str(p.get("created_at", ev.device_time)))
    if cid is not None:
        batch.spend[cid] = batch.spend.get(cid, 0) + total
        batch.touched.add(cid)
        _after_member_sale(conn, cid, sale_id, total, str(p.get("created_at", ev.device_time)), batch)
    code = p.get("claim_code")
    if isinstance(code, str) and code:  # a guest receipt the member may claim later (sync/hub/claims.py)
        claims.register(conn, code=code, sale_id=sale_id, store_id=ev.store_id, device_id=ev.device_id,
                        at=batch.received)


def _read_settings(conn: Connection, batch: Batch) -> None:
    """What a push's points and member sales follow - the programme, the first-purchase bonus, the next-order
    coupon - in one statement per push."""
    first_key = bonuses.config_key(bonuses.BonusKind.FIRST_PURCHASE)
    stored = admin.get_configs(conn, [programme.RULES_KEY, first_key, personal_coupons.NEXT_ORDER_KEY])
    batch.use_rules(programme.rules_from(stored[programme.RULES_KEY]))
    batch.context["first_purchase"] = bonuses.rule_from(bonuses.BonusKind.FIRST_PURCHASE, stored[first_key])
    batch.context["next_order"] = personal_coupons.next_order_from(stored[personal_coupons.NEXT_ORDER_KEY])


def _after_member_sale(conn: Connection, cid: str, sale_id: str, total: int, at: str, batch: Batch) -> None:
    """A member's sale: the first-purchase bonus (once per member) and the next-order coupon, when configured
    (the rules are read once per batch)."""
    if "first_purchase" not in batch.context:
        _read_settings(conn, batch)
    first: bonuses.BonusRule = batch.context["first_purchase"]
    if first.points > 0:
        bonuses.award(conn, first.kind, cid, at, batch=batch, configured=first)
    rule: personal_coupons.NextOrderRule = batch.context["next_order"]
    if rule.amount_cents > 0:
        personal_coupons.issue_next_order(conn, rule, customer_id=cid, source_id=sale_id, total_cents=total, at=at)


def _coupon_event(conn: Connection, ev: Event, _text: str, _batch: Batch) -> None:
    problem = offers.redeem_coupon(conn, ev.payload["code"], ev.payload.get("sale_id"), ev.store_id, ev.device_time)
    if problem is not None:
        add_exception(conn, problem[0], problem[1], detected_at=now_iso(), entry_id=ev.id,
                      customer_id=ev.payload.get("customer_id"), store_id=ev.store_id, device_id=ev.device_id)


def _feedback_event(conn: Connection, ev: Event, _text: str, _batch: Batch) -> None:
    p = ev.payload
    cid = p.get("customer_id")
    conn.execute(insert(conn, feedback).values(
        id=p["id"], sale_id=p.get("sale_id"), customer_id=cid if isinstance(cid, str) else None,
        store_id=ev.store_id, score=p["score"], created_at=str(p.get("created_at", ev.device_time)))
        .on_conflict_do_nothing())


_NOTIFICATION_KEYS = ("offer_id", "customer_id", "campaign_id", "zone", "trigger", "valid_until")


def compose_notification(conn: Connection, ev: Event) -> dict[str, Any]:
    """What the webhook receives for a ``presence.notification_requested``: the device's identifiers
    (checked by the contract) and the store from its credential; the words (``title``, ``message``) come from
    the hub's own presence rule for the store and campaign, never from the device (issue 12). Without such a
    rule the notification carries no words; the push service uses its own."""
    p = ev.payload
    out: dict[str, Any] = {k: p[k] for k in _NOTIFICATION_KEYS if isinstance(p.get(k), str)}
    out["store_id"] = ev.store_id
    found = presence.rule_snapshot(conn, out["campaign_id"], ev.store_id) if "campaign_id" in out else None
    rule = found["rule"] if found is not None and isinstance(found.get("rule"), dict) else {}
    offer = rule.get("offer")
    if isinstance(offer, dict) and isinstance(offer.get("name"), str):
        out["title"] = offer["name"]
    if isinstance(rule.get("message"), str):
        out["message"] = rule["message"]
    language = _member_language(conn, out.get("customer_id"))
    if language:
        out["language"] = language  # the member's preferred language: the push service picks its texts by it
    return out


def _member_language(conn: Connection, customer_id: str | None) -> str | None:
    """The ``language`` in a member's profile preferences (``es``, ``en``), or None when unset or unreadable."""
    if not customer_id:
        return None
    raw = conn.execute(select(customers.c.preferences).where(customers.c.id == customer_id)).scalar()
    try:
        language = json.loads(raw or "{}").get("language")
    except (ValueError, AttributeError):
        return None
    return language if isinstance(language, str) and 2 <= len(language) <= 12 else None


def _location_consent(conn: Connection, batch: Batch, customer_id: str) -> bool:
    """``presence.has_location_consent``, read once per customer and push."""
    known: dict[str, bool] = batch.context.setdefault("location_consent", {})
    if customer_id not in known:
        known[customer_id] = presence.has_location_consent(conn, customer_id)
    return known[customer_id]


def _presence_event(conn: Connection, ev: Event, _text: str, batch: Batch) -> None:
    # analytics rows are written with the batch (``push``); only notification requests go to the webhook
    row = presence.analytics_row(ev.id, ev.store_id, ev.device_id, ev.type, ev.payload, batch.received,
                                 lambda cid: _location_consent(conn, batch, cid))
    if row is not None:
        batch.analytics.setdefault(row[0], []).append(row[1])
    elif ev.type == presence.NOTIFICATION_EVENT:
        conn.execute(insert(conn, presence_notifications).values(
            event_id=ev.id, store_id=ev.store_id, device_id=ev.device_id, type=ev.type,
            payload=protocol.compact_json(compose_notification(conn, ev)),
            received_at=batch.received, next_attempt_at=batch.received).on_conflict_do_nothing())


def _token_event(conn: Connection, ev: Event, _text: str, batch: Batch) -> None:
    presence.record_token_seen(conn, ev.store_id, ev.device_id, ev.payload, batch.received)


def _reward_event(conn: Connection, ev: Event, _text: str, batch: Batch) -> None:
    # confirmed like a burn: applied once by claim id, an uncovered claim applied and reported (overdraft)
    rewards.apply_claim(conn, ev.payload, channel="store", store_id=ev.store_id, device_id=ev.device_id,
                        event_id=ev.id, batch=batch)


def meaning_problem(conn: Connection, ev: Event, batch: Batch | None = None) -> str | None:
    """Why the hub's own records refuse this event (a rejection reason), or None: a reward claim must name a
    reward of the hub's catalogue and a claim id no points movement has (``rewards.till_claim_problem``; the
    ``batch``'s own entries count too)."""
    if ev.type == EventType.REWARD_CLAIMED:
        return rewards.till_claim_problem(conn, ev.payload, batch.applied_entries if batch else ())
    return None


_HANDLERS = {EventType.SALE_COMPLETED: _sale_event, EventType.COUPON_REDEEMED: _coupon_event,
             EventType.FEEDBACK_SUBMITTED: _feedback_event, EventType.LOYALTY_TOKEN_SEEN: _token_event,
             EventType.REWARD_CLAIMED: _reward_event}


def claim_problem(conn: Connection, ev: Event, batch: Batch) -> str | None:
    """A ``receipt.claimed`` event applied (``claims.claim``), or why not: the refusal's sentence, which
    rejects the event (the till keeps it among its dead letters; ``sync retry-dead`` sends it again, e.g. once
    the receipt's sale has reached the hub). Savepoint: a refusal leaves the batch untouched."""
    if ev.type != EventType.RECEIPT_CLAIMED:
        return None
    p = ev.payload
    if batch.sales:  # the receipt's sale may be earlier in this very batch (one till, offline, both queued)
        insert_many(conn, sales, batch.sales, on_conflict_do_nothing=True)
        batch.sales.clear()
    try:
        with conn.begin_nested():
            claims.claim(conn, code=p["code"], customer_id=p["customer_id"], channel=f"till:{ev.device_id}")
    except HubError as exc:
        return str(exc)
    return None


def _handle(conn: Connection, ev: Event, payload_text: str, batch: Batch) -> None:
    if ev.type in LEDGER_EVENTS:
        _ledger_event(conn, ev, batch)
    elif ev.type.startswith("presence."):
        _presence_event(conn, ev, payload_text, batch)
    else:
        handler = _HANDLERS.get(ev.type)  # type: ignore[call-overload]
        if handler is not None:
            handler(conn, ev, payload_text, batch)
    # any other type is kept in ``events`` only: new edge event types never block the outbox


def _follow_merges(conn: Connection, checked: list[tuple[Event | None, str | None, str]]) -> None:
    """A till offline during a merge still names the absorbed member: such an event is applied to the survivor
    (``member_merges``), whose profile the till's store already received with the merge."""
    named = sorted({cid for ev, _, _ in checked if ev is not None and (cid := _named_customer(ev))})
    survivors: dict[str, str] = {}
    for chunk in chunks(named):
        survivors.update((a, s) for a, s in conn.execute(select(member_merges.c.absorbed_id, member_merges.c.survivor_id)
                                                         .where(member_merges.c.absorbed_id.in_(chunk))))
    for ev, _, _ in checked:
        if ev is not None and (cid := _named_customer(ev)) in survivors:
            ev.payload["customer_id"] = survivors[cid]


def _start(conn: Connection, device: DeviceAuth, checked: list[tuple[Event | None, str | None, str]],
           received: str) -> tuple[Batch, set[str]]:
    # the device's row first: pushes of one device (two processes, the same batch) take turns
    conn.execute(select(devices.c.id).where(devices.c.id == device.device_id).with_for_update())
    batch = Batch(received)
    seen = _seen_events(conn, [ev.id for ev, _, _ in checked if ev is not None])
    batch.applied_entries = existing_entries(conn, [ev.payload["entry_id"] for ev, _, _ in checked
                                                    if ev is not None and ev.type in LEDGER_EVENTS])
    batch.sale_ids = existing_sales(conn, [str(ev.payload.get("id", ev.payload.get("sale_id"))) for ev, _, _ in checked
                                           if ev is not None and ev.type == EventType.SALE_COMPLETED])
    fresh = [ev for ev, _, _ in checked if ev is not None and ev.id not in seen]
    visitors = sorted({cid for ev in fresh if ev.type == EventType.PRESENCE_VISIT and (cid := _named_customer(ev))})
    if visitors:  # the location consent of the push's visitors, read together (``_location_consent``)
        batch.context["location_consent"] = presence.location_consents(conn, visitors)
    _prefetch_customers(conn, batch, device.store_id, fresh)
    if any(ev.type in _CUSTOMER_EVENTS for ev in fresh):
        _read_settings(conn, batch)
    burnt = sorted({sid for ev, _, _ in checked if ev is not None and ev.type == EventType.LEDGER_BURN
                    and isinstance(sid := ev.payload.get("sale_id"), str)})
    owners: dict[str, str | None] = batch.context.setdefault("sale_owners", dict.fromkeys(burnt))
    for chunk in chunks(burnt):
        owners.update(conn.execute(select(sales.c.sale_id, sales.c.device_id).where(sales.c.sale_id.in_(chunk))).all())
    return batch, seen


def push(conn: Connection, device: DeviceAuth, checked: list[tuple[Event | None, str | None, str]], *,
         finite_numbers: bool = False) -> list[EventResult]:
    """Apply checked events (``check_events``) in the caller's write transaction; one result per event, in
    order. ``finite_numbers``: the caller knows the events hold no NaN or infinity (a faster encoder is used)."""
    received = now_iso()
    _follow_merges(conn, checked)
    batch, seen = _start(conn, device, checked, received)
    results: list[EventResult] = []
    max_seq = -1
    for ev, problem, eid in checked:
        if ev is None:
            report_rejected(batch, device, eid, problem)
            results.append(EventResult(eid, REJECTED, problem))
            continue
        if ev.id in seen:
            results.append(EventResult(ev.id, DUPLICATE))
            continue
        problem = scope_problem(conn, ev, batch) or claim_problem(conn, ev, batch) or meaning_problem(conn, ev, batch)
        if problem:
            results.append(EventResult(ev.id, REJECTED, problem))
            continue
        payload_text = protocol.compact_json(ev.payload, finite=finite_numbers)
        try:
            _handle(conn, ev, payload_text, batch)
        except LedgerRefused as exc:
            batch.report("ledger_refused", f"device {ev.device_id} sent {ev.type} event {ev.id}: {exc}",
                         entry_id=ev.id, customer_id=_named_customer(ev), store_id=ev.store_id, device_id=ev.device_id)
            results.append(EventResult(ev.id, REJECTED, str(exc)))
            continue
        seen.add(ev.id)
        batch.events.append({"event_id": ev.id, "device_id": ev.device_id, "store_id": ev.store_id, "seq": ev.seq,
                             "type": ev.type, "payload": payload_text, "device_time": ev.device_time,
                             "received_at": received})
        max_seq = max(max_seq, ev.seq)
        results.append(EventResult(ev.id, ACCEPTED))
    insert_many(conn, events, batch.events)
    for table, rows in batch.analytics.items():  # DO NOTHING: a re-sent visit or bucket is kept once
        insert_many(conn, table, rows, on_conflict_do_nothing=True)
    batch.flush(conn)
    members.customers_changed(conn, sorted(batch.touched))
    conn.execute(update(devices).where(devices.c.id == device.device_id).values(
        last_seen_at=received, last_seq=case((devices.c.last_seq < max_seq, max_seq), else_=devices.c.last_seq)))
    return results
