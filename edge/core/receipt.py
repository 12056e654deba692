"""The text receipt. Every discount prints its reason; loyalty customers see points earned and balance.

It is written in the store's language and formats (``ReceiptInfo.formats``: locale, currency, time zone),
or the member's language when the member's profile names one (``Formats.with_language``).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date, datetime

from edge.core.i18n import N_, Translator
from edge.core.l10n import Formats
from edge.core.loyalty import Settlement
from edge.core.money import cash_round

PAYMENT_WORDS = {  # the contract's payment methods, as the receipt words them
   "cash": N_("cash"), "card": N_("card")}


@dataclass(frozen=True)
class ReceiptInfo:
    store_name: str
    sale_id: str
    when: datetime
    payment_method: str
    tendered_cents: int | None
    currency: str = "EUR"  # used when ``formats`` is not given
    formats: Formats | None = None  # the store's (or the member's) language, money and time zone
    customer_name: str | None = None
    new_balance: int | None = None
    pending_points: int | None = None
    unused_coupons: tuple[str, ...] = ()  # presented, gave nothing: not used, the customer keeps them
    next_expiry: tuple[int, date] | None = None  # (points, day) the member's next points expire
    claim_code: str | None = None  # a guest sale's claim code (edge.core.claims): printed for the member
    # rewards the member claimed at this till during the sale (edge.store.rewards): (name, points) each
    rewards: tuple[tuple[str, int], ...] = ()


def _row(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` on one line; a long ``left`` wraps onto lines of its own, never gets cut."""
    room = width - len(right) - 1
    if len(left) <= room:
        return f"{left:<{room}} {right}"
    indent = len(left) - len(left.lstrip())
    wrapped = textwrap.wrap(left.strip(), width - indent - 1, subsequent_indent=" ")
    last = wrapped.pop()
    head = [" " * indent + w for w in wrapped]
    tail = " " * indent + last
    if len(tail) <= room:
        return "\n".join([*head, f"{tail:<{room}} {right}"])
    return "\n".join([*head, tail, f"{right:>{width}}"])


def render_receipt(s: Settlement, info: ReceiptInfo, width: int = 40) -> str:
    """The receipt of settlement ``s`` as text lines of at most ``width`` characters (long names wrap)."""
    fmt = info.formats or Formats(currency=info.currency)
    tr, money = fmt.tr, fmt.money
    out = [info.store_name.center(width), fmt.datetime(info.when).center(width), "-" * width]
    for p in sorted(s.pricing.lines, key=lambda p: p.line.line_no):
        ln = p.line
        label = ln.product.name if ln.qty == 1 else f"{ln.qty} x {ln.product.name}"
        out.append(_row(label, money(ln.gross_cents), width))
        if ln.qty > 1:
            out.append(f"   @ {money(ln.product.price_cents)}")
        for d in s.pricing.discounts:
            if d.line_no == ln.line_no:
                out.append(_row(f"  {d.reason}", money(-d.amount_cents), width))
    for d in s.pricing.discounts:
        if d.line_no is None:
            out.append(_row(d.reason, money(-d.amount_cents), width))
    out.append("-" * width)
    for code in info.unused_coupons:
        out.extend(textwrap.wrap(tr._("Coupon {code} not used: its condition was not met; keep it").format(code=code),
                                 width))  # fmt: skip
    out.append(_row(tr._("Subtotal"), money(s.pricing.subtotal_cents), width))
    if s.pricing.discount_cents:
        out.append(_row(tr._("Discounts"), money(-s.pricing.discount_cents), width))
    if s.points_redeemed:
        redeemed = tr.ngettext("{n} point redeemed", "{n} points redeemed", s.points_redeemed)
        out.append(_row(redeemed.format(n=s.points_redeemed), money(-s.points_value_cents), width))
    out.append(_row(tr._("TOTAL"), money(s.amount_due_cents), width))
    out.append(_row("  " + tr._("of which VAT"), money(s.vat_cents), width))
    method = tr._(PAYMENT_WORDS.get(info.payment_method, info.payment_method))
    due = s.amount_due_cents
    if info.payment_method == "cash" and cash_round(due, fmt.currency) != due:
        due = cash_round(due, fmt.currency)  # the currency's cash rule (COP to the peso, CHF to 0.05)
        out.append(_row(tr._("Rounded for cash"), money(due), width))
    paid = info.tendered_cents or due
    out.append(_row(tr._("Paid by {method}").format(method=method), money(paid), width))
    if info.payment_method == "cash" and info.tendered_cents is not None:
        out.append(_row(tr._("Change"), money(info.tendered_cents - due), width))
    if info.customer_name is not None:
        out.extend(_member_lines(s, info, fmt, width))
    elif info.claim_code:
        out.extend(_claim_lines(info.claim_code, tr, width))
    out.append("-" * width)
    out.append(tr._("Sale {sale}").format(sale=info.sale_id[-12:]).center(width))
    out.append(tr._("Thank you for shopping with us").center(width))
    return "\n".join(out)


