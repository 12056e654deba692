"""Modal dialogs: each asks one thing and dismisses with the answer (or None on Escape)."""

from __future__ import annotations

from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from edge.core.catalog import Product
from edge.core.money import format_money, parse_money

DIALOG_CSS = """
ModalScreen { align: center middle; }
#dialog { width: 60; max-width: 95%; height: auto; max-height: 90%; border: thick $accent; padding: 0 1;
          background: $surface; }
#dialog Label.title { text-style: bold; width: 100%; }
#dialog .hint { color: $text-muted; }
#dialog .error { color: $error; }
"""


class PromptScreen(ModalScreen[str | None]):
    """One line of text, checked by ``validate`` (returns an error sentence or None)."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, hint: str = "", placeholder: str = "", value: str = "",
        validate: Callable[[str], str | None] | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.title_text, self.hint, self.placeholder, self.value = title, hint, placeholder, value
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, classes="title")
            if self.hint:
                yield Static(self.hint, classes="hint")
            yield Input(value=self.value, placeholder=self.placeholder, id="answer")
            yield Static("", id="problem", classes="error")

    @on(Input.Submitted, "#answer")
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self.validate(event.value) if self.validate else None
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SearchScreen(ModalScreen[Product | None]):
    """Search products by name as the cashier types; Enter (or Down then Enter) picks one."""

    DEFAULT_CSS = DIALOG_CSS + "#results { height: 12; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, search: Callable[[str], list[Product]], currency: str = "EUR", locale: str = "en") -> None:
        super().__init__()
        self.search, self.currency, self.locale = search, currency, locale
        self.products: list[Product] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Find a product by name", classes="title")
            yield Input(placeholder="e.g. milk organic", id="query")
            yield OptionList(id="results")
            yield Static("Type to search; Down to the list, Enter to add.", classes="hint")

    @on(Input.Changed, "#query")
    def changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def run_search(self, text: str) -> None:
        found = self.search(text)
        self.app.call_from_thread(self.show_results, found)

    def show_results(self, found: list[Product]) -> None:
        self.products = found
        results = self.query_one("#results", OptionList)
        results.clear_options()
        results.add_options(
            [Option(f"{p.name}  {format_money(p.price_cents, self.currency, self.locale)}", id=str(i)) for i, p in enumerate(found)]
        )
        if found:
            results.highlighted = 0

    @on(Input.Submitted, "#query")
    def take_first(self, event: Input.Submitted) -> None:
        event.stop()
        results = self.query_one("#results", OptionList)
        if self.products:
            self.dismiss(self.products[results.highlighted or 0])

    @on(OptionList.OptionSelected, "#results")
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.products[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)


class PayScreen(ModalScreen[tuple[str, int | None] | None]):
    """Card: press C. Cash: type what the customer hands over (or nothing for the exact amount), Enter."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("f12", "card", "Card", priority=True),
    ]

    def __init__(self, amount_due_cents: int, currency: str = "EUR", locale: str = "en") -> None:
        super().__init__()
        self.amount_due_cents, self.currency, self.locale = amount_due_cents, currency, locale

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Amount due {format_money(self.amount_due_cents, self.currency, self.locale)}", classes="title")
            yield Static("Cash: type the amount tendered (empty = exact), Enter.\nCard: press F12.", classes="hint")
            yield Input(placeholder="cash tendered, e.g. 50", id="tendered")
            yield Static("", id="problem", classes="error")

    @on(Input.Submitted, "#tendered")
    def cash(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text.lower() in {"c", "card"}:
            self.dismiss(("card", None))
            return
        try:
            tendered = parse_money(text, self.locale, self.currency) if text else self.amount_due_cents
        except ValueError as exc:
            self.query_one("#problem", Static).update(str(exc))
            return
        if tendered < self.amount_due_cents:
            self.query_one("#problem", Static).update(
                f"{format_money(tendered, self.currency, self.locale)} is less than the amount due"
            )
            return
        self.dismiss(("cash", tendered))

    def action_card(self) -> None:
        self.dismiss(("card", None))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReceiptScreen(ModalScreen[int | None]):
    """The receipt, and (optionally) 'would you recommend us?' 0-10 for the customer."""

    DEFAULT_CSS = DIALOG_CSS + "#receipt { height: auto; max-height: 16; } #dialog { width: 48; }"
    BINDINGS = [Binding("escape", "skip", "Done")]

    def __init__(self, receipt: str, ask_feedback: bool) -> None:
        super().__init__()
        self.receipt, self.ask_feedback = receipt, ask_feedback

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            with VerticalScroll(id="receipt"):
                yield Static(self.receipt, markup=False)
            if self.ask_feedback:
                yield Label("How likely are you to recommend us? 0-10, Enter (Esc: skip)")
                yield Input(placeholder="0-10", id="score", max_length=2, restrict=r"\d*")
                yield Static("", id="problem", classes="error")
            else:
                yield Static("Press Esc or Enter for the next sale.", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#score" if self.ask_feedback else "#receipt").focus()

    def key_enter(self) -> None:
        if not self.ask_feedback:
            self.dismiss(None)

    @on(Input.Submitted, "#score")
    def scored(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.dismiss(None)
            return
        score = int(event.value)
        if score > 10:
            self.query_one("#problem", Static).update("please answer from 0 to 10")
            return
        self.dismiss(score)

    def action_skip(self) -> None:
        self.dismiss(None)
