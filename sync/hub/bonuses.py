"""Event bonuses (issue 15 item 3): points for signing up, a first purchase, a birthday and a referral.

Each kind is configured at the hub (``hub set-bonus KIND --points N``, kept in ``config`` as ``bonus:<kind>``;
0 or none: off) and posted with ``ledger.post_points`` (reason "sign-up bonus" ..., source
``bonus:<kind>:<member>``). Limits, as in Open Loyalty's event-triggered earning rules, are the entry ids:

- sign-up, first purchase: once per member (entry ``bonus-<kind>-<member>``);
- birthday: once per member per year (``bonus-birthday-<member>-<year>``);
- referral: the referrer earns it, once per referred member (``bonus-referral-<referee>``: a member is
  referred once) and at most ``cap_per_year`` times per referrer per calendar year (counted from the ledger's
  ``source``, ``bonus:referral:<referrer>``).

Posting the same bonus again changes nothing, so every trigger may simply try. Functions take the caller's
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select

from sync.hub import admin
from sync.hub.common import HubError
from sync.hub.ledger import Batch, post_points
from sync.hub.tables import ledger

MAX_BONUS_POINTS = 100_000  # contract.MAX_POINTS_PER_ENTRY: one ledger entry


class BonusKind(StrEnum):
    SIGN_UP = "sign_up"
    FIRST_PURCHASE = "first_purchase"
    BIRTHDAY = "birthday"
    REFERRAL = "referral"


REASONS = {BonusKind.SIGN_UP: "sign-up bonus", BonusKind.FIRST_PURCHASE: "first purchase bonus",
           BonusKind.BIRTHDAY: "birthday bonus", BonusKind.REFERRAL: "referral bonus"}


@dataclass(frozen=True)
class BonusRule:
    """One configured bonus: ``points`` (0: off) and, for referrals, ``cap_per_year`` (0: no cap)."""

    kind: BonusKind
    points: int = 0
    cap_per_year: int = 0


def config_key(kind: BonusKind) -> str:
    """The ``config`` key a bonus rule is stored under."""
    return f"bonus:{kind}"


def configure(conn: Connection, kind: str, points: int, cap_per_year: int = 0) -> BonusRule:
    """Set one bonus (``HubError 'bad_bonus'`` for an unknown kind or numbers out of range)."""
    try:
        bonus = BonusKind(kind)
    except ValueError:
        raise HubError("bad_bonus", f"bonus kind must be one of {', '.join(BonusKind)}, got {kind!r}") from None
    if not 0 <= points <= MAX_BONUS_POINTS:
        raise HubError("bad_bonus", f"bonus points must be from 0 to {MAX_BONUS_POINTS}, got {points}")
    if not 0 <= cap_per_year <= 10_000 or (cap_per_year and bonus is not BonusKind.REFERRAL):
        raise HubError("bad_bonus", "--cap-per-year is for the referral bonus only, from 0 (no cap) to 10000")
    admin.set_config(conn, config_key(bonus), json.dumps({"points": points, "cap_per_year": cap_per_year}))
    return BonusRule(bonus, points, cap_per_year)


def rule(conn: Connection, kind: BonusKind) -> BonusRule:
    """The configured bonus (off when not configured or unreadable)."""
    return rule_from(kind, admin.get_config(conn, config_key(kind)))


def rule_from(kind: BonusKind, raw: str | None) -> BonusRule:
    """The bonus in its stored ``config_key(kind)`` value (``rule``)."""
    try:
        doc: Any = json.loads(raw) if raw else {}
        return BonusRule(kind, int(doc.get("points", 0)), int(doc.get("cap_per_year", 0)))
    except (ValueError, TypeError, AttributeError):
        return BonusRule(kind)


def rules(conn: Connection) -> list[BonusRule]:
    return [rule(conn, kind) for kind in BonusKind]


def award(conn: Connection, kind: BonusKind, customer_id: str, at: str, *, year: int | None = None,
          batch: Batch | None = None, configured: BonusRule | None = None) -> bool:
    """Post the sign-up, first-purchase or birthday bonus of ``customer_id`` if configured and not given
    before (the birthday: not for ``year``, default ``at``'s year). True when posted now. ``configured``: the
    rule when the caller has read it already (a push reads it once per batch); ``batch``: as ``post_points``."""
    bonus = configured or rule(conn, kind)
    if bonus.points <= 0 or kind is BonusKind.REFERRAL:
        return False
    entry = f"bonus-{kind}-{customer_id}" + (f"-{year or at[:4]}" if kind is BonusKind.BIRTHDAY else "")
    return post_points(conn, customer_id=customer_id, points=bonus.points, reason=REASONS[kind],
                       source=f"bonus:{kind}:{customer_id}", entry_id=entry, at=at, batch=batch)


def award_referral(conn: Connection, referrer: str, referee: str, at: str) -> str:
    """The referrer earns the referral bonus for ``referee``. Returns what happened, in words: posted, already
    given for this member, over the referrer's yearly cap, or off. ``HubError`` when both are one member."""
    if referrer == referee:
        raise HubError("bad_referral", "a member cannot refer themselves")
    bonus = rule(conn, BonusKind.REFERRAL)
    if bonus.points <= 0:
        return "the referral bonus is off (hub set-bonus referral --points N)"
    source = f"bonus:{BonusKind.REFERRAL}:{referrer}"
    if bonus.cap_per_year:
        year = at[:4]
        given = conn.execute(select(func.count()).select_from(ledger).where(
            ledger.c.customer_id == referrer, ledger.c.source == source,
            ledger.c.created_at >= f"{year}-01-01", ledger.c.created_at < f"{int(year) + 1}-01-01")).scalar()
        if int(given or 0) >= bonus.cap_per_year:
            return f"not posted: {referrer} has had {bonus.cap_per_year} referral bonuses in {year} (the cap)"
    posted = post_points(conn, customer_id=referrer, points=bonus.points, reason=REASONS[BonusKind.REFERRAL],
                         source=source, entry_id=f"bonus-referral-{referee}", at=at)
    return f"{bonus.points} points posted to {referrer}" if posted else f"not posted: {referee} was referred before"
