"""Modal dialogs: each asks one thing and closes once with the answer (or None on Escape).

Every dialog is a :class:`OneShotModal`: the first answer closes it and anything after that - a second Enter
in the same burst, a key typed while it closes - is ignored (the till drops keys aimed at a closing screen),
so one dialog never acts twice and never closes the screen under it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from edge.core.catalog import Product
from edge.core.contract import MAX_CENTS
from edge.core.i18n import ENGLISH, N_, Translator, translator
from edge.core.l10n import Formats
from edge.core.loyalty import Balance
from edge.core.money import format_money, parse_money
from edge.core.receipt import PAYMENT_WORDS, sale_points_words
from edge.store.parked import ParkedSale
from edge.store.rewards import Reward
from edge.ui.errors import KeepsRunning
from edge.ui.texts import translate_bindings
from edge.ui.widgets.fields import OrderedInput

DIALOG_CSS = """
#dialog { width: 60; max-width: 95%; height: auto; max-height: 90%; border: thick $accent; padding: 0 1;
          background: $surface; }
#dialog Label.title { text-style: bold; width: 100%; }
#dialog .hint { color: $text-muted; }
#dialog .error { color: $error; }
"""

T = TypeVar("T")
# A burst this long or longer is a barcode (EAN-8 and up), never a number typed into a dialog: a quantity, a
# points figure or cash tendered ("1000", "5000", "10.00") is shorter.
TYPED_BURST_MAX = 7


def typed_burst(text: str, after_typed_key: bool = False) -> bool:
    """True when a fast burst into a dialog asking for a number is typing (a macro key, a quick cashier),
    not a scan: only digits and money punctuation, and short - or of any length when it came right after a
    key typed in the dialog (``after_typed_key``, e.g. Ctrl+U to clear the field: a scanner sends no such
    key before its code)."""
    figure = bool(text) and all(c.isdigit() or c in ".," for c in text)
    return figure and (after_typed_key or len(text) <= TYPED_BURST_MAX)


def whole_number(text: str) -> int | None:
    """``text`` (blanks around it ignored) as a whole number of ASCII digits, else None (``str.isdigit``
    also takes "²", which ``int`` refuses)."""
    text = text.strip()
    return int(text) if text and text.isascii() and text.isdigit() else None


class OneShotModal(KeepsRunning, ModalScreen[T]):
    """A modal screen that answers once. ``closing`` turns True at the first answer.

    ``tr``: the store's language; the dialog's key descriptions and fixed words are shown in it.
    """

    closing = False

    def __init__(self, tr: Translator = ENGLISH) -> None:
        super().__init__()
        self.tr = tr
        translate_bindings(self, tr)
        # in the middle of the screen at any size (a type rule in a subclass's DEFAULT_CSS is scoped to its
        # descendants, so "ModalScreen { align: ... }" there never reached the screen itself)
        self.styles.align = ("center", "middle")

    def finish(self, result: T | None = None) -> None:
        """Close with ``result`` unless already closing (or no longer the screen on top)."""
        if self.closing or not self.is_attached or self.app.screen is not self:
            return
        self.closing = True
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.finish(None)


class PromptScreen(OneShotModal[str]):
    """One line of text, checked by ``validate`` (returns an error sentence or None).

    ``accepts_scan``: the dialog asks for a code (coupon, card), so a scan fills and submits it.
    """

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(
        self, title: str, hint: str = "", placeholder: str = "", value: str = "",
        validate: Callable[[str], str | None] | None = None, accepts_scan: bool = False, tr: Translator = ENGLISH,
    ) -> None:  # fmt: skip
        super().__init__(tr)
        self.title_text, self.hint, self.placeholder, self.value = title, hint, placeholder, value
        self.validate = validate
        self.accepts_scan = accepts_scan

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, classes="title")
            if self.hint:
                yield Static(self.hint, classes="hint")
            yield OrderedInput(value=self.value, placeholder=self.placeholder, id="answer")
            yield Static("", id="problem", classes="error")

    @on(Input.Submitted, "#answer")
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.answer(event.value)

    def answer(self, text: str) -> None:
        if self.closing:
            return
        problem = self.validate(text) if self.validate else None
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.finish(text)

    def take_scan(self, text: str) -> None:
        """A scanner read a code while this dialog asks for one: it is the answer."""
        self.query_one("#answer", Input).value = text
        self.answer(text)

    def take_typed(self, text: str) -> None:
        """A fast burst ending in Enter (a macro key, a quick cashier) in a dialog asking for a number: typed
        text, added to the field and submitted as if typed."""
        field = self.query_one("#answer", Input)
        field.insert_text_at_cursor(text)
        self.answer(field.value)


class SearchScreen(OneShotModal[Product]):
    """Search products by name as the cashier types; Enter (or Down then Enter) picks one.

    Enter picks from the results of what the field says now: pressed (or typed in one fast burst with the
    words) before that search has answered, it picks when the answer comes, never from an older search.
    """

    DEFAULT_CSS = DIALOG_CSS + "#results { height: 12; max-height: 50vh; }"
    # Down in the search field moves into the list (the list's own Down moves within it)
    BINDINGS = [Binding("escape", "cancel", N_("Cancel")), Binding("down", "to_list", show=False)]
    HINT = N_("Type to search; Down to the list, Enter to add.")

    def __init__(self, search: Callable[[str], list[Product]], currency: str = "EUR", locale: str = "en") -> None:
        super().__init__(translator(locale))
        self.search, self.currency, self.locale = search, currency, locale
        self.products: list[Product] = []
        self._shown_for: str | None = None  # the text whose results are listed
        self._pick_when_found = False  # Enter came before the search for the field's text answered

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.tr._("Find a product by name"), classes="title")
            yield OrderedInput(placeholder=self.tr._("e.g. milk organic"), id="query")
            yield OptionList(id="results")
            yield Static(self.tr._(self.HINT), id="hint", classes="hint")

    @on(Input.Changed, "#query")
    def changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def run_search(self, text: str) -> None:
        found = self.search(text)
        self.app.call_from_thread(self.show_results, found, text)

    def show_results(self, found: list[Product], text: str | None = None) -> None:
        """List ``found`` (the answer for ``text``; an answer for an older text than the field's is dropped)."""
        if self.closing or (text is not None and text != self.query_one("#query", Input).value):
            return
        self.products = found
        self._shown_for = text
        results = self.query_one("#results", OptionList)
        results.clear_options()
        results.add_options(
            [Option(f"{p.name}  {format_money(p.price_cents, self.currency, self.locale)}", id=str(i)) for i, p in enumerate(found)]
        )
        if found:
            results.highlighted = 0
        if self._pick_when_found:
            self._pick_when_found = False
            self._pick_first()

    @on(Input.Submitted, "#query")
    def take_first(self, event: Input.Submitted) -> None:
        event.stop()
        if self._shown_for != event.value:
            self._pick_when_found = True  # the search for this text is still running: pick when it answers
            return
        self._pick_first()

    def _pick_first(self) -> None:
        if self.products:
            self.finish(self.products[self.query_one("#results", OptionList).highlighted or 0])
            return
        text = self.query_one("#query", Input).value.strip()
        self.query_one("#hint", Static).update(
            f"Nothing found for '{escape(text)}': try another word, or Esc." if text else self.HINT
        )

    def take_typed(self, text: str) -> None:
        """A fast burst ending in Enter (a quick cashier, a macro key): typed into the search field, and its
        Enter picks the first product found for it."""
        field = self.query_one("#query", Input)
        field.insert_text_at_cursor(text)
        self.take_first(Input.Submitted(field, field.value))

    @on(OptionList.OptionSelected, "#results")
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.finish(self.products[int(event.option.id or 0)])

    def action_to_list(self) -> None:
        """Down from the search field: into the results, on the first one (the next Down moves in the list)."""
        results = self.query_one("#results", OptionList)
        if self.focused is results:
            return
        results.focus()
        if results.option_count and results.highlighted is None:
            results.highlighted = 0


class PayScreen(OneShotModal[tuple[str, int | None]]):
    """Card: press F12. Cash: type what the customer hands over (or nothing for the exact amount), Enter."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel")),
        Binding("f12", "card", N_("Card"), priority=True),
    ]

    def __init__(self, amount_due_cents: int, currency: str = "EUR", locale: str = "en",
                 on_answer: Callable[[], None] | None = None) -> None:  # fmt: skip
        """``on_answer``: called at once when the dialog answers (before its result reaches the caller), so
        the till can hold what is typed for the next sale from that moment."""
        super().__init__(translator(locale))
        self.amount_due_cents, self.currency, self.locale = amount_due_cents, currency, locale
        self.on_answer = on_answer

    def finish(self, result: tuple[str, int | None] | None = None) -> None:
        was_closing = self.closing
        super().finish(result)
        if result is not None and self.closing and not was_closing and self.on_answer is not None:
            self.on_answer()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            due = format_money(self.amount_due_cents, self.currency, self.locale)
            yield Label(self.tr._("Amount due {amount}").format(amount=due), classes="title")
            yield Static(self.tr._("Cash: type the amount tendered (empty = exact), Enter.") + "\n"
                         + self.tr._("Card: press F12."), classes="hint")  # fmt: skip
            yield OrderedInput(placeholder=self.tr._("cash tendered, e.g. 50"), id="tendered")
            yield Static("", id="problem", classes="error")

    @on(Input.Submitted, "#tendered")
    def cash(self, event: Input.Submitted) -> None:
        event.stop()
        if self.closing:
            return
        text = event.value.strip()
        if text.lower() in {"c", "card", self.tr._("card").lower()}:
            self.finish(("card", None))
            return
        try:
            tendered = parse_money(text, self.locale, self.currency) if text else self.amount_due_cents
        except ValueError as exc:
            self.query_one("#problem", Static).update(str(exc))
            return
        if tendered > MAX_CENTS:  # the contract's limit for any amount: the hub would refuse the sale
            self.query_one("#problem", Static).update(
                self.tr._("{amount} is more than a sale can record: type at most {max}").format(
                    amount=format_money(tendered, self.currency, self.locale),
                    max=format_money(MAX_CENTS, self.currency, self.locale))
            )
            return
        if tendered < self.amount_due_cents:
            self.query_one("#problem", Static).update(
                self.tr._("{amount} is less than the amount due").format(
                    amount=format_money(tendered, self.currency, self.locale))
            )
            return
        self.finish(("cash", tendered))

    def action_card(self) -> None:
        self.finish(("card", None))

    def take_typed(self, text: str) -> None:
        """A fast burst ending in Enter typed into the cash field: added to it and submitted as if typed."""
        field = self.query_one("#tendered", Input)
        field.insert_text_at_cursor(text)
        self.cash(Input.Submitted(field, field.value))


class ConfirmScreen(OneShotModal[str]):
    """A question with lettered answers, e.g. ``{"y": "Void it", "n": "Keep it"}``; the answer is the letter.

    Enter and Escape give None (the safe answer: nothing happens), so a stray Enter never confirms.
    """

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, title: str, body: str, choices: dict[str, str], purpose: str = "",
                 tr: Translator = ENGLISH) -> None:  # fmt: skip
        super().__init__(tr)
        self.title_text, self.body, self.choices, self.purpose = title, body, choices, purpose

    def compose(self) -> ComposeResult:
        keys = " · ".join(f"[b]{k.upper()}[/b] {escape(label)}" for k, label in self.choices.items())
        with Vertical(id="dialog"):
            yield Label(self.title_text, classes="title")
            if self.body:
                yield Static(self.body, markup=False)
            yield Static(f"{keys} · [b]Esc[/b] " + escape(self.tr._("back")), classes="hint")

    def on_key(self, event: events.Key) -> None:
        key = (event.character or event.key or "").lower()
        if key in self.choices:
            event.stop()
            self.finish(key)
        elif event.key == "enter":
            event.stop()
            self.finish(None)


class RecallScreen(OneShotModal[str]):
    """The parked sales, oldest first; Enter recalls the highlighted one (its id is the answer)."""

    DEFAULT_CSS = DIALOG_CSS + "#parked { height: auto; max-height: 12; }"
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, parked: list[ParkedSale], currency: str = "EUR", locale: str = "en",
                 timezone: str | None = None) -> None:  # fmt: skip
        super().__init__(translator(locale))
        self.timezone = timezone  # parking times in the store's zone (None: the box's)
        self.parked, self.currency, self.locale = parked, currency, locale

    def compose(self) -> ComposeResult:
        options = [
            Option(f"{self._time(p)}  {p.label[:20]:<20} {p.items:>3} "
                   f"{format_money(p.total_cents, self.currency, self.locale):>10}", id=p.id)
            for p in self.parked
        ]  # fmt: skip
        with Vertical(id="dialog"):
            yield Label(self.tr._("Parked sales ({n})").format(n=len(self.parked)), classes="title")
            yield OptionList(*options, id="parked")
            yield Static(self.tr._("Up/Down to choose, Enter to recall, Esc to go back."), classes="hint")

    def _time(self, parked: ParkedSale) -> str:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.timezone) if self.timezone else None
        return parked.parked_at.astimezone(zone).strftime("%H:%M")

    def on_mount(self) -> None:
        listing = self.query_one("#parked", OptionList)
        listing.focus()
        if self.parked:
            listing.highlighted = 0

    @on(OptionList.OptionSelected, "#parked")
    def picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.finish(event.option.id)


@dataclass(frozen=True)
class ReceiptSummary:
    """The figures the cashier reads out, shown beside the receipt so they are never below the fold."""

    total_cents: int
    payment_method: str
    tendered_cents: int | None
    points_earned: int | None  # None: a guest sale
    new_balance: int | None
    pending_points: int | None
    points_redeemed: int = 0
    reward_points: int = 0  # spent on rewards claimed during the sale

    @property
    def change_cents(self) -> int | None:
        if self.payment_method != "cash" or self.tendered_cents is None:
            return None
        return self.tendered_cents - self.total_cents


SCORE_MAX_LENGTH = 2  # "0" to "10": anything longer typed into the score field is a code for the next sale


class ReceiptScreen(OneShotModal[int]):
    """The receipt (scrollable, PageUp/PageDown), the totals, change and points beside it, and (optionally)
    "would you recommend us?" 0-10 for the customer.

    Keys that close it (Enter, Esc) typed before it appeared or within ``EARLY_KEY_S`` after are ignored: a
    second Enter of the burst that paid must not close the receipt before the cashier has read the change.
    """

    EARLY_KEY_S = 1.0
    DEFAULT_CSS = DIALOG_CSS + """
    ReceiptScreen #dialog { width: 80; max-width: 100%; max-height: 100%; }
    ReceiptScreen #receipt-row { height: auto; max-height: 1fr; }
    ReceiptScreen #receipt { width: 44; height: auto; max-height: 20; }
    ReceiptScreen #summary { width: 1fr; height: auto; padding: 0 0 0 1; }
    ReceiptScreen #figures { height: auto; }
    ReceiptScreen #question { height: auto; margin-top: 1; }
    ReceiptScreen.narrow #dialog { width: 100%; height: 100%; }
    ReceiptScreen.narrow #receipt-row { height: 1fr; max-height: 100%; }
    ReceiptScreen.narrow #receipt { width: 100%; height: 1fr; max-height: 100%; }
    ReceiptScreen.narrow #summary { dock: bottom; width: 100%; padding: 0; border-top: solid $accent; }
    ReceiptScreen.narrow #question { margin-top: 0; }
    """
    NARROW_BELOW = 78  # columns: under this the figures and the question go under the receipt, compact
    BINDINGS = [
        Binding("escape", "skip", N_("Done")),
        Binding("pagedown", "scroll_receipt(1)", N_("Down"), show=False, priority=True),
        Binding("pageup", "scroll_receipt(-1)", N_("Up"), show=False, priority=True),
    ]

    def __init__(self, receipt: str, ask_feedback: bool, summary: ReceiptSummary | None = None,
                 currency: str = "EUR", locale: str = "en", next_sale: Callable[[str], None] | None = None,
                 ) -> None:  # fmt: skip
        """``next_sale``: takes a code typed or scanned into the score field (longer than any score: the next
        customer's first item, from a scanner that types like a keyboard); the receipt closes for it."""
        super().__init__(translator(locale))
        self.next_sale = next_sale
        self.receipt, self.ask_feedback, self.summary, self.currency = receipt, ask_feedback, summary, currency
        self.locale = locale
        self.shown_at = time.monotonic()

    def compose(self) -> ComposeResult:
        narrow = self.app.size.width < self.NARROW_BELOW
        self.set_class(narrow, "narrow")
        with Vertical(id="dialog"), Horizontal(id="receipt-row"):
            with VerticalScroll(id="receipt"):
                yield Static(self.receipt, markup=False)
            with Vertical(id="summary"):
                yield Static(self._figures(narrow), id="figures")
                with Vertical(id="question"):
                    if self.ask_feedback:
                        yield Static(self.tr._("How likely is the customer to recommend us? 0 to 10, Enter. "
                                               "Esc skips."))  # fmt: skip
                        yield OrderedInput(placeholder="0-10", id="score", compact=narrow)
                        yield Static("", id="problem", classes="error")
                    else:
                        yield Static(self.tr._("Enter or Esc: next sale."), classes="hint")

    def _figures(self, narrow: bool = False) -> str:
        """Total, payment, change and points, a fact a line; ``narrow``: the same facts on as few lines as
        fit under the receipt (money on one, points on the next)."""
        s = self.summary
        if s is None:
            return ""
        money = lambda v: format_money(v, self.currency, self.locale)  # noqa: E731
        tr = self.tr
        method = tr._(PAYMENT_WORDS.get(s.payment_method, s.payment_method))
        total, change = tr._("TOTAL"), tr._("CHANGE")
        paid = [f"[b]{total} {money(s.total_cents)}[/b]", tr._("Paid by {method}").format(method=method)]
        if s.change_cents is not None:
            paid[1] += f" {money(s.tendered_cents or 0)}"
            paid.append(f"[b reverse] {change} {money(s.change_cents)} [/b reverse]")
        points = []
        if s.points_earned is not None:
            number = Formats(self.locale, self.currency).number
            points.append(tr._("Points earned {n}").format(n=number(s.points_earned)))
            if s.new_balance is not None:
                points.append(tr._("Balance {n} pts").format(n=number(s.new_balance)))
            words = sale_points_words(s.points_redeemed + s.reward_points, s.points_earned, tr, Formats(self.locale, self.currency))
            if s.new_balance is not None and words:
                points[-1] += f" ({words})"
        if narrow:
            rows = [" · ".join(paid), " · ".join(points)] if points else [" · ".join(paid)]
            return "\n".join([*rows, tr._("PageUp/PageDown: scroll the receipt above.")])
        return "\n".join([*paid, *points, tr._("PageUp/PageDown: scroll the receipt.")])

    def on_mount(self) -> None:
        self.shown_at = time.monotonic()
        self.query_one("#score" if self.ask_feedback else "#receipt").focus()

    def on_resize(self, event: events.Resize) -> None:
        """The terminal changed size with the receipt up: narrow or wide layout again (60x20 keeps the 0-10
        question on screen)."""
        narrow = event.size.width < self.NARROW_BELOW
        if narrow == self.has_class("narrow"):
            return
        self.set_class(narrow, "narrow")
        self.query_one("#figures", Static).update(self._figures(narrow))
        if self.ask_feedback:
            self.query_one("#score", Input).compact = narrow

    def _early(self) -> bool:
        return time.monotonic() - self.shown_at < self.EARLY_KEY_S

    CLOSING_KEYS = frozenset({"enter", "escape", "ctrl+m", "ctrl+j"})

    def ignores_key(self, event: events.Key) -> bool:
        """Enter/Escape pressed before the receipt was up, or within ``EARLY_KEY_S`` of it: the rest of the
        burst that paid, never an answer - unless the customer's score was typed on the receipt first.
        (Key times are Textual's monotonic clock, like ``shown_at``.)"""
        if event.key not in self.CLOSING_KEYS or event.time - self.shown_at >= self.EARLY_KEY_S:
            return False
        if event.key != "escape" and self.ask_feedback and self.is_mounted:
            return not self.query_one("#score", Input).value  # an answer typed on the receipt is meant
        return True

    def action_scroll_receipt(self, pages: int) -> None:
        receipt = self.query_one("#receipt", VerticalScroll)
        (receipt.scroll_page_down if pages > 0 else receipt.scroll_page_up)(animate=False)

    def key_enter(self) -> None:
        if not self.ask_feedback and not self._early():
            self.finish(None)

    @on(Input.Submitted, "#score")
    def scored(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            if not self._early():
                self.finish(None)
            return
        text = event.value.strip()
        if len(text) > SCORE_MAX_LENGTH and self.next_sale is not None:
            self.finish(None)  # not a score: the next customer's first item (kept, never dropped)
            self.next_sale(text)
            return
        if not text.isdigit() or int(text) > 10:
            self.query_one("#problem", Static).update(
                self.tr._("{text} is not on the scale: type 0 to 10, or Esc to skip").format(text=text))
            self.query_one("#score", Input).value = ""
            return
        self.finish(int(text))

    def action_skip(self) -> None:
        if not self._early():
            self.finish(None)


def pending_words(balance: Balance, tr: Translator = ENGLISH, fmt: Formats | None = None) -> str:
    """The parts of a balance this till changed and the hub has not confirmed yet, each said on its own (never
    netted: "after 200 used here" read as if 200 were still to come): "1,500 confirmed, +28 earned here, -200
    used here; the hub confirms them when the till syncs". "" when nothing is pending. Figures in ``fmt``'s
    number format when given."""
    n = fmt.number if fmt is not None else str
    here = [tr._("+{n} earned here").format(n=n(balance.pending_earn))] if balance.pending_earn else []
    if balance.pending_burn:
        here.append(tr._("-{n} used here").format(n=n(balance.pending_burn)))
    if not here:
        return ""
    return tr._("{confirmed} confirmed, {here}; the hub confirms them when the till syncs").format(
        confirmed=n(balance.confirmed), here=", ".join(here))


class RewardScreen(OneShotModal[str]):
    """The reward catalogue for the member on the sale, cheapest first; Enter picks the highlighted reward
    (its id is the answer), Esc goes back. Rewards the balance cannot cover are listed but marked."""

    DEFAULT_CSS = DIALOG_CSS + "#rewards { height: auto; max-height: 12; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, rewards: list[Reward], available: int, texts: dict[str, str],
                 tr: Translator = ENGLISH) -> None:  # fmt: skip
        """``texts``: the dialog's words in the store's language: ``title``, ``hint``, ``short`` (a reward
        the balance cannot cover) and ``none`` (an empty catalogue)."""
        super().__init__(tr)
        self.rewards, self.available, self.texts = rewards, available, texts

    def compose(self) -> ComposeResult:
        options = [Option(f"{r.points:>7}  {r.name[:40]}" + (f"  ({self.texts['short']})"
                                                             if r.points > self.available else ""),
                          id=r.id, disabled=r.points > self.available)
                   for r in self.rewards]
        with Vertical(id="dialog"):
            yield Label(self.texts["title"], classes="title")
            if options:
                yield OptionList(*options, id="rewards")
            else:
                yield Static(self.texts["none"], markup=False)
            yield Static(self.texts["hint"], classes="hint", markup=False)

    def on_mount(self) -> None:
        for listing in self.query("#rewards").results(OptionList):
            listing.focus()
            first = next((n for n, r in enumerate(self.rewards) if r.points <= self.available), None)
            if first is not None:
                listing.highlighted = first

    @on(OptionList.OptionSelected, "#rewards")
    def picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.finish(event.option.id)
