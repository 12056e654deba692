"""The customer panel, the totals line and the status bar: attributes down, they only render what they get."""

from __future__ import annotations

from rich.markup import escape
from textual.binding import Binding
from textual.widgets import Static

from edge.core.money import format_money
from edge.session import plural
from edge.ui.screens.dialogs import pending_words
from edge.ui.snapshot import TillSnapshot


class CustomerPanel(Static):
    DEFAULT_CSS = """
    CustomerPanel { width: 100%; height: auto; padding: 0 1; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", **kwargs) -> None:
        super().__init__("", **kwargs)
        self.currency, self.locale = currency, locale  # money written the store's way

    def show(self, snap: TillSnapshot) -> None:
        c = snap.customer
        money = lambda v: format_money(v, self.currency, self.locale)  # noqa: E731
        if c is None:
            self.update("[b]Guest sale[/b]\n\nScan a loyalty card or app code,\nor press F2 to look a customer up.")
            return
        b = c.balance
        out = [f"[b]{escape(c.display_name)}[/b]  [reverse] {escape(c.tier)} [/reverse]"]
        out.append(f"Points: [b]{b.available}[/b] available")
        if pending := pending_words(b):
            out.append(f"  ({pending})")
        if snap.settlement.points_redeemed:
            out.append(f"  redeeming {snap.settlement.points_redeemed} = {money(snap.settlement.points_value_cents)}")
        elif snap.redemption.max_points:
            out.append(f"  can redeem up to {snap.redemption.max_points} now")
        if snap.next_tier is not None:
            tier, missing = snap.next_tier
            out.append(f"  {money(missing)} more to {escape(tier)}")
        for reward in c.rewards:
            out.append(f"Reward: {escape(str(reward.get('name')))} (until {reward.get('expires', '?')})")
        if snap.settlement.pricing.lines:
            reason = f" ({escape(snap.points_reason)})" if snap.points_reason else ""
            out.append(f"This sale earns [b]{snap.settlement.points_earned}[/b] pts{reason}")
        for coupon in snap.coupons:
            used = " [green](in basket)[/green]" if coupon["code"] in snap.basket_coupons else ""
            terms = coupon.get("terms") or coupon["offer_name"]
            out.append(f"Coupon: {escape(coupon['code'])} {escape(terms)}{used}")
        for offer in snap.personal_offers:
            until = offer.valid_until.strftime("%H:%M") if offer.valid_until else "-"
            out.append(f"[yellow]Offer: {escape(offer.name)} until {until}[/yellow]")
        if c.pickup_orders:
            out.append("[b]Pick-up waiting:[/b]")
            for order in c.pickup_orders:
                items = order.get("items")
                count = len(items) if isinstance(items, list) else items
                words = plural(count, "item") if isinstance(count, int) else f"{count} items"
                out.append(f"  {escape(str(order.get('order_id')))}: {words}, {order.get('status', 'ready')}")
        if c.recent_purchases:
            out.append("[b]Recent purchases:[/b]")
            for p in c.recent_purchases[:4]:
                when = str(p.get("created_at") or p.get("when") or "")[:10]
                out.append(f"  {when} {str(p.get('channel', '?')):5} {money(int(p.get('total_cents') or 0))}")
        self.update("\n".join(out))


class TotalsBar(Static):
    """Subtotal, discounts and points on as many lines as the width needs; the amount due always has a
    line of its own, so it is never cut."""

    DEFAULT_CSS = """
    TotalsBar { height: auto; padding: 0 1; border-top: solid $primary; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", **kwargs) -> None:
        super().__init__("", **kwargs)
        self.currency, self.locale = currency, locale  # money written the store's way
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
        parts = [f"Subtotal {money(s.pricing.subtotal_cents)}"]
        if s.pricing.discount_cents:
            parts.append(f"Disc {money(-s.pricing.discount_cents)}")
        if s.points_value_cents:
            parts.append(f"Pts {money(-s.points_value_cents)}")
        parts.append(plural(items, "item"))
        if snap.customer is not None:
            parts.append(f"earns {s.points_earned} pts")
        rows = [""]
        for part in parts:
            if rows[-1] and len(rows[-1]) + 2 + len(part) > width:
                rows.append(part)
            else:
                rows[-1] = f"{rows[-1]}  {part}" if rows[-1] else part
        rows.append(f"[b]TOTAL {money(s.amount_due_cents)}[/b]")
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
        label = "Recall" if basket_empty and parked else "Park"  # the top bar says how many are parked
        if self.labels.get("f12") != label:
            self.labels["f12"] = label
            self._render_keys()

    def _render_keys(self) -> None:
        app = self.app
        keys = []
        for binding in app.BINDINGS:
            if isinstance(binding, Binding) and binding.show:
                label = self.labels.get(binding.key, binding.description)
                keys.append(f"[b]{escape(app.get_key_display(binding))}[/b] {escape(label)}")
        self.update(" ".join(keys))


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 2; padding: 0 1; background: $panel; color: $text-muted; }
    """
