"""The text receipt. Every discount prints its reason; loyalty customers see points earned and balance."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime

from edge.core.loyalty import Settlement
from edge.core.money import format_money


@dataclass(frozen=True)
class ReceiptInfo:
    store_name: str
    sale_id: str
    when: datetime
    payment_method: str
    tendered_cents: int | None
    currency: str = "EUR"
    customer_name: str | None = None
    new_balance: int | None = None
    pending_points: int | None = None
    unused_coupons: tuple[str, ...] = ()  # presented, gave nothing: not used, the customer keeps them


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
    money = lambda c: format_money(c, info.currency)  # noqa: E731
    out = [info.store_name.center(width), info.when.strftime("%Y-%m-%d %H:%M").center(width), "-" * width]
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
        out.extend(textwrap.wrap(f"Coupon {code} not used: its condition was not met; keep it", width))
    out.append(_row("Subtotal", money(s.pricing.subtotal_cents), width))
    if s.pricing.discount_cents:
        out.append(_row("Discounts", money(-s.pricing.discount_cents), width))
    if s.points_redeemed:
        out.append(_row(f"{s.points_redeemed} points redeemed", money(-s.points_value_cents), width))
    out.append(_row("TOTAL", money(s.amount_due_cents), width))
    out.append(_row("  of which VAT", money(s.vat_cents), width))
    out.append(_row(f"Paid by {info.payment_method}", money(info.tendered_cents or s.amount_due_cents), width))
    if info.payment_method == "cash" and info.tendered_cents is not None:
        out.append(_row("Change", money(info.tendered_cents - s.amount_due_cents), width))
    if info.customer_name is not None:
        out.append("-" * width)
        out.append(f"Member: {info.customer_name}")
        out.append(_row("Points earned", str(s.points_earned), width))
        for reason in s.pricing.multiplier_reasons:
            out.append(f"  {reason}")
        if info.new_balance is not None:
            out.append(_row("Points balance", str(info.new_balance), width))
        if info.pending_points and (words := sale_points_words(s.points_redeemed, s.points_earned)):
            out.extend(f"  {part}" for part in textwrap.wrap(f"(includes {words})", max(10, width - 2)))
    out.append("-" * width)
    out.append(f"Sale {info.sale_id[-12:]}".center(width))
    out.append("Thank you for shopping with us".center(width))
    return "\n".join(out)


def sale_points_words(used: int, earned: int) -> str:
    """What one sale did to a balance, in words that stay true after the till syncs: "200 used, 26 earned
    here", "26 earned here", "200 used here"; "" when nothing."""
    parts = [f"{used} used"] if used else []
    if earned:
        parts.append(f"{earned} earned")
    return ", ".join(parts) + " here" if parts else ""
