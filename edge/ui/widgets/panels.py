"""The customer panel, the totals line and the status bar: attributes down, they only render what they get."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.markup import escape
from textual.binding import Binding
from textual.widgets import Static

from edge.core.i18n import N_, translator
from edge.core.l10n import Formats
from edge.core.money import format_money
from edge.core.receipt import expiry_words
from edge.session import items_words
from edge.ui.screens.dialogs import pending_words
from edge.ui.snapshot import TillSnapshot


class CustomerPanel(Static):
    DEFAULT_CSS = """
    CustomerPanel { width: 100%; height: auto; padding: 0 1; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", timezone: str | None = None, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.currency, self.locale = currency, locale  # money written the store's way
        self.tr = translator(locale)  # and the words in the store's language
        self.timezone = timezone  # offer times in the store's zone (None: the box's)

    def _until(self, when: datetime | None) -> str:
        if when is None:
            return "-"
        return when.astimezone(ZoneInfo(self.timezone) if self.timezone else None).strftime("%H:%M")

    def show(self, snap: TillSnapshot) -> None:
        c = snap.customer
        tr = self.tr
        money = lambda v: format_money(v, self.currency, self.locale)  # noqa: E731
        if c is None:
            self.update("[b]" + escape(tr._("Guest sale")) + "[/b]\n\n"
                        + escape(tr._("Scan a loyalty card or app code,\nor press F2 to look a customer up.")))  # fmt: skip
            return
        b = c.balance
        fmt = self._formats()
        n = fmt.number  # every figure in the locale's format ("1,500"; "1.500" in es)
        out = [f"[b]{escape(c.display_name)}[/b]  [reverse] {escape(c.tier)} [/reverse]"]
        out.append(tr._("Points: [b]{n}[/b] available").format(n=n(b.available)))
        if pending := pending_words(b, tr, fmt):
            out.append(f"  ({escape(pending)})")
        if snap.settlement.points_redeemed:
            out.append("  " + tr._("redeeming {n} = {amount}").format(n=n(snap.settlement.points_redeemed),
                                                                      amount=money(snap.settlement.points_value_cents)))
        elif snap.redemption.max_points:
            out.append("  " + tr._("can redeem up to {n} now").format(n=n(snap.redemption.max_points)))
        if snap.next_tier is not None:
            tier, missing = snap.next_tier
            out.append("  " + tr._("{amount} more to {tier}").format(amount=money(missing), tier=escape(tier)))
        out.extend(self._points_lines(snap))
        for reward in c.rewards:
            out.append(tr._("Reward: {name} (until {date})").format(name=escape(str(reward.get("name"))),
                                                                    date=escape(_day(reward.get("expires"), fmt))))
        if snap.settlement.pricing.lines:
            reason = f" ({escape(snap.points_reason)})" if snap.points_reason else ""
            out.append(tr._("This sale earns [b]{n}[/b] pts").format(n=n(snap.settlement.points_earned)) + reason)
        for coupon in snap.coupons:
            used = " [green](" + escape(tr._("in basket")) + ")[/green]" if coupon["code"] in snap.basket_coupons else ""
            terms = coupon.get("terms") or coupon["offer_name"]
            out.append(tr._("Coupon: {code} {terms}").format(code=escape(coupon["code"]), terms=escape(terms)) + used)
        for offer in snap.personal_offers:
            out.append("[yellow]" + tr._("Offer: {name} until {time}").format(name=escape(offer.name),
                                                                             time=self._until(offer.valid_until))
                       + "[/yellow]")  # fmt: skip
        if c.pickup_orders:
            out.append("[b]" + escape(tr._("Pick-up waiting:")) + "[/b]")
            for order in c.pickup_orders:
                items = order.get("items")
                count = len(items) if isinstance(items, list) else items
                words = items_words(count, tr) if isinstance(count, int) else f"{count}"
                status = str(order.get("status", "ready"))
                out.append(f"  {escape(str(order.get('order_id')))}: {words}, {escape(tr._(_ORDER_WORDS.get(status, status)))}")
        if c.recent_purchases:
            out.append("[b]" + escape(tr._("Recent purchases:")) + "[/b]")
            for p in c.recent_purchases[:4]:
                when = escape(_date(p.get("created_at") or p.get("when"), fmt))
                out.append(f"  {when} {str(p.get('channel', '?')):5} {money(int(p.get('total_cents') or 0))}")
        self.update("\n".join(out))

    def _formats(self) -> Formats:
        return Formats(self.locale, self.currency, self.timezone or "UTC")

    def _points_lines(self, snap: TillSnapshot) -> list[str]:
        """Earned and spent to date, what the pending period still locks, the next expiry (in the store's
        language); nothing for a member the hub has sent no points history for."""
        p = snap.points
        if p is None:
            return []
        fmt = Formats(self.locale, self.currency)
        tr, n = fmt.tr, fmt.number
        out = []
        if p.earned or p.spent:
            out.append("  " + escape(tr._("Earned {earned}, spent {spent} to date").format(
                earned=n(p.earned), spent=n(p.spent))))
        if p.spendable < p.balance:
            out.append("  " + escape(tr._("{spendable} spendable now, {locked} after the waiting period").format(
                spendable=n(p.spendable), locked=n(p.balance - p.spendable))))
        if p.expires_on is not None:
            words = escape(expiry_words(p.expiring, p.expires_on, fmt))
            out.append(f"  [yellow]{words}[/yellow]" if p.soon else f"  {words}")
        return out


def _date(value: object, fmt: Formats) -> str:
    """An ISO 8601 time as sent by the hub ("2026-10-17T09:12:00Z") -> the store's short date, in its zone
    ("17/10/2026" in es_ES); text that is not one is shown as sent (cut to 10 characters)."""
    text = str(value or "")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:10]
    return fmt.date(when)


