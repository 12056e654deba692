"""The basket: one row per line, and under it one row per discount with its reason."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from edge.core.loyalty import Settlement
from edge.core.money import format_money


class BasketTable(DataTable):
    DEFAULT_CSS = """
    BasketTable { height: 1fr; }
    """

    def __init__(self, currency: str = "EUR", locale: str = "en", **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.currency, self.locale = currency, locale
        self._row_lines: list[int | None] = []

    def on_mount(self) -> None:
        self.add_column("Item", width=26, key="item")
        self.add_column("Qty", width=4, key="qty")
        self.add_column("Amount", width=9, key="amount")

    def show(self, settlement: Settlement) -> None:
        keep = self.selected_line()
        self.clear()
        self._row_lines = []
        money = lambda c: format_money(c, self.currency, self.locale)  # noqa: E731
        discounts = settlement.pricing.discounts
        for priced in sorted(settlement.pricing.lines, key=lambda p: p.line.line_no):
            ln = priced.line
            self.add_row(
                ln.product.name, Text(str(ln.qty), justify="right"),
                Text(money(ln.gross_cents), justify="right"), key=f"line-{ln.line_no}",
            )  # fmt: skip
            self._row_lines.append(ln.line_no)
            for i, d in enumerate(x for x in discounts if x.line_no == ln.line_no):
                self.add_row(Text(f" {d.short or d.reason}", style="green"), "",
                             Text(money(-d.amount_cents), style="green", justify="right"),
                             key=f"disc-{ln.line_no}-{i}")  # fmt: skip
                self._row_lines.append(ln.line_no)
        for i, d in enumerate(x for x in discounts if x.line_no is None):
            self.add_row(Text(d.short or d.reason, style="green"), "",
                         Text(money(-d.amount_cents), style="green", justify="right"), key=f"basket-{i}")  # fmt: skip
            self._row_lines.append(None)
        if keep is not None and keep in self._row_lines:
            self.move_cursor(row=self._row_lines.index(keep))
        elif self.row_count:
            last_line = max((i for i, n in enumerate(self._row_lines) if n is not None), default=0)
            self.move_cursor(row=last_line)

    def selected_line(self) -> int | None:
        """The basket line under the cursor (a discount row selects the line it belongs to)."""
        if not self._row_lines or self.cursor_row < 0 or self.cursor_row >= len(self._row_lines):
            return None
        return self._row_lines[self.cursor_row]
