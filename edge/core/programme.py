"""The loyalty programme's rules, set at the hub and pulled by every till: one shape, checked here.

``ProgrammeRules`` holds what the issue-15 programme needs beyond the per-sale earning rules
(``edge.core.loyalty``):

- **Tiers** (``tiers``): a ladder of ``TierRule(name, threshold_cents, multiplier)``, lowest first; the
  first threshold is 0 (every member has a tier). A member qualifies for the highest tier whose threshold
  their *net* spend over the last ``spend_window_days`` reaches (sales + web/app orders - returns, from
  dated rows). An **upgrade** applies at once; a **downgrade** only at a review: every ``evaluation_months``
  months on day ``evaluation_day`` (months counted from January), plus ``downgrade_grace_days`` (Open
  Loyalty's "downgrade at the end of the period" with a grace; ``decide_tier`` is the rule).
- **Expiry** (``expiry_months``, 0 = never): every earn is a *lot* that expires ``expiry_months`` after it
  was earned; burns consume the oldest lots first (FIFO); what a lot still holds on its date expires.
  ``expiry_warning_days``: how far ahead a member is told about points expiring soon.
- **Pending period** (``pending_days``, 0 = none): earned points cannot be spent until it has passed.
- **Birthday coupon** (``birthday_coupon_cents``, 0 = none): a single-use personal coupon of that value the
  hub's daily jobs issue ``birthday_days_before`` days before the first of the member's birthday month, valid
  ``birthday_valid_days`` days, redeemable in any store (``sync.hub.personal_coupons``).

``ProgrammeRules.from_doc`` / ``to_doc`` are the wire and storage form (``config`` key ``programme`` at the
hub, ``ChangeKind.PROGRAMME`` in the pull, ``sync_state`` at the till); ``doc_problems`` names every bad
value, one sentence per key with its range. ``PointsSummary`` is the points part of a member's profile
(earned, spent, expired, locked lots, upcoming expiries) and the till's arithmetic on it. Pure: no I/O.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from edge.core.contract import MAX_CENTS, text_problem
from edge.core.i18n import N_, Text
from edge.core.tiers import next_tier, tier_for_spend

MAX_TIERS = 10
MAX_TIER_NAME_CHARS = 40
MAX_MULTIPLIER = 100.0
EVALUATION_MONTHS = (1, 2, 3, 4, 6, 12)  # divisors of 12: the reviews fall on the same months every year
MAX_EXPIRIES_SENT = 12  # upcoming expiry dates in a profile
MAX_LOCKS_SENT = 100  # pending-period lots in a profile

# key -> (lowest, highest, what it is): the integer rules and their declared ranges (one table, one check)
INT_RULES: dict[str, tuple[int, int, str]] = {
    "spend_window_days": (28, 731, N_("days of spend that count for a tier (365: rolling 12 months)")),
    "evaluation_months": (1, 12, N_("months between downgrade reviews (1, 2, 3, 4, 6 or 12)")),
    "evaluation_day": (1, 28, N_("day of the month of a downgrade review")),
    "downgrade_grace_days": (0, 365, N_("days after a review before a downgrade takes effect")),
    "expiry_months": (0, 120, N_("months after which earned points expire (0: never)")),
    "pending_days": (0, 365, N_("days before earned points can be spent (0: at once)")),
    "expiry_warning_days": (0, 365, N_("days ahead a member is told about points expiring soon")),
    "birthday_coupon_cents": (0, 10**7, N_("value of the birthday coupon the hub issues each year (0: none)")),
    "birthday_days_before": (0, 60, N_("days before the first of the birthday month the coupon is issued")),
    "birthday_valid_days": (1, 366, N_("days the birthday coupon stays valid")),
    "offline_burn_cap_points": (0, 10**9, N_("points a till may let a member spend per day beyond the balance the "
                                "hub confirmed (the offline allowance); the hub reports burns past it")),
}


@dataclass(frozen=True)
class TierRule:
    """One step of the ladder: ``threshold_cents`` of net spend in the window, earning ``multiplier``."""

    name: str
    threshold_cents: int
    multiplier: float = 1.0


DEFAULT_TIERS = (TierRule("Bronze", 0, 1.0), TierRule("Silver", 50_000, 1.25), TierRule("Gold", 150_000, 1.5))


def add_months(when: datetime, months: int) -> datetime:
    """``when`` plus ``months`` calendar months, the day clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def parse_time(text: str | None) -> datetime | None:
    """ISO 8601 text -> an aware UTC datetime (naive values are UTC); None for None or junk."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def iso(when: datetime) -> str:
    """An aware datetime as the ISO 8601 UTC text the hub stores (``...Z``, milliseconds)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class TierDecision:
    """What ``decide_tier`` says: the member's ``tier`` now, and whether this was their downgrade review
    (``reviewed``: record the time, so the same review never downgrades twice). ``why``: upgrade, downgrade,
    review, override or "" (nothing to do)."""

    tier: str
    reviewed: bool
    why: str = ""


