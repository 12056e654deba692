"""The basket: one numbered row per line, and under it one row per discount with its reason; coupons show
their code, and a coupon whose condition is not met shows what it needs.

The highlight follows the line the cashier last touched (a scan, a quantity); Up/Down move between lines,
never onto discount rows. The Item column takes the width the terminal gives; # Qty and Amount never shrink.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from edge.core.i18n import Translator, translator
from edge.core.money import format_money
from edge.ui.snapshot import TillSnapshot

FIXED = {"no": 3, "qty": 4, "amount": 10}
MIN_ITEM = 10


class BasketTable(DataTable):
    DEFAULT_CSS = """
    BasketTable { height: 1fr; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.currency, self.locale = currency, locale  # money written the store's way
        self.tr = translator(locale)  # column titles and notes in the store's language
        self._row_lines: list[int | None] = []
        self._line_rows: dict[int, int] = {}  # line number -> its own row (not its discount rows)
        self._descriptions: dict[int, str] = {}
        self._focus_seq = -1
        self._scroll_pending = False  # the view is set to the highlighted line once row heights are known

    def on_mount(self) -> None:
        self.add_column("#", width=FIXED["no"], key="no")
        self.add_column(self.tr._("Item"), width=26, key="item")
        # numbers are right-aligned, and so are their headings: each amount sits under its heading's end
        self.add_column(Text(self.tr._("Qty"), justify="right"), width=FIXED["qty"], key="qty")
        self.add_column(Text(self.tr._("Amount"), justify="right"), width=FIXED["amount"], key="amount")

    def on_resize(self, event: events.Resize) -> None:
        # every column has one cell of padding each side; the vertical scroll bar takes its width
        spare = event.size.width - sum(FIXED.values()) - 2 * 4 - self.styles.scrollbar_size_vertical
        column = self.columns.get(ColumnKey("item"))
        if column is not None:
            column.width = max(MIN_ITEM, spare)
            column.auto_width = False
            self._require_update_dimensions = True
            self._scroll_pending = True  # rows wrap anew: their heights, and so the view, change
            self.refresh()

    def _money(self, cents: int) -> str:
        return format_money(cents, self.currency, self.locale)

    def _discount_row(self, label: str, cents: int, key: str, line_no: int | None, style: str = "green") -> None:
        amount = Text(self._money(-cents), style=style, justify="right") if cents else ""
        self.add_row("", Text(label, style=style), "", amount, key=key, height=None)  # long reasons wrap
        self._row_lines.append(line_no)

    def show(self, snap: TillSnapshot) -> None:
        settlement = snap.settlement
        keep = self.selected_line()
        self.clear()
        self._row_lines, self._line_rows, self._descriptions = [], {}, {}
        coupon_of = {offer_id: code for code, offer_id in snap.coupon_offers.items()}
        discounts = settlement.pricing.discounts
        for priced in sorted(settlement.pricing.lines, key=lambda p: p.line.line_no):
            ln = priced.line
            self._line_rows[ln.line_no] = len(self._row_lines)
            self._descriptions[ln.line_no] = self.tr._("line {n}: {name} x{qty} {amount}").format(
                n=ln.line_no, name=ln.product.name, qty=ln.qty, amount=self._money(ln.gross_cents))
            self.add_row(
                Text(str(ln.line_no), style="dim", justify="right"), ln.product.name,
                Text(str(ln.qty), justify="right"), Text(self._money(ln.gross_cents), justify="right"),
                key=f"line-{ln.line_no}", height=None,  # a long name wraps on a narrow till, never cut
            )  # fmt: skip
            self._row_lines.append(ln.line_no)
            for i, d in enumerate(x for x in discounts if x.line_no == ln.line_no):
                label = (_coupon_label(coupon_of[d.offer_id], d.reason, self.tr) if d.offer_id in coupon_of
                         else (d.short or d.reason))  # fmt: skip
                self._discount_row(f" {label}", d.amount_cents, f"disc-{ln.line_no}-{i}", ln.line_no)
        for i, d in enumerate(x for x in discounts if x.line_no is None):
            label = (_coupon_label(coupon_of[d.offer_id], d.reason, self.tr) if d.offer_id in coupon_of
                     else (d.short or d.reason))  # fmt: skip
            self._discount_row(label, d.amount_cents, f"basket-{i}", None)
        for code, need in snap.unmet_coupons:
            self._discount_row(self.tr._("Coupon {code} not applied: {need}").format(code=code, need=need), 0, f"unmet-{code}", None, style="yellow")
        self._place_cursor(snap, keep)

    def _place_cursor(self, snap: TillSnapshot, keep: int | None) -> None:
        if not self._line_rows:
            return
        if snap.focus_seq != self._focus_seq and snap.focus_line in self._line_rows:
            target = snap.focus_line  # the cashier just scanned or changed this line
        elif keep is not None and keep in self._line_rows:
            target = keep
        else:
            target = max(self._line_rows)
        self._focus_seq = snap.focus_seq
        self.move_cursor(row=self._line_rows[target])
        self._scroll_pending = True

    def on_idle(self, _: events.Idle) -> None:
        """Once the rows' heights are known (DataTable measures wrapped rows when idle), show the highlighted
        line with its discount rows (the last line: with the basket's discounts too) at the bottom of the view,
        as much of the basket before it as fits above. The view depends only on the basket and the
        highlighted line, never on how fast the rows came (the snapshots and the cashier see the same)."""
        if not self._scroll_pending or self._require_update_dimensions:
            return
        self._scroll_pending = False
        line = self.selected_line()
        if line is None:
            return
        first = self._line_rows[line]
        later = [row for row in self._line_rows.values() if row > first]
        end = min(later) if later else self.row_count
        heights = [row.height for row in self.ordered_rows]
        header = self.header_height if self.show_header else 0
        top, bottom = header + sum(heights[:first]), header + sum(heights[:end])
        view = self.scrollable_content_region.height
        self.scroll_to(y=max(0, min(top - header, bottom - view)), animate=False, force=True, immediate=True)

    def step(self, delta: int) -> None:
        """Move the highlight ``delta`` lines (discount rows are skipped)."""
        rows = sorted(self._line_rows.values())
        if not rows:
            return
        current = self.cursor_row
        if delta > 0:
            after = [r for r in rows if r > current]
            target = after[0] if after else rows[-1]
        else:
            before = [r for r in rows if r < current]
            target = before[-1] if before else rows[0]
        self.move_cursor(row=target)

    def selected_line(self) -> int | None:
        """The basket line under the cursor (a discount row selects the line it belongs to)."""
        if not self._row_lines or self.cursor_row < 0 or self.cursor_row >= len(self._row_lines):
            return None
        return self._row_lines[self.cursor_row]

    def describe_line(self, line_no: int) -> str:
        """``line 3: Whole Milk 1L x2 €2.58`` as the basket shows it."""
        return self._descriptions.get(line_no, self.tr._("line {n}").format(n=line_no))


def _coupon_label(code: str, reason: str, tr: Translator) -> str:
    """``Coupon SAVE3-ALPHA: €3.00 off on a basket over €15.00`` (the reason without the offer's name)."""
    return tr._("Coupon {code}: {terms}").format(code=code, terms=reason.split(": ", 1)[-1])
