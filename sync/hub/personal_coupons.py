"""Single-use personal coupons the hub issues: the birthday coupon and the next-order coupon (issue 15 item 3).

Each coupon comes with its own personal offer (an amount off the basket that needs the coupon, valid from
``valid_from`` for ``valid_days``), so it reaches every store the member is relevant to, and a store that
learns the member later receives it with the profile (``members.make_relevant`` sends personal offers and
coupons). Codes are random (``BD-``/``NX-`` and 10 base-32 characters): a personal code is not guessable from
the member's id. Offer ids make issuing idempotent: ``birthday-<member>-<year>``, ``next-<sale or order id>``.
Functions take the caller's transaction.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from sync.hub import admin, bonuses, offers
from sync.hub.common import HubError
from sync.hub.tables import customers
from sync.hub.tables import offers as offers_table

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed at a till
NEXT_ORDER_KEY = "next_order_coupon"


def new_code(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def _midnight(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def issue(conn: Connection, *, offer_id: str, code_prefix: str, customer_id: str, name: str, amount_cents: int,
          valid_from: date, valid_days: int, threshold_cents: int = 0) -> str | None:
    """One personal single-use coupon worth ``amount_cents`` off a basket of ``threshold_cents`` or more, valid
    ``valid_days`` days from ``valid_from`` (UTC midnight). Returns its code, or None when ``offer_id`` exists
    (issued before)."""
    if conn.execute(select(offers_table.c.id).where(offers_table.c.id == offer_id)).first() is not None:
        return None
    offers.upsert_offer(conn, offers.normalise_offer({
        "id": offer_id, "kind": "amount_off_basket", "name": name, "customer_id": customer_id,
        "params": {"amount_cents": amount_cents, "threshold_cents": threshold_cents}, "requires_coupon": True,
        "stackable": True, "valid_from": _midnight(valid_from),
        "valid_until": _midnight(valid_from + timedelta(days=valid_days))}))
    code = new_code(code_prefix)
    offers.create_coupon(conn, code, offer_id, customer_id, True)
    return code


# ------------------------------------------------------------------------------------------- birthday coupons
@dataclass(frozen=True)
class BirthdayPlan:
    """``amount_cents`` (the till's ``loyalty.birthday_coupon_cents`` by default), issued ``days_before`` the
    first day of the birthday month (0: on it), valid ``valid_days`` days."""

    amount_cents: int
    days_before: int = 0
    valid_days: int = 31

    def problem(self) -> str | None:
        if not 1 <= self.amount_cents <= 10**7:
            return "the birthday coupon's amount must be from 1 to 10,000,000 cents"
        if not 0 <= self.days_before <= 60 or not 1 <= self.valid_days <= 366:
            return "--days-before must be 0..60 and --valid-days 1..366"
        return None


def _birthday_month(text: str | None) -> int | None:
    try:
        return date.fromisoformat(str(text)).month if text else None
    except ValueError:
        return None  # a birthday the hub cannot read earns no coupon; it never stops the job


def issue_birthday_coupons(conn: Connection, today: date, plan: BirthdayPlan) -> list[dict[str, Any]]:
    """Every member whose issuing window (from ``days_before`` the first of the birthday month, for
    ``valid_days``) holds ``today`` and who has no birthday coupon for that year gets one, and the birthday
    bonus when configured (``bonuses``). Idempotent per member per year. Returns what was issued
    (``customer_id, code, year, valid_from``)."""
    problem = plan.problem()
    if problem:
        raise HubError("bad_request", problem)
    issued = []
    for cid, birthday in conn.execute(select(customers.c.id, customers.c.birthday)
                                      .where(customers.c.birthday.is_not(None)).order_by(customers.c.id)):
        month = _birthday_month(birthday)
        if month is None:
            continue
        for year in (today.year, today.year + 1):
            start = date(year, month, 1) - timedelta(days=plan.days_before)
            if not start <= today < start + timedelta(days=plan.valid_days):
                continue
            code = issue(conn, offer_id=f"birthday-{cid}-{year}", code_prefix="BD-", customer_id=cid,
                         name="Happy birthday", amount_cents=plan.amount_cents, valid_from=start,
                         valid_days=plan.valid_days)
            if code is not None:
                bonuses.award(conn, bonuses.BonusKind.BIRTHDAY, cid, _midnight(start), year=year)
                issued.append({"customer_id": cid, "code": code, "year": year, "valid_from": start.isoformat()})
    return issued


# ------------------------------------------------------------------------------------------- next-order coupons
@dataclass(frozen=True)
class NextOrderRule:
    """A sale or order of ``min_total_cents`` or more issues a coupon worth ``amount_cents`` for the next
    visit, valid ``valid_days`` days (``amount_cents`` 0: off)."""

    min_total_cents: int = 0
    amount_cents: int = 0
    valid_days: int = 30


def configure_next_order(conn: Connection, rule: NextOrderRule) -> None:
    if not 0 <= rule.amount_cents <= 10**7 or not 0 <= rule.min_total_cents <= 10**9 \
            or not 1 <= rule.valid_days <= 366:
        raise HubError("bad_request", "amount 0..10,000,000 cents, minimum 0..1,000,000,000 cents, valid 1..366 days")
    admin.set_config(conn, NEXT_ORDER_KEY, json.dumps(rule.__dict__))


def next_order_rule(conn: Connection) -> NextOrderRule:
    """The configured next-order coupon (off when not configured or unreadable)."""
    return next_order_from(admin.get_config(conn, NEXT_ORDER_KEY))


def next_order_from(raw: str | None) -> NextOrderRule:
    """The next-order coupon rule in its stored ``NEXT_ORDER_KEY`` value (``next_order_rule``)."""
    try:
        return NextOrderRule(**json.loads(raw)) if raw else NextOrderRule()
    except (ValueError, TypeError):
        return NextOrderRule()


def issue_next_order(conn: Connection, rule: NextOrderRule, *, customer_id: str, source_id: str,
                     total_cents: int, at: str) -> str | None:
    """The next-order coupon of a member's sale or order ``source_id`` when it qualifies; None otherwise or
    when issued before (idempotent by ``source_id``)."""
    if rule.amount_cents <= 0 or total_cents < max(rule.min_total_cents, 1):
        return None
    try:
        day = datetime.fromisoformat(at.replace("Z", "+00:00")).date()
    except ValueError:
        day = datetime.now(UTC).date()
    return issue(conn, offer_id=f"next-{source_id}", code_prefix="NX-", customer_id=customer_id,
                 name="Thank you: next visit", amount_cents=rule.amount_cents, valid_from=day,
                 valid_days=rule.valid_days)
