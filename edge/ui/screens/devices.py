"""The Devices screen for technicians: scanner sources and their state, and every scan live, decoded.

While it is open, scans are only shown (nothing is added to the basket), so a technician can test a
scanner at a till in the middle of the day without touching a sale.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from edge.core.i18n import ENGLISH, N_, Translator
from edge.ui.errors import KeepsRunning
from edge.ui.texts import translate_bindings

if TYPE_CHECKING:
    from devices.barcode.decode import ScanResult

Decoder = Callable[[str, str | None], "ScanResult"]


class DevicesScreen(KeepsRunning, Screen[None]):
    DEFAULT_CSS = """
    DevicesScreen #sources { height: auto; padding: 0 1; background: $panel; }
    DevicesScreen #scans { height: 1fr; }
    DevicesScreen #detail { height: 7; padding: 0 1; border-top: solid $primary; }
    """
    BINDINGS = [Binding("escape", "close", N_("Back to the sale"))]
    closing = False

    def __init__(self, describe_sources: Callable[[], str], decode: Decoder, tr: Translator = ENGLISH) -> None:
        super().__init__()
        self.tr = tr
        translate_bindings(self, tr)
        self.describe_sources = describe_sources
        self.decode = decode
        self.results: list[ScanResult] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="sources")
            yield DataTable(id="scans", cursor_type="row")
            yield Static(self.tr._("Scan something: each scan is decoded here and NOT added to the sale."),
                         id="detail")  # fmt: skip
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#scans", DataTable)
        tr = self.tr
        table.add_columns(tr._("time"), tr._("source"), tr._("symbology"), tr._("kind"), "ms", tr._("data"))
        self.refresh_sources()
        self.set_interval(1.0, self.refresh_sources)

    def action_close(self) -> None:
        """Back to the sale, once: a second Escape of the same burst is ignored."""
        if self.closing or self.app.screen is not self:
            return
        self.closing = True
        self.app.pop_screen()

    def refresh_sources(self) -> None:
        if self.closing:
            return
        self.query_one("#sources", Static).update(self.describe_sources())

    def show_scan(self, text: str, aim_id: str | None, source: str, received: float) -> None:
        self.decode_in_thread(text, aim_id, source, received)

    @work(thread=True, exit_on_error=False, group="decode")
    def decode_in_thread(self, text: str, aim_id: str | None, source: str, received: float) -> None:
        result = self.decode(text, aim_id)
        delay_ms = (time.monotonic() - received) * 1000
        self.app.call_from_thread(self._add_row, result, source, delay_ms)

    def _add_row(self, result: ScanResult, source: str, delay_ms: float) -> None:
        if self.closing or not self.is_attached:
            return
        self.results.append(result)
        table = self.query_one("#scans", DataTable)
        summary = result.error or (result.gtin or result.customer_id or result.input)
        table.add_row(
            time.strftime("%H:%M:%S"), source, result.symbology or "-", result.kind, f"{delay_ms:.1f}",
            summary[:40], key=str(len(self.results) - 1),
        )  # fmt: skip
        table.move_cursor(row=table.row_count - 1)
        self._detail(result)

    @on(DataTable.RowHighlighted, "#scans")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._detail(self.results[int(event.row_key.value)])

    def _detail(self, result: ScanResult) -> None:
        text = json.dumps({k: v for k, v in result.to_json().items() if v not in (None, {}, "")}, ensure_ascii=False)
        self.query_one("#detail", Static).update(escape(text))