def _member_lines(s: Settlement, info: ReceiptInfo, fmt: Formats, width: int) -> list[str]:
    tr = fmt.tr
    out = ["-" * width, tr._("Member: {name}").format(name=info.customer_name)]
    out.append(_row(tr._("Points earned"), fmt.number(s.points_earned), width))
    for reason in s.pricing.multiplier_reasons:
        out.append(f"  {reason}")
    if s.points_redeemed:
        out.append(_row(tr._("Points spent"), fmt.number(s.points_redeemed), width))
    for name, points in info.rewards:
        spent = tr.ngettext("-{n} pt", "-{n} pts", points).format(n=fmt.number(points))
        out.append(_row(tr._("Reward: {name}").format(name=name), spent, width))
    if info.new_balance is not None:
        out.append(_row(tr._("Points balance"), fmt.number(info.new_balance), width))
    if info.pending_points:
        out.extend(f"  {part}" for part in _pending_lines(info.pending_points, width - 2, tr))
    if info.next_expiry is not None:
        out.extend(textwrap.wrap(expiry_words(*info.next_expiry, fmt), width))
    return out


def expiry_words(points: int, day: date, fmt: Formats) -> str:
    """"120 pts expire Jan 31, 2027" in the reader's language and date style (the till's panel and the receipt)."""
    text = fmt.tr.ngettext("{n} pt expires {date}", "{n} pts expire {date}", points)
    return text.format(n=fmt.number(points), date=fmt.day(day))


def _claim_lines(code: str, tr: Translator, width: int) -> list[str]:
    """A guest receipt's claim code, with what to do with it (text: the receipt is printed as text)."""
    from edge.core.claims import format_claim_code

    text = tr._("Member? Claim this sale's points once at any till or in the app with this code:")
    return ["-" * width, *textwrap.wrap(text, width), format_claim_code(code).center(width)]


def _pending_lines(pending: int, width: int, tr: Translator) -> list[str]:
    """The part of the balance this till changed and the hub has not confirmed, in words, wrapped."""
    if pending > 0:
        text = tr.ngettext("({n} of these points earned here; confirmed when the till syncs)",
                           "({n} of these points earned here; confirmed when the till syncs)", pending)
    else:
        text = tr.ngettext("(after {n} point used here; confirmed when the till syncs)",
                           "(after {n} points used here; confirmed when the till syncs)", -pending)
    return textwrap.wrap(text.format(n=abs(pending)), max(10, width))


def sale_points_words(used: int, earned: int, tr: Translator | None = None, fmt: Formats | None = None) -> str:
    """What one sale did to a balance, in words that stay true after the till syncs: "200 used, 26 earned
    here", "26 earned here", "200 used here"; "" when nothing. ``used``: points redeemed in the sale and spent
    on rewards claimed during it. In ``tr``'s language (English by default); figures in ``fmt``'s number
    format ("1,300"; "1.300" in es) when given."""
    tr = tr or Translator()
    if fmt is not None:
        used_text, earned_text = fmt.number(used), fmt.number(earned)
        if used and earned:
            return tr._("{used} used, {earned} earned here").format(used=used_text, earned=earned_text)
        if used:
            return tr._("{used} used here").format(used=used_text)
        return tr._("{earned} earned here").format(earned=earned_text) if earned else ""
    if used and earned:
        return tr._("{used} used, {earned} earned here").format(used=used, earned=earned)
    if used:
        return tr._("{used} used here").format(used=used)
    return tr._("{earned} earned here").format(earned=earned) if earned else ""