def _day(value: object, fmt: Formats) -> str:
    """A calendar day as sent ("2026-12-30") -> the store's medium date ("Dec 30, 2026"); else as sent."""
    from datetime import date

    try:
        return fmt.day(date.fromisoformat(str(value)))
    except ValueError:
        return str(value if value is not None else "?")


_ORDER_WORDS = {"ready": N_("ready"), "placed": N_("placed")}  # order states the panel words; others as sent


WIDE_TOTALS = 100  # from this content width the TOTAL line is set under the basket's Amount column ...
AMOUNT_RIGHT_GAP = 2  # ... which ends this many cells before the basket's edge (cell padding, scroll bar)


class TotalsBar(Static):
    """Subtotal, discounts and points on as many lines as the width needs; the amount due always has a
    line of its own, so it is never cut."""

    DEFAULT_CSS = """
    TotalsBar { height: auto; padding: 0 1; border-top: solid $primary; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", **kwargs) -> None:
        super().__init__("", **kwargs)
        self.currency, self.locale = currency, locale  # money written the store's way
        self.tr = translator(locale)
        self._snap: TillSnapshot | None = None

    def show(self, snap: TillSnapshot) -> None:
        self._snap = snap
        self.refresh(layout=True)

    def render(self) -> str:
        """Laid out for the width the widget has now (so never for a stale one)."""
        return self._lines(max(20, self.content_size.width or 78))

    def _lines(self, width: int) -> str:
        snap = self._snap
        if snap is None:
            return ""
        s = snap.settlement
        money = lambda v: format_money(v, self.currency, self.locale)  # noqa: E731
        items = sum(p.line.qty for p in s.pricing.lines)
        tr = self.tr
        parts = [tr._("Subtotal {amount}").format(amount=money(s.pricing.subtotal_cents))]
        if s.pricing.discount_cents:
            parts.append(tr._("Disc {amount}").format(amount=money(-s.pricing.discount_cents)))
        if s.points_value_cents:
            parts.append(tr._("Pts {amount}").format(amount=money(-s.points_value_cents)))
        parts.append(items_words(items, tr))
        if snap.customer is not None:
            parts.append(tr._("earns {n} pts").format(n=Formats(self.locale, self.currency).number(s.points_earned)))
        rows = [""]
        for part in parts:
            if rows[-1] and len(rows[-1]) + 2 + len(part) > width:
                rows.append(part)
            else:
                rows[-1] = f"{rows[-1]}  {part}" if rows[-1] else part
        total = tr._("TOTAL {amount}").format(amount=money(s.amount_due_cents))
        if width >= WIDE_TOTALS:  # a wide basket: the amount due ends under the basket's Amount column
            total = total.rjust(width - AMOUNT_RIGHT_GAP)
        rows.append(f"[b]{total}[/b]")
        return "\n".join(rows)


class KeyBar(Static):
    """The sale screen's keys, one line. Textual's Footer builds a widget per key, which costs a fifth of a
    second at start-up on this hardware; the till's keys are fixed, so one rendered line says the same."""

    DEFAULT_CSS = """
    KeyBar { height: auto; max-height: 2; padding: 0; background: $panel; color: $text; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.labels: dict[str, str] = {}

    def on_mount(self) -> None:
        self._render_keys()

    def show_state(self, *, basket_empty: bool, parked: int) -> None:
        """F12 parks a basket with items; on an empty one with parked sales waiting it recalls."""
        label = N_("Recall") if basket_empty and parked else N_("Park")  # the top bar says how many are parked
        if self.labels.get("f12") != label:
            self.labels["f12"] = label
            self._render_keys()

    def _render_keys(self) -> None:
        app = self.app
        tr = getattr(app, "tr", None) or translator()
        keys = []
        for binding in app.BINDINGS:
            if isinstance(binding, Binding) and binding.show:
                label = tr._(self.labels.get(binding.key, binding.description))
                keys.append(f"[b]{escape(app.get_key_display(binding))}[/b] {escape(label)}")
        self.update(" ".join(keys))


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 2; padding: 0 1; background: $panel; color: $text-muted; }
    """
