"""The customer panel, the totals line and the status bar: attributes down, they only render what they get."""

from __future__ import annotations

from rich.markup import escape
from textual.binding import Binding
from textual.widgets import Static

from edge.core.money import format_money
from edge.ui.snapshot import TillSnapshot


class CustomerPanel(Static):
    DEFAULT_CSS = """
    CustomerPanel { width: 100%; height: auto; padding: 0 1; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", **kwargs) -> None:
        super().__init__("", **kwargs)
        self.currency, self.locale = currency, locale

    def show(self, snap: TillSnapshot) -> None:
        c = snap.customer
        money = lambda v: format_money(v, self.currency, self.locale)  # noqa: E731
        if c is None:
            self.update("[b]Guest sale[/b]\n\nScan a loyalty card or app code,\nor press F2 to look a customer up.")
            return
        b = c.balance
        out = [f"[b]{escape(c.display_name)}[/b]  [reverse] {escape(c.tier)} [/reverse]"]
        out.append(f"Points: [b]{b.available}[/b] available")
        if b.pending:
            out.append(f"  ({b.confirmed} confirmed, {b.pending:+d} pending sync)")
        if snap.settlement.points_redeemed:
            out.append(f"  redeeming {snap.settlement.points_redeemed} = {money(snap.settlement.points_value_cents)}")
        elif snap.redemption.max_points:
            out.append(f"  can redeem up to {snap.redemption.max_points} now")
        if snap.next_tier is not None:
            tier, missing = snap.next_tier
            out.append(f"  {money(missing)} more to {escape(tier)}")
        for reward in c.rewards:
            out.append(f"Reward: {escape(str(reward.get('name')))} (until {reward.get('expires', '?')})")
        for coupon in snap.coupons:
            used = " [green](in basket)[/green]" if coupon["code"] in snap.basket_coupons else ""
            out.append(f"Coupon: {escape(coupon['code'])} {escape(coupon['offer_name'])}{used}")
        for offer in snap.personal_offers:
            until = offer.valid_until.strftime("%H:%M") if offer.valid_until else "-"
            out.append(f"[yellow]Offer: {escape(offer.name)} until {until}[/yellow]")
        if c.pickup_orders:
            out.append("[b]Pick-up waiting:[/b]")
            for order in c.pickup_orders:
                items = order.get("items")
                count = len(items) if isinstance(items, list) else items
                out.append(f"  {escape(str(order.get('order_id')))}: {count} items, {order.get('status', 'ready')}")
        if c.recent_purchases:
            out.append("[b]Recent purchases:[/b]")
            for p in c.recent_purchases[:4]:
                when = str(p.get("created_at") or p.get("when") or "")[:10]
                out.append(f"  {when} {str(p.get('channel', '?')):5} {money(int(p.get('total_cents') or 0))}")
        self.update("\n".join(out))


class TotalsBar(Static):
    DEFAULT_CSS = """
    TotalsBar { height: 3; padding: 0 1; border-top: solid $primary; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", **kwargs) -> None:
        super().__init__("", **kwargs)
        self.currency, self.locale = currency, locale

    def show(self, snap: TillSnapshot) -> None:
        s = snap.settlement
        money = lambda v: format_money(v, self.currency, self.locale)  # noqa: E731
        items = sum(p.line.qty for p in s.pricing.lines)
        # two lines that never wrap at 80x24: the amount due always has a line of its own
        parts = [f"Subtotal {money(s.pricing.subtotal_cents)}"]
        if s.pricing.discount_cents:
            parts.append(f"Disc {money(-s.pricing.discount_cents)}")
        if s.points_value_cents:
            parts.append(f"Pts {money(-s.points_value_cents)}")
        second = f"[b]TOTAL {money(s.amount_due_cents)}[/b]  {items} items"
        if snap.customer is not None:
            second += f", earns {s.points_earned} pts"
        self.update("  ".join(parts) + "\n" + second)


class KeyBar(Static):
    """The sale screen's keys, one line. Textual's Footer builds a widget per key, which costs a fifth of a
    second at start-up on this hardware; the till's keys are fixed, so one rendered line says the same."""

    DEFAULT_CSS = """
    KeyBar { height: 1; padding: 0 1; background: $panel; color: $text; }
    """

    def on_mount(self) -> None:
        app = self.app
        keys = []
        for binding in app.BINDINGS:
            if isinstance(binding, Binding) and binding.show:
                keys.append(f"[b]{escape(app.get_key_display(binding))}[/b] {escape(binding.description)}")
        self.update(" ".join(keys))


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    """