@dataclass(frozen=True)
class ProgrammeRules:
    """The programme (module docstring). Build with ``from_doc`` (checked) or ``with_changes``."""

    tiers: tuple[TierRule, ...] = DEFAULT_TIERS
    spend_window_days: int = 365
    evaluation_months: int = 12
    evaluation_day: int = 1
    downgrade_grace_days: int = 0
    expiry_months: int = 24
    pending_days: int = 0
    expiry_warning_days: int = 30
    birthday_coupon_cents: int = 500
    birthday_days_before: int = 0
    birthday_valid_days: int = 31
    offline_burn_cap_points: int = 2_000  # the offline allowance (edge.core.loyalty.LoyaltyRules)

    # ------------------------------------------------------------------ tiers
    @property
    def thresholds_cents(self) -> dict[str, int]:
        return {t.name: t.threshold_cents for t in self.tiers}

    @property
    def multipliers(self) -> dict[str, float]:
        return {t.name: t.multiplier for t in self.tiers}

    def tier_for_spend(self, spend_cents: int) -> str:
        return tier_for_spend(spend_cents, self.thresholds_cents)

    def next_tier(self, spend_cents: int) -> tuple[str, int] | None:
        """(the tier above, cents still to spend), or None at the top."""
        return next_tier(spend_cents, self.thresholds_cents)

    def rank(self, tier: str) -> int:
        """0 for the lowest tier; -1 for a name the ladder does not hold."""
        return next((i for i, t in enumerate(self.tiers) if t.name == tier), -1)

    def spend_since(self, now: datetime) -> datetime:
        """The start of the spend window ending at ``now``."""
        return now - timedelta(days=self.spend_window_days)

    def last_review(self, now: datetime) -> datetime:
        """The latest downgrade review at or before ``now``: a review date (day ``evaluation_day`` of every
        ``evaluation_months``-th month from January, 00:00 UTC) plus ``downgrade_grace_days``."""
        grace = timedelta(days=self.downgrade_grace_days)
        month = ((now.month - 1) // self.evaluation_months) * self.evaluation_months + 1
        review = datetime(now.year, month, self.evaluation_day, tzinfo=UTC)
        while review + grace > now:
            review = add_months(review, -self.evaluation_months)
        return review + grace

    def decide_tier(self, current: str, spend_cents: int, now: datetime, reviewed_at: datetime | None, *,
                    override: str | None = None, override_until: datetime | None = None) -> TierDecision:
        """The member's tier at ``now`` from their net spend in the window.

        An active manual override (``override`` with no end or an end after ``now``) wins. Otherwise a
        qualified higher tier (or a current tier the ladder no longer holds) applies at once; a lower one
        only when a review (``last_review``) or the end of an override falls after ``reviewed_at``. A member
        never reviewed (``reviewed_at`` None: new, or from before reviews existed) is marked reviewed without
        a downgrade: their tier stands until the next review."""
        if override and (override_until is None or override_until > now):
            return TierDecision(override, False, "override" if override != current else "")
        qualified = self.tier_for_spend(spend_cents)
        if self.rank(current) < 0 or self.rank(qualified) > self.rank(current):
            return TierDecision(qualified, False, "upgrade")
        due = self.last_review(now)
        if override_until is not None and override_until <= now:
            due = max(due, override_until)
        if reviewed_at is None:
            return TierDecision(current, True, "review")
        if reviewed_at >= due:
            return TierDecision(current, False)
        return TierDecision(qualified, True, "downgrade" if qualified != current else "review")

    # ------------------------------------------------------------------ lots
    def expires_at(self, earned_at: datetime) -> datetime | None:
        """When points earned at ``earned_at`` expire (None: they never do)."""
        return add_months(earned_at, self.expiry_months) if self.expiry_months else None

    def available_at(self, earned_at: datetime) -> datetime:
        """When points earned at ``earned_at`` may be spent."""
        return earned_at + timedelta(days=self.pending_days)

    # ------------------------------------------------------------------ the wire form
    def to_doc(self) -> dict[str, Any]:
        return {"tiers": [{"name": t.name, "threshold_cents": t.threshold_cents, "multiplier": t.multiplier}
                          for t in self.tiers],
                **{k: getattr(self, k) for k in INT_RULES}}

    @classmethod
    def from_doc(cls, doc: Any) -> ProgrammeRules:
        """Checked: ``ValueError`` whose message is every problem, one per line (``doc_problems``). Keys the
        document lacks keep their defaults; unknown keys are refused."""
        problems = doc_problems(doc)
        if problems:
            raise RulesError(problems)
        tiers = tuple(TierRule(str(t["name"]), int(t["threshold_cents"]), float(t.get("multiplier", 1.0)))
                      for t in doc.get("tiers", [])) or DEFAULT_TIERS
        return cls(tiers=tiers, **{k: int(doc[k]) for k in INT_RULES if k in doc})

    @classmethod
    def from_settings(cls, thresholds_cents: Mapping[str, int], multipliers: Mapping[str, float]) -> ProgrammeRules:
        """The till's built-in programme from its ``[loyalty]`` settings (used until the hub's arrives)."""
        ladder = sorted(thresholds_cents.items(), key=lambda kv: (kv[1], kv[0]))
        return cls(tiers=tuple(TierRule(n, int(c), float(multipliers.get(n, 1.0))) for n, c in ladder))

    def with_changes(self, assignments: Iterable[str]) -> ProgrammeRules:
        """``key=value`` texts applied (``tiers=Bronze:0:1,Silver:50000:1.25,Gold:150000:1.5``, amounts in
        cents); ``ValueError`` naming every bad one, one line each, nothing applied."""
        doc, problems = self.to_doc(), list[str]()
        for text in assignments:
            key, sep, value = text.partition("=")
            key = key.strip()
            if not sep:
                problems.append(Text(N_("{text!r}: write KEY=VALUE, e.g. expiry_months=24"), text=text))
            elif key == "tiers":
                tiers, problem = _parse_tiers(value)
                if problem:
                    problems.append(problem)
                else:
                    doc["tiers"] = tiers
            elif key in INT_RULES:
                try:
                    doc[key] = int(value.strip())
                except ValueError:
                    lo, hi, what = INT_RULES[key]
                    problems.append(Text(N_("{key}: {value!r} is not a whole number ({what}, {lo} to {hi})"), key=key,
                                         value=value.strip(), what=Text(what), lo=lo, hi=hi))
            else:
                problems.append(_not_a_rule(key))
        problems.extend(doc_problems(doc))
        if problems:
            raise RulesError(problems)
        return ProgrammeRules.from_doc(doc)


def _parse_tiers(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """``Name:threshold_cents[:multiplier],...`` -> (tier objects, None) or ([], the problem)."""
    tiers: list[dict[str, Any]] = []
    for i, part in enumerate(p.strip() for p in text.split(",")):
        bits = [b.strip() for b in part.split(":")]
        try:
            if len(bits) not in (2, 3):
                raise ValueError
            tiers.append({"name": bits[0], "threshold_cents": int(bits[1]),
                          "multiplier": float(bits[2]) if len(bits) == 3 else 1.0})
        except ValueError:
            return [], Text(N_("tiers: item {i} {part!r} must be NAME:THRESHOLD_CENTS[:MULTIPLIER], "
                               "e.g. Gold:150000:1.5"), i=i + 1, part=part)
    return tiers, None


def _tier_problems(tiers: Any) -> list[str]:
    if not isinstance(tiers, list) or not 1 <= len(tiers) <= MAX_TIERS:
        return [Text(N_("tiers: must be a list of 1 to {n} tiers"), n=MAX_TIERS)]
    problems: list[str] = []
    names: set[str] = set()
    previous = -1
    for i, t in enumerate(tiers, 1):
        if not isinstance(t, dict) or set(t) - {"name", "threshold_cents", "multiplier"}:
            problems.append(Text(N_("tiers: tier {i} must be an object with name, threshold_cents and multiplier"), i=i))
            continue
        name, threshold, mult = t.get("name"), t.get("threshold_cents"), t.get("multiplier", 1.0)
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_TIER_NAME_CHARS or text_problem(name) \
                or name != name.strip() or name in names:
            problems.append(Text(N_("tiers: tier {i} name must be 1 to {n} characters, unique"), i=i,
                                 n=MAX_TIER_NAME_CHARS))
        else:
            names.add(name)
        if type(threshold) is not int or not 0 <= threshold <= MAX_CENTS:
            problems.append(Text(N_("tiers: tier {i} threshold_cents must be a whole number from 0 to {n}"), i=i,
                                 n=MAX_CENTS))
        elif i == 1 and threshold != 0:
            problems.append(Text(N_("tiers: the first tier's threshold_cents must be 0 (every member has a tier)")))
        elif threshold <= previous:
            problems.append(Text(N_("tiers: tier {i} threshold_cents must be above tier {j}'s ({previous})"), i=i,
                                 j=i - 1, previous=previous))
        else:
            previous = threshold
        if isinstance(mult, bool) or not isinstance(mult, int | float) or not 0 <= mult <= MAX_MULTIPLIER:
            problems.append(Text(N_("tiers: tier {i} multiplier must be a number from 0 to {n:g}"), i=i,
                                 n=MAX_MULTIPLIER))
    return problems


class RulesError(ValueError):
    """The programme refused: ``problems`` is every reason, one :class:`~edge.core.i18n.Text` each (English as
    ``str``, translatable where shown); ``str(error)`` is them one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _not_a_rule(key: str) -> Text:
    return Text(N_("{key}: not a programme rule; the rules are tiers, {rules}"), key=key, rules=", ".join(INT_RULES))


def doc_problems(doc: Any) -> list[str]:
    """Every reason the programme document cannot be used, one sentence per key with its range; [] if none."""
    if not isinstance(doc, dict):
        return [Text(N_("the programme must be a JSON object"))]
    problems: list[str] = [_not_a_rule(k) for k in sorted(set(doc) - {"tiers", *INT_RULES})]
    if "tiers" in doc:
        problems.extend(_tier_problems(doc["tiers"]))
    for key, (lo, hi, what) in INT_RULES.items():
        value = doc.get(key)
        if key in doc and (type(value) is not int or not lo <= value <= hi):
            problems.append(Text(N_("{key}: must be a whole number from {lo} to {hi} ({what}), got {value!r}"), key=key,
                                 lo=lo, hi=hi, what=Text(what), value=value))
        elif key == "evaluation_months" and key in doc and value not in EVALUATION_MONTHS:
            problems.append(Text(N_("{key}: must be one of {months} ({what}), got {value}"), key=key,
                                 months=", ".join(map(str, EVALUATION_MONTHS)), what=Text(what), value=value))
    return problems


# ============================================================================================ points summary
@dataclass(frozen=True)
class PointsSummary:
    """The points part of a member's profile, as the hub sends it (``to_doc``/``from_doc``): lifetime
    ``earned``, ``spent`` (burns other than expiry) and ``expired``; ``locked``: (points, until) of lots still
    in their pending period; ``expiries``: (points, date) of the next expiry dates, earliest first."""

    earned: int = 0
    spent: int = 0
    expired: int = 0
    locked: tuple[tuple[int, datetime], ...] = ()
    expiries: tuple[tuple[int, date], ...] = field(default=())

    def locked_at(self, now: datetime) -> int:
        """Points the hub holds that may not be spent yet at ``now``."""
        return sum(p for p, until in self.locked if until > now)

    def next_expiry(self, burned_since: int = 0) -> tuple[int, date] | None:
        """(points, date) of the next expiry once ``burned_since`` more points were spent (burns take the
        oldest lots first); None when nothing is due to expire."""
        left = burned_since
        for points, day in self.expiries:
            if points > left:
                return points - left, day
            left -= points
        return None

    def to_doc(self) -> dict[str, Any]:
        return {"earned": self.earned, "spent": self.spent, "expired": self.expired,
                "locked": [{"points": p, "until": iso(u)} for p, u in self.locked[:MAX_LOCKS_SENT]],
                "expiries": [{"points": p, "on": d.isoformat()} for p, d in self.expiries[:MAX_EXPIRIES_SENT]]}

    @classmethod
    def from_doc(cls, doc: Any) -> PointsSummary:
        """Tolerant: what cannot be read is left out (an older hub sends nothing)."""
        if not isinstance(doc, dict):
            return cls()
        whole = lambda v: v if type(v) is int and v >= 0 else 0  # noqa: E731
        locked = []
        for item in doc.get("locked") or []:
            until = parse_time(item.get("until")) if isinstance(item, dict) else None
            if until is not None and whole(item.get("points")):
                locked.append((whole(item["points"]), until))
        expiries = []
        for item in doc.get("expiries") or []:
            try:
                day = date.fromisoformat(str(item.get("on"))) if isinstance(item, dict) else None
            except ValueError:
                day = None
            if day is not None and whole(item.get("points")):
                expiries.append((whole(item["points"]), day))
        return cls(whole(doc.get("earned")), whole(doc.get("spent")), whole(doc.get("expired")),
                   tuple(locked), tuple(sorted(expiries, key=lambda e: e[1])))

    def with_local(self, earned: int, spent: int) -> PointsSummary:
        """The summary plus this till's entries the hub has not confirmed yet."""
        return replace(self, earned=self.earned + earned, spent=self.spent + spent)
