"""The till application. ``make_app(settings)`` is the one factory used by the CLI and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shlex
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import events, on
from textual.app import App, ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from devices.scanners.base import ScanEvent, ScannerSource, ScannerStatus, make_scanner_source
from devices.scanners.wedge import KeyboardWedgeSource
from edge.core.contract import MAX_QTY
from edge.core.i18n import N_
from edge.core.loyalty import check_redemption
from edge.core.money import format_money
from edge.db import open_database
from edge.session import Outcome, TillSession
from edge.settings import ConfigError, Settings
from edge.store.rewards import Reward
from edge.store.sales import SaleError
from edge.ui.commands import CommandQueue
from edge.ui.errors import KeepsRunning
from edge.ui.key_order import KeyOrder
from edge.ui.messages import (
    MemberLookedUp,
    Refreshed,
    SaleCompleted,
    SaleFailed,
    ScanArrived,
    SessionSettled,
    StatusChanged,
)
from edge.ui.screens.devices import DevicesScreen
from edge.ui.screens.dialogs import (
    ConfirmScreen,
    PayScreen,
    PromptScreen,
    RecallScreen,
    ReceiptScreen,
    ReceiptSummary,
    RewardScreen,
    SearchScreen,
    typed_burst,
    whole_number,
)
from edge.ui.snapshot import TillSnapshot, take_snapshot
from edge.ui.status import StatusSource, format_status
from edge.ui.texts import translate_bindings
from edge.ui.wedge_filter import WedgeKeyFilter
from edge.ui.widgets.basket_table import BasketTable
from edge.ui.widgets.fields import OrderedInput
from edge.ui.widgets.panels import CustomerPanel, KeyBar, StatusBar, TotalsBar
from sync import credentials

if TYPE_CHECKING:
    from devices.barcode.decode import ScanResult
    from edge.core.i18n import Translator
    from edge.core.l10n import Formats
    from edge.presence_runner import PresenceRunner
    from sync.client import SyncStatus, SyncWorker

log = logging.getLogger("edge.ui")
MAX_UI_ERRORS = 50  # unexpected errors the till survives before it stops (with exit status 1)


class TillApp(KeepsRunning, App[None]):
    TITLE = "store-edge till"
    CSS = """
    #top { height: 1; padding: 0 1; background: $primary; color: $text; text-style: bold; }
    #main { height: 1fr; }
    #left { width: 1fr; }
    #right { width: 30; border-left: solid $primary; }
    #message { height: auto; max-height: 3; padding: 0 1; }
    #message.error { color: $error; text-style: bold; }
    #message.ok { color: $success; }
    #scan { margin: 0 1; background: $boost; }
    """
    ENABLE_COMMAND_PALETTE = False
    _keys_posted = 0
    _keys_seen = 0
    BINDINGS = [
        # descriptions in English, marked N_; each till shows them in its store's language (translate_bindings)
        Binding("f2", "customer", N_("Cust"), priority=True),
        Binding("f3", "find", N_("Find"), priority=True),
        Binding("f4", "quantity", N_("Qty"), priority=True),
        Binding("f5", "void", N_("Void"), priority=True),
        Binding("f6", "points", N_("Pts"), priority=True),
        Binding("f7", "coupon", N_("Cpn"), priority=True),
        Binding("f8", "devices", N_("Devices"), priority=True, show=False),  # the technicians' screen
        Binding("f9", "pay", N_("Pay"), priority=True),
        Binding("f10", "new_sale", N_("New"), priority=True),
        Binding("f11", "floor", N_("Floor"), priority=True),
        Binding("f12", "park", N_("Park"), priority=True),
        Binding("ctrl+r", "reward", N_("Reward"), priority=True, show=False),  # claim a reward for the member
        Binding("ctrl+z", "undo_void", N_("Undo void"), priority=True, show=False),  # the last F5 of this sale
        Binding("ctrl+q", "quit", N_("Quit"), priority=True, show=False),
        Binding("up", "cursor(-1)", N_("Up"), show=False),
        Binding("down", "cursor(1)", N_("Down"), show=False),
    ]

    def __init__(
        self,
        settings: Settings,
        session: TillSession,
        status: StatusSource | None = None,
        sync_worker: SyncWorker | None = None,
        presence: PresenceRunner | None = None,
    ) -> None:
        """``presence``: a presence runner to use instead of the one ``settings`` ask for (tests, simulations)."""
        super().__init__()
        self.sync_worker = sync_worker
        self.settings = settings
        self.session = session
        self.status_source = status or StatusSource(session)
        self.currency = settings.store.currency
        self.locale = settings.store.formats.locale  # money on screen written the store's way
        self.tr = settings.store.formats.tr  # every word on screen in the store's language
        translate_bindings(self, self.tr)
        self.snapshot: TillSnapshot | None = None
        t = settings.till
        self.wedge_source = KeyboardWedgeSource(settings.scanner, t.wedge_max_key_interval_ms, t.wedge_min_length)
        self._keys_posted = 0  # key events posted to the app (the terminal's input thread counts them) ...
        self._keys_seen = 0  # ... and those on_event has taken: fewer seen than posted = keys still queued
        self._key_count_lock = threading.Lock()  # the input thread and the loop both count
        self.wedge = WedgeKeyFilter(self.wedge_source, self._forward_key, self._keys_waiting) if t.wedge else None
        self.scanners: list[ScannerSource] = [self.wedge_source]
        if settings.scanner.serial_port or settings.scanner.evdev:
            self.scanners.append(make_scanner_source(settings.scanner))
        self._unsubscribe: list[Callable[[], None]] = []
        self.commands = CommandQueue()
        self._typed_key: tuple[float, object] = (float("-inf"), None)  # last key not a character: when, where
        self._unsettled = 0
        self._message_said: tuple[str, bool] = ("", True)  # the message line's text and tone
        self._repeats_seen = 0  # identical reads the scanners suppressed, as far as the cashier was told
        self._repeats_unsaid = 0  # session commands given whose snapshot has not been shown yet (see in_session)
        self.key_order = KeyOrder(self._deliver_in_order, lambda: self._unsettled == 0, self._screen_ready,
                                  lambda s, cb: self.set_timer(s, cb))  # fmt: skip
        self._applied_version = 0
        self._completing = False  # a sale is being written: sale keys wait until its receipt is up
        self._handover = False  # the pay dialog answered: typing and scans are held for the next sale
        self._held_lines: list[str] = []  # scans and Enter-ended typing held during the hand-over, in order
        self._held_text = ""  # typing held during the hand-over, not yet ended by Enter
        self._message_about: tuple[str, object] = ("sale", 0)  # see show_message
        self.ui_errors = 0
        self.presence: PresenceRunner | None = presence
        if presence is None and (settings.ble.enabled or settings.ble.replay):
            from edge.presence_runner import PresenceRunner  # bleak and the engine only when BLE is on

            self.presence = PresenceRunner(settings, settings.database_path, self._beacon_status, self._presence_changed)

    SALE_ACTIONS = frozenset(
        {"customer", "find", "quantity", "void", "points", "coupon", "pay", "new_sale", "devices", "floor", "park",
         "cursor", "reward", "undo_void"}
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Sale actions belong to the sale screen: behind a dialog or the Devices screen, and while a sale is
        being written, they are off."""
        return not (action in self.SALE_ACTIONS and (len(self.screen_stack) > 1 or self._completing))

    def compose(self) -> ComposeResult:
        yield Static(self._top_line(0), id="top")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield BasketTable(self.currency, self.locale, id="basket")
                yield TotalsBar(self.currency, self.locale, id="totals")
            with VerticalScroll(id="right"):
                yield CustomerPanel(self.currency, self.locale, self.settings.store.timezone, id="customer")
        tr = self.tr
        yield Static(tr._(self.READY), id="message")
        yield OrderedInput(placeholder=tr._("Scan, or type product no./card/phone/e-mail/coupon + Enter"), id="scan",
                    compact=True)  # fmt: skip
        yield StatusBar("", id="status")
        yield KeyBar(id="keys")

    async def on_mount(self) -> None:
        from edge.ui import console

        if console.is_console(theme_setting=self.settings.till.theme):
            console.apply_console_theme(self)  # the bare Linux console lacks true colour and many glyphs
        elif self.settings.till.theme not in ("auto", "", "console"):
            self.theme = self.settings.till.theme
        self.query_one("#scan", Input).focus()
        for source in self.scanners:
            self._unsubscribe.append(source.on_scan(self._scan_from_device))
            self._unsubscribe.append(source.on_status(self._scanner_status))
        # the wedge only listens to our own keys: ready at once, so the first status bar is already true
        await self.wedge_source.start()
        for source in self.scanners[1:]:
            self.run_worker(source.start(), group="scanners", exit_on_error=False)
        self.in_session(lambda: None)
        self.refresh_status()
        self.set_interval(2.0, self.refresh_status)
        # after the first screen is painted: the import holds the GIL for a few hundred milliseconds
        self.set_timer(1.0, lambda: self.run_worker(_warm_up, thread=True, group="warm-up", exit_on_error=False))
        if self.wedge is not None:
            self.set_interval(self.settings.till.wedge_max_key_interval_ms / 1000, self.wedge.poll)
        from edge.ops import sdnotify

        # under systemd (Type=notify): ready once the first screen is up; the watchdog pings come from the
        # UI loop itself, so a wedged loop stops them and systemd restarts the till
        sdnotify.ready("till ready")
        if interval := sdnotify.ping_interval_s():
            self.set_interval(interval, sdnotify.watchdog)
        if self.presence is not None:
            self.run_worker(self.presence.start(), group="presence", exit_on_error=False)
        if self.sync_worker is not None:
            self._unsubscribe.append(self.sync_worker.add_listener(self._sync_status_from_thread))
            self.sync_worker.start()

    async def on_unmount(self) -> None:
        self.commands.close()
        if self.sync_worker is not None:
            # the sync thread may be mid-request; stopping it must not hold the till's exit for long
            await asyncio.to_thread(self.sync_worker.stop, 5.0)
        if self.presence is not None:
            await self.presence.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self.session.member_lookup is not None:
            self.session.member_lookup.close()
        for source in self.scanners:
            try:
                await source.stop()
            except Exception as exc:  # shutting down: say it in the log, never block the exit
                self.log.error(f"stopping {source.name} failed: {exc!r}")

    # scanners: every source's scans become ScanArrived messages; wedge keys are filtered before widgets --
    def _build_driver(self, headless: bool, inline: bool, mouse: bool, size: tuple[int, int] | None) -> Driver:
        """Textual's driver, counting each key as the terminal's input thread hands it over: from there it
        waits as a call scheduled on the loop (the driver's queue) before ``post_message`` sees it, and a
        busy loop may run the wedge's pause timer first (see ``_keys_waiting``)."""
        driver = super()._build_driver(headless, inline, mouse, size)
        send = driver.send_message

        def send_counted(message: Message) -> None:
            if isinstance(message, events.Key) and not message.is_forwarded:
                with self._key_count_lock:
                    self._keys_posted += 1
                message._key_counted = True  # type: ignore[attr-defined]
            send(message)

        driver.send_message = send_counted  # type: ignore[method-assign]
        return driver

    def post_message(self, message: Any) -> bool:
        """Counts the key events on their way in that the driver has not counted (see ``_keys_waiting``)."""
        is_key = isinstance(message, events.Key) and not message.is_forwarded
        counted = is_key and getattr(message, "_key_counted", False)
        if is_key and not counted:
            with self._key_count_lock:
                self._keys_posted += 1  # before queueing: the loop may take it before this thread carries on
        posted = super().post_message(message)
        if is_key and not posted:
            with self._key_count_lock:
                self._keys_posted -= 1
        return posted

    def _keys_waiting(self) -> bool:
        return self._keys_seen < self._keys_posted

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and not getattr(event, "_wedge_checked", False):
            self._keys_seen += 1
            if self.wedge is not None:
                await self.wedge.feed(event)  # a scan in the burst is kept; typed keys come back to _forward_key
                self._note_repeats()
                return
            if self._hold_key(event) or self._key_is_stale(event):
                return  # a dialog that already answered ignores the rest of the burst
        await super().on_event(event)

    async def _forward_key(self, event: events.Key) -> None:
        """A key the wedge says is typing: delivered in its turn (see edge/ui/key_order.py)."""
        event._wedge_checked = True  # type: ignore[attr-defined]
        if not self.key_order.queued(event):
            await self._deliver_in_order(event)

    def _typed_right_before(self, scan: ScanArrived) -> bool:
        """A key that is not a character (Ctrl+U, Backspace, an arrow) was typed in the dialog on top within the
        burst window before the scan's keys (the window for each of its keys, the terminator and one more):
        they are one run of fast typing, not a scanner's. The key that opened the dialog does not count."""
        at, screen = self._typed_key
        gap = self.settings.till.wedge_max_key_interval_ms / 1000
        return screen is self.screen and 0 <= scan.received_at - at <= (len(scan.text) + 2) * gap

    async def _deliver_in_order(self, item: events.Key | ScanArrived) -> None:
        if isinstance(item, ScanArrived):
            self.scan_arrived(item)
        elif not (self._hold_key(item) or self._key_is_stale(item)):
            if not (item.is_printable and item.character) and item.key not in ("enter", "ctrl+m", "ctrl+j"):
                self._typed_key = (item.time, self.screen)  # a key typed in this screen (Ctrl+U in a dialog)
            await super().on_event(item)

    def _screen_ready(self) -> bool:
        """The screen on top is mounted (a dialog just pushed takes keys only then)."""
        return bool(self.screen_stack) and self.screen.is_mounted

    def _in_handover(self) -> bool:
        """From the pay dialog's answer until the sale is written and its receipt is up (or it failed)."""
        if not (self._handover or self._completing):
            return False
        screen = self.screen
        return screen is self.screen_stack[0] or (isinstance(screen, PayScreen) and screen.closing)

    def _hold_key(self, event: events.Key) -> bool:
        """During the hand-over from a paid sale to the next (a few hundred ms, the cashier may already be
        typing or scanning the next item) typed text is held for the next sale instead of falling into a
        closing dialog or a scan line about to be cleared; any other key is refused in words. True when held."""
        if not self._in_handover():
            return False
        if event.is_printable and event.character:
            self._held_text += event.character
        elif event.key in ("enter", "ctrl+m", "ctrl+j"):
            self._held_lines.append(self._held_text)
            self._held_text = ""
        elif event.key == "backspace":
            self._held_text = self._held_text[:-1]
        else:
            self.show_message(f"{event.key.upper()} not taken: the sale is being completed; press it again once the "
                              "receipt is up.", ok=False)  # fmt: skip
        event.stop()
        return True

    def _release_held(self, sale_done: bool) -> None:
        """End the hand-over. After a written sale, held scans and typed codes go to the next sale in the order
        they came, and unfinished typing waits in the scan line; after a failure nothing goes into the unpaid
        basket: the held text waits in the scan line and the message says so."""
        lines = [line for line in self._held_lines if line.strip()]  # an empty Enter: the rest of the paying burst
        partial = self._held_text
        self._handover = False
        self._held_lines, self._held_text = [], ""
        if sale_done:
            for line in lines:
                self.in_session(functools.partial(self.session.scan, line))
            if partial:
                self.query_one("#scan", Input).value = partial
            return
        if lines or partial.strip():
            self.query_one("#scan", Input).value = (lines + [partial])[-1] if partial.strip() else lines[-1]
            held = ", ".join([*lines, partial] if partial.strip() else lines)
            self.show_message(f"Typed while paying, not added: {held} (kept in the scan line).", ok=False)

    def _key_is_stale(self, event: events.Key) -> bool:
        """True when the screen on top already answered and is closing (its keys go nowhere), or when the
        screen says the key was meant for what came before it (``ignores_key``, e.g. the receipt)."""
        screen = self.screen
        if getattr(screen, "closing", False):
            return True
        ignores = getattr(screen, "ignores_key", None)
        return bool(ignores(event)) if callable(ignores) else False

    def _scan_from_device(self, scan: ScanEvent) -> None:
        arrived = ScanArrived(scan.text, scan.aim_id, scan.source, scan.received_at)
        if scan.source == self.wedge_source.name:
            # fed from our own key handler, on the loop: the scan takes its turn among the keys around it
            if not self.key_order.queued(arrived):
                self.scan_arrived(arrived)
            return
        self.post_message(arrived)

    def _scanner_status(self, status: ScannerStatus) -> None:
        if status.state == "disconnected" or len(self.scanners) == 1 or status.state != "idle":
            self.status_source.scanner = status.label.removeprefix("scanner ")
        if status.state == "disconnected":
            self.show_message(self.tr._("Scanner disconnected: {detail}").format(detail=status.detail), ok=False,
                              about=("scanner", None))
        elif self._message_about[0] == "scanner" and status.state == "connected":
            again = (self.tr._("Scanner connected again: {detail}").format(detail=status.detail) if status.detail
                     else self.tr._("Scanner connected again."))
            self.show_message(again, ok=True)
        self.refresh_status()

    @on(ScanArrived)
    def scan_arrived(self, message: ScanArrived) -> None:
        self._note_repeats()
        screen = self.screen
        if self._in_handover():
            self._held_lines.append(message.text)  # the next customer's item: added once this sale is written
        elif isinstance(screen, DevicesScreen):
            screen.show_scan(message.text, message.aim_id, message.source, message.received_at)
        elif isinstance(screen, PromptScreen) and screen.accepts_scan and not screen.closing:
            screen.take_scan(message.text)  # the dialog asks for a code: the scan is its answer
        elif isinstance(screen, SearchScreen) and not screen.closing:
            screen.take_typed(message.text)  # a name typed fast with its Enter: the search takes it as typing
        elif isinstance(screen, PromptScreen | PayScreen) and not screen.closing and typed_burst(
            message.text, self._typed_right_before(message)
        ):
            screen.take_typed(message.text)  # a number asked for, typed fast (or a macro key): typing
        elif isinstance(screen, ReceiptScreen) and len(self.screen_stack) == 2:
            screen.finish(None)  # the next customer's first item: the receipt gives way, the scan counts
            self.in_session(lambda: self.session.scan(message.text, message.aim_id))
        elif screen is not self.screen_stack[0]:
            self.show_message(self.tr._("Scan ignored: finish or close the open dialog first (Esc), then scan again."),
                              ok=False, about=("screen", screen))  # fmt: skip
        else:
            self.in_session(lambda: self.session.scan(message.text, message.aim_id))

    # workers: blocking database work runs in threads and posts messages back ----------------------------
    def in_session(self, action: Callable[[], Outcome | None]) -> None:
        """Run ``action`` on the session in a thread, after every command given before it, then show the
        snapshot it leaves (see edge/ui/commands.py)."""
        ticket = self.commands.ticket()
        self._unsettled += 1

        def job() -> None:
            def step() -> None:
                outcome = action()
                self.post_message(Refreshed(take_snapshot(self.session, ticket), outcome))

            try:
                self.commands.run(ticket, step)
            finally:
                self.post_message(SessionSettled())  # after its Refreshed: the snapshot is shown first

        self.run_worker(job, thread=True, group="session", exit_on_error=False)

    @on(SessionSettled)
    def session_settled(self, _: SessionSettled) -> None:
        self._unsettled -= 1

    def refresh_status(self) -> None:
        def job() -> None:
            self.post_message(StatusChanged(format_status(self.status_source.read(), self.tr)))

        self.run_worker(job, thread=True, group="status", exclusive=True, exit_on_error=False)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place worker errors surface: the cashier sees a sentence, the log gets the detail."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("worker %s failed", event.worker.name, exc_info=error)
            self.log.error(f"worker {event.worker.name} failed: {error!r}")
            self.show_message(self.tr._("Something went wrong: {error}. The basket is as shown; try again.")
                              .format(error=error), ok=False)  # fmt: skip
            if event.worker.group == "session" and self._completing:
                self._completing = False
                self._release_held(sale_done=False)

    def report_error(self, error: Exception) -> None:
        """An unexpected error in the UI: said in words, logged with its traceback, and the till carries on
        with the sale it has (Textual's default ends the app). Before the first screen is up, or after
        MAX_UI_ERRORS, the default applies: the till stops with exit status 1."""
        self.ui_errors += 1
        if not self.is_running or not self.screen_stack or self.ui_errors > MAX_UI_ERRORS:
            super()._handle_exception(error)
            return
        log.error("unexpected error in the till", exc_info=error)
        self.log.error(f"unexpected error: {error!r}")
        if self._completing or self._handover:
            self._completing = False
            self._release_held(sale_done=False)
        try:
            self.show_message(self.tr._("Something went wrong on the till ({kind}: {error}). The sale is kept; "
                                        "carry on, and tell a technician if it happens again (till.log).")
                              .format(kind=type(error).__name__, error=error), ok=False)  # fmt: skip
        except Exception:  # the message line itself is broken: nothing more to say on screen
            log.exception("cannot show the error")

    # messages up ------------------------------------------------------------------------------------------
    @on(Refreshed)
    def refreshed(self, message: Refreshed) -> None:
        before = self.snapshot
        if not self.apply_snapshot(message.snapshot):
            return
        outcome = message.outcome
        if outcome is not None and outcome.kind == "switch_customer" and outcome.customer is not None:
            self._ask_switch_customer(outcome)
            return
        if outcome is not None and outcome.kind == "ask_hub" and outcome.ask_hub is not None:
            self.show_message(outcome.message, ok=True)
            self._ask_hub(*outcome.ask_hub, sale_seq=message.snapshot.sale_seq)
            return
        lost = _coupons_lost(before, message.snapshot, self.tr)
        if outcome is not None:
            text = outcome.message + (f" - {lost}" if lost else "")
            self.show_message(text, ok=outcome.ok and not lost)
            self._say_repeats()
        elif lost:
            self.show_message(lost, ok=False)
        else:
            self._age_message()  # nothing new to say: what was said may be about a sale that is over

    def _ask_switch_customer(self, outcome: Outcome) -> None:
        new = outcome.customer
        current = self.snapshot.customer if self.snapshot else None
        if new is None or current is None:
            return
        self.show_message(outcome.message, ok=False)

        def done(answer: str | None) -> None:
            if answer == "y":
                self.in_session(lambda: self.session.set_customer(new))
            else:
                self.show_message(tr._("Kept {name} on this sale.").format(name=current.display_name), ok=True)

        tr = self.tr
        body = tr._("{current} is on this sale. Switch it to {new} ({tier})? Points redeemed so far are "
                    "cleared.").format(current=current.display_name, new=new.display_name, tier=new.tier)
        self.push_screen(ConfirmScreen(tr._("Another member's card"), body,
                                       {"y": tr._("switch to {name}").format(name=new.display_name),
                                        "n": tr._("keep")}, tr=tr), done)  # fmt: skip

    def _ask_hub(self, kind: str, value: str, sale_seq: int) -> None:
        """Ask the hub about an unknown member in a thread worker (up to ``[hub] lookup_timeout_s``); the sale
        goes on meanwhile, and the answer comes back as ``MemberLookedUp`` for sale ``sale_seq`` (the one the
        card was scanned on: an answer that comes after it is over never lands on the next customer's sale)."""

        def job() -> None:
            self.post_message(MemberLookedUp(self.session.ask_hub(kind, value), sale_seq))

        self.run_worker(job, thread=True, group="lookup", exit_on_error=False)

    @on(MemberLookedUp)
    def member_looked_up(self, message: MemberLookedUp) -> None:
        result, sale_seq = message.result, message.sale_seq
        self.in_session(lambda: self.session.member_from_hub(result, sale_seq))

    @on(SaleCompleted)
    def sale_completed(self, message: SaleCompleted) -> None:
        self._completing = False
        self.apply_snapshot(message.snapshot)
        self._clear_scan_line()
        sale = message.sale
        tr = self.tr
        unused = "".join(" " + tr._("Coupon {code} did not apply and was not used: the customer keeps it.")
                         .format(code=code) for code in sale.unused_coupons)  # fmt: skip
        claim = ""
        if sale.claim_code:
            from edge.core.claims import format_claim_code

            claim = " " + tr._("The receipt carries claim code {code}.").format(code=format_claim_code(sale.claim_code))
        summary = ReceiptSummary(sale.total_cents, message.payment_method, message.tendered_cents,
                                 sale.points_earned if sale.new_balance is not None else None, sale.new_balance,
                                 sale.pending_points, sale.points_redeemed, sale.reward_points)  # fmt: skip
        money = lambda v: format_money(v, self.currency, self.locale)  # noqa: E731
        done = (tr._("Sale complete: {total}, change {change}.").format(total=money(sale.total_cents),
                                                                          change=money(summary.change_cents))
                if summary.change_cents is not None else tr._("Sale complete: {total}.").format(total=money(sale.total_cents)))
        self.show_message(done + unused + claim + " " + tr._("Next customer."), ok=True)  # fmt: skip
        ask = self.settings.till.ask_feedback

        def after(score: int | None) -> None:
            if score is not None:
                self.in_session(lambda: self._feedback(score))

        self.push_screen(ReceiptScreen(sale.receipt, ask, summary, self.currency, self.locale,
                                       next_sale=self._next_sale_from_receipt), after)  # fmt: skip
        self._release_held(sale_done=True)  # what the cashier scanned meanwhile starts the next sale

    def _next_sale_from_receipt(self, text: str) -> None:
        """A code typed or scanned into the receipt's score field (a scanner without the wedge): the next
        customer's first item, never a score."""
        self.in_session(lambda: self.session.scan(text))

    def _feedback(self, score: int) -> Outcome:
        self.session.record_feedback(score)
        return Outcome(True, self.tr._("Thank you! Feedback {score}/10 recorded.").format(score=score))

    @on(SaleFailed)
    def sale_failed(self, message: SaleFailed) -> None:
        self._completing = False
        self.show_message(self.tr._("Sale not completed: {reason}").format(reason=message.reason), ok=False)
        self._release_held(sale_done=False)

    @on(StatusChanged)
    def status_changed(self, message: StatusChanged) -> None:
        # a status posted by a worker before the till screen is mounted is dropped; the next one shows
        with contextlib.suppress(NoMatches):
            self.query_one("#status", StatusBar).update(message.text)

    def apply_snapshot(self, snap: TillSnapshot) -> bool:
        """Show ``snap`` unless a newer one is already shown; True when shown."""
        if snap.version and snap.version < self._applied_version:
            return False
        self._applied_version = max(self._applied_version, snap.version)
        self.snapshot = snap
        self.query_one("#basket", BasketTable).show(snap)
        self.query_one("#totals", TotalsBar).show(snap)
        self.query_one("#customer", CustomerPanel).show(snap)
        self.query_one("#keys", KeyBar).show_state(basket_empty=not snap.settlement.pricing.lines, parked=snap.parked)
        self.query_one("#top", Static).update(self._top_line(snap.parked))
        return True

    def _top_line(self, parked: int) -> str:
        s = self.settings
        words = self.tr._("{store} · till {till}").format(store=s.store.name, till=s.device.id)
        return words + (" · " + self.tr._("{n} parked").format(n=parked) if parked else "")

    def on_resize(self, event: events.Resize) -> None:
        """The customer panel yields space to the basket on narrow terminals and grows on wide ones."""
        width = event.size.width
        panel = 20 if width < 70 else 30 if width < 100 else min(56, width // 3)  # 40 at 120, 56 at 200
        self.query_one("#right").styles.width = panel

    READY = N_("Ready: scan a product or a loyalty card.")  # shown through the store's translator

    def show_message(self, text: str, ok: bool = True, about: tuple[str, object] | None = None) -> None:
        """Say ``text`` in the message line. ``about``: what the message concerns, so that it goes when that
        is over (``_age_message``): ("sale", n) by default - the sale on screen; ("screen", screen) - a
        dialog, until it closes; ("scanner", name) - a scanner's trouble, until it reports again."""
        self._message_said = (text, ok)
        message = self.query_one("#message", Static)
        message.update(escape(text))
        message.set_class(not ok, "error")
        message.set_class(ok, "ok")
        self._message_about = about or ("sale", self.snapshot.sale_seq if self.snapshot else 0)
        if not ok:
            self.bell()

    def _note_repeats(self) -> None:
        """Repeat reads a scanner suppressed (one trigger pull read twice) are said in the message line, after
        the message of the scan they repeat (at once when that one is already shown)."""
        seen = sum(getattr(source, "suppressed", 0) for source in self.scanners)
        if seen > self._repeats_seen:
            self._repeats_unsaid += seen - self._repeats_seen
            self._repeats_seen = seen
            if self._unsettled == 0:
                self._say_repeats()

    def _say_repeats(self) -> None:
        n, self._repeats_unsaid = self._repeats_unsaid, 0
        if n and self.screen_stack and self.screen is self.screen_stack[0]:
            note = self.tr.ngettext("({n} repeat read within {ms} ms ignored)",
                                    "({n} repeat reads within {ms} ms ignored)", n)  # fmt: skip
            text, ok = self._message_said
            about = self._message_about
            self.show_message(f"{text} {note.format(n=n, ms=f'{self.settings.scanner.debounce_ms:g}')}", ok, about)

    def _age_message(self) -> None:
        """Replace the message with the ready line once what it spoke of is over: the sale it was about was
        completed, parked or cleared; the dialog it was about closed."""
        kind, subject = self._message_about
        over = (kind == "sale" and self.snapshot is not None and subject != self.snapshot.sale_seq) or (
            kind == "screen" and not any(subject is screen for screen in self.screen_stack)
        )
        if over:
            self.show_message(self.tr._(self.READY), ok=True)

    def pop_screen(self) -> AwaitComplete:
        """Every dialog closes through here: a message about it goes with it."""
        done = super().pop_screen()
        self._age_message()
        return done

    # the scan line: until a scanner is configured, keyboard input plus Enter acts as the scanner -----------
    @on(Input.Submitted, "#scan")
    def scanned(self, event: Input.Submitted) -> None:
        text = event.value
        event.input.value = ""
        if text.strip():
            self.handle_scan(text)

    def handle_scan(self, text: str) -> None:
        if self._completing:
            self.show_message(self.tr._("Scan ignored: the sale is being completed; scan again for the next "
                                        "customer."), ok=False)  # fmt: skip
            return
        self.in_session(lambda: self.session.scan(text))

    # sync: the worker thread reports; widgets are only touched back on the UI thread -------------------------
    def _sync_status_from_thread(self, status: SyncStatus) -> None:
        self.call_from_thread(self._sync_status, status)

    def _sync_status(self, status: SyncStatus) -> None:
        source = self.status_source
        source.hub = {True: "online", False: "offline", None: "connecting"}[status.online]
        if status.last_error and status.online is not False:
            source.hub = "in trouble"  # it answers, but with 5xx, 429 or garbage: not the same as healthy
        self.session.hub_online = bool(status.online) and not status.last_error
        tr = self.tr
        zone = self.settings.store.formats
        source.last_sync = _short_time(status.last_success_at, zone) if status.last_success_at else "never"
        source.last_error = status.last_error
        source.draining = (tr._("sending {sent}/{backlog}").format(sent=status.sent, backlog=status.backlog)
                           if status.draining else "")  # fmt: skip
        if status.dead:
            command = f"store-edge sync status --data-dir {shlex.quote(str(self.settings.data_dir))}"
            source.last_error = tr.ngettext("{n} event refused by the hub: see '{command}'",
                                            "{n} events refused by the hub: see '{command}'",
                                            status.dead).format(n=status.dead, command=command)  # fmt: skip
        self.refresh_status()
        self.in_session(lambda: None)  # confirmed balances and new offers may have arrived

    # presence: the runner calls these on the app's loop ---------------------------------------------------
    def _beacon_status(self, text: str) -> None:
        self.status_source.beacons = escape(text)
        self.refresh_status()

    def _presence_changed(self) -> None:
        self.in_session(lambda: None)  # re-reads the customer's live personal offers
        from edge.ui.screens.floor import FloorScreen

        if isinstance(self.screen, FloorScreen) and not self.screen.closing:
            self.screen.refresh_data()

    def console_mode(self) -> None:
        """Called by the console theme: the Linux console's fonts lack the status dots."""
        self.status_source.ascii = True
        self.refresh_status()

    def action_floor(self) -> None:
        from edge.ui.screens.floor import FloorScreen  # the presence engine loads when first asked for

        if isinstance(self.screen, FloorScreen):
            return
        presence = self.presence.snapshot if self.presence else None
        self.push_screen(FloorScreen(self.settings.database_path, self.settings, presence=presence))

    def action_devices(self) -> None:
        if not isinstance(self.screen, DevicesScreen):
            self.push_screen(DevicesScreen(self._describe_sources, self._decode_only, self.tr))

    def _describe_sources(self) -> str:
        tr = self.tr
        lines = [tr._("[b]Scanners[/b] (Esc: back to the sale)")]
        for source in self.scanners:
            st = source.status
            suppressed = getattr(source, "suppressed", 0)
            lines.append(f"  {escape(source.name)}: {escape(st.label)} - {escape(st.detail)}")
            lines.append("    " + tr.ngettext(
                "{n} repeat read suppressed (the same code within {ms} ms: one trigger pull)",
                "{n} repeat reads suppressed (the same code within {ms} ms: one trigger pull)",
                suppressed).format(n=suppressed, ms=f"{self.settings.scanner.debounce_ms:g}"))  # fmt: skip
        lines.append(tr._("[b]Beacons[/b]: {status}").format(status=escape(self.status_source.beacons)))
        return "\n".join(lines)

    def _decode_only(self, text: str, aim_id: str | None) -> ScanResult:
        from devices.barcode.decode import decode_scan

        session = self.session
        with session.lock:
            return decode_scan(text, symbology=aim_id, config=session.barcode_config,
                               catalog_lookup=session._catalog_lookup, token_verifier=session._token_verifier())

    # actions ----------------------------------------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        self.query_one("#basket", BasketTable).step(delta)

    def action_customer(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.in_session(lambda: self.session.lookup_customer(text))

        tr = self.tr
        self.push_screen(PromptScreen(tr._("Find customer"), tr._("Scan the card, or type card number, phone or "
                                                                  "e-mail."), accepts_scan=True, tr=tr), done)  # fmt: skip

    def action_find(self) -> None:
        def done(product: Any) -> None:
            if product is not None:
                self.in_session(lambda: self.session.add_product(product))

        self.push_screen(SearchScreen(self.session.search, self.currency, self.locale), done)

    def _selected_line(self) -> tuple[int, str] | None:
        """(line number, "line 3: Whole Milk 1L x2 €2.58") of the highlighted line, or None (said why)."""
        table = self.query_one("#basket", BasketTable)
        line = table.selected_line()
        if line is None:
            self.show_message(self.tr._("The basket is empty: nothing to change."), ok=False)
            return None
        return line, table.describe_line(line)

    def action_quantity(self) -> None:
        selected = self._selected_line()
        if selected is None:
            return
        line, described = selected
        tr = self.tr

        def check(text: str) -> str | None:  # the contract's range for a line (MAX_QTY)
            ok = whole_number(text) is not None and 1 <= int(text) <= MAX_QTY
            return None if ok else tr._("type a quantity from 1 to {max}").format(max=MAX_QTY)

        def done(text: str | None) -> None:
            if text:
                self.in_session(lambda: self.session.set_qty(line, int(text)))

        self.push_screen(PromptScreen(tr._("Quantity for {line}").format(line=described),
                                      tr._("1 to {max}, Enter (Esc: keep).").format(max=MAX_QTY), validate=check, tr=tr), done)  # fmt: skip

    def action_void(self) -> None:
        selected = self._selected_line()
        if selected is None:
            return
        line, described = selected

        def done(answer: str | None) -> None:
            if answer == "y":
                self.in_session(lambda: self.session.void(line))
            else:
                self.show_message(tr._("Kept {line}.").format(line=described), ok=True)

        tr = self.tr
        self.push_screen(ConfirmScreen(tr._("Void a line"), tr._("Void {line}?").format(line=described),
                                       {"y": tr._("void it")}, tr=tr), done)  # fmt: skip

    def action_undo_void(self) -> None:
        """Ctrl+Z: bring back the line voided last on this sale (F5), with its quantity and price."""
        self.in_session(self.session.undo_void)

    def action_points(self) -> None:
        snap = self.snapshot
        if snap is None or snap.customer is None:
            self.show_message(self.tr._("Scan the customer's loyalty card before redeeming points."), ok=False)
            return
        limit = snap.redemption
        tr = self.tr

        def check(text: str) -> str | None:
            """The dialog stays open on a figure the session would refuse, and says the limit (as F4 does)."""
            if whole_number(text) is None:
                return tr._("type a whole number of points (0 to remove)")
            problem = check_redemption(int(text), limit, self.session.rules, tr)
            return (tr._("{problem}: type up to {n}, or 0 to remove").format(problem=problem, n=limit.max_points)
                    if problem else None)

        def done(text: str | None) -> None:
            if text is not None and text.strip():
                self.in_session(lambda: self.session.redeem(int(text)))

        hint = tr._("Available {available}; up to {max} now ({reason}).").format(
            available=snap.customer.balance.available, max=limit.max_points, reason=limit.reason)
        self.push_screen(PromptScreen(tr._("Redeem points"), hint, validate=check, tr=tr), done)

    def action_reward(self) -> None:
        """Ctrl+R: pick a reward from the catalogue for the member on the sale, confirm, claim (a worker)."""
        tr = self.session.sales.formats.tr
        snap = self.snapshot
        if snap is None or snap.customer is None:
            self.show_message(tr._("Scan the member's loyalty card before claiming a reward."), ok=False)
            return
        available = snap.customer.balance.available

        def confirmed(answer: str | None, reward_id: str) -> None:
            if answer == "y":
                self.in_session(lambda: self.session.claim_reward(reward_id))

        def show(rewards: list[Reward]) -> None:
            if len(self.screen_stack) > 1 or self._completing:
                return  # another dialog opened (or a second Ctrl+R's catalogue) while this one was read
            texts = {"title": tr._("Rewards ({available} points available)").format(available=available),
                     "hint": tr._("Up/Down to choose, Enter to claim, Esc to go back."),
                     "short": tr._("not enough points"), "none": tr._("No rewards have reached this till yet.")}
            self.push_screen(RewardScreen(rewards, available, texts, tr=tr), lambda rid: picked(rid, rewards))

        def picked(reward_id: str | None, rewards: list[Reward]) -> None:
            reward = next((r for r in rewards if r.id == reward_id), None)
            if reward is None:
                return
            body = tr._("Claim {reward} for {points} points? The member has {available}.").format(
                reward=reward.name, points=reward.points, available=available)
            self.push_screen(ConfirmScreen(tr._("Claim a reward"), body, {"y": tr._("claim it")}, tr=tr),
                             lambda answer: confirmed(answer, reward.id))

        def load() -> None:  # the catalogue is read off the UI thread
            rewards = self.session.rewards()
            self.call_from_thread(show, rewards)

        self.run_worker(load, thread=True, group="rewards", exclusive=True, exit_on_error=False)

    def action_coupon(self) -> None:
        def done(code: str | None) -> None:
            if code:
                self.in_session(lambda: self.session.apply_coupon(code))

        tr = self.tr
        self.push_screen(PromptScreen(tr._("Coupon code"), tr._("Type or scan the coupon code."), accepts_scan=True,
                                      tr=tr), done)  # fmt: skip

    def action_pay(self) -> None:
        snap = self.snapshot
        if snap is None or not snap.settlement.pricing.lines:
            self.show_message(self.tr._("The basket is empty: scan a product first."), ok=False)
            return

        def done(choice: tuple[str, int | None] | None) -> None:
            if choice is not None:
                self.complete_sale(*choice)

        def answered() -> None:
            self._handover = True  # from now until the receipt is up, typing and scans wait for the next sale

        self.push_screen(PayScreen(snap.settlement.amount_due_cents, self.currency, self.locale, answered), done)

    def complete_sale(self, method: str, tendered: int | None) -> None:
        if self._completing:
            return
        self._completing = True
        ticket = self.commands.ticket()

        def step() -> None:
            try:
                sale = self.session.complete(method, tendered)
            except SaleError as exc:
                self.post_message(SaleFailed(str(exc)))
                return
            self.post_message(SaleCompleted(sale, take_snapshot(self.session, ticket), method, tendered))
            self.post_message(StatusChanged(format_status(self.status_source.read(), self.tr)))
            if self.sync_worker is not None:
                self.sync_worker.trigger()  # push the sale now rather than at the next interval

        self.run_worker(lambda: self.commands.run(ticket, step), thread=True, group="session", exit_on_error=False)

    def _basket_words(self) -> str | None:
        """"3 items, €12.40" for a basket with lines, None for an empty one."""
        snap = self.snapshot
        if snap is None or not snap.settlement.pricing.lines:
            return None
        items = sum(p.line.qty for p in snap.settlement.pricing.lines)
        money = format_money(snap.settlement.amount_due_cents, self.currency, self.locale)
        return self.tr.ngettext("{n} item, {total}", "{n} items, {total}", items).format(n=items, total=money)

    def action_new_sale(self) -> None:
        tr = self.tr

        def clear() -> Outcome:
            self.session.new_sale()
            return Outcome(True, tr._("New sale (guest). Scan a loyalty card to add a customer."))

        basket = self._basket_words()
        if basket is None:
            self._clear_scan_line()
            self.in_session(clear)
            return

        def done(answer: str | None) -> None:
            if answer == "y":
                self._clear_scan_line()
                self.in_session(clear)
            elif answer == "p":
                self.in_session(self.session.park)
            else:
                self.show_message(tr._("The basket is kept."), ok=True)

        self.push_screen(ConfirmScreen(tr._("Start a new sale?"), tr._("The basket ({basket}) is not paid.")
                                       .format(basket=basket), {"p": tr._("park it"), "y": tr._("discard it")},
                                       tr=tr), done)  # fmt: skip

    def _clear_scan_line(self) -> None:
        """A new sale starts with an empty scan line: nothing half-typed carries over to the next customer."""
        self.query_one("#scan", Input).value = ""

    async def action_quit(self) -> None:
        """Ctrl+Q: with an unpaid basket, ask first (park it, discard it, or stay)."""
        if isinstance(self.screen, ConfirmScreen) and self.screen.purpose == "quit":
            return
        basket = self._basket_words()
        if basket is None:
            self.exit()
            return

        def done(answer: str | None) -> None:
            if answer == "y":
                self.exit()
            elif answer == "p":
                self.in_session(self.session.park)
                self.call_after_refresh(self._exit_when_idle)
            else:
                self.show_message(tr._("Not quitting: the basket is kept."), ok=True)

        tr = self.tr
        self.push_screen(ConfirmScreen(tr._("Quit the till?"), tr._("The basket ({basket}) is not paid.")
                                       .format(basket=basket), {"p": tr._("park it and quit"),
                                                                "y": tr._("quit and discard it")},
                                       purpose="quit", tr=tr), done)  # fmt: skip

    async def _exit_when_idle(self) -> None:
        await self.workers.wait_for_complete([w for w in self.workers if w.group == "session"])
        self.exit()

    def action_park(self) -> None:
        """F12: park the basket; on an empty basket, recall a parked sale. Decided in the key's turn among the
        session's commands, on the basket as it is then (a second F12 right after one that parked finds it
        empty and lists the parked sales, whatever the screen still showed)."""

        def park_or_list() -> Outcome | None:
            if not self.session.basket.is_empty:
                return self.session.park()
            parked = self.session.parked()
            self.call_from_thread(self._show_parked, parked)
            return None

        self.in_session(park_or_list)

    def _show_parked(self, parked: list) -> None:
        if not parked:
            self.show_message(self.tr._("No parked sales. F12 with items in the basket parks them."), ok=False)
            return
        if len(self.screen_stack) > 1:
            return

        def done(parked_id: str | None) -> None:
            if parked_id:
                self.in_session(lambda: self.session.recall(parked_id))

        self.push_screen(RecallScreen(parked, self.currency, self.locale, self.settings.store.timezone), done)


def _warm_up() -> None:
    """Load the barcode decoder (all of biip) after the first screen is up, so the first scan is quick."""
    import devices.barcode.decode  # noqa: F401
    import devices.barcode.loyalty_token  # noqa: F401


def _short_time(iso: str, formats: Formats) -> str:
    """An ISO time from the sync client as ``HH:MM:SS`` in the store's time zone (not the box's)."""
    try:
        return formats.local(datetime.fromisoformat(iso.replace("Z", "+00:00"))).strftime("%H:%M:%S")
    except ValueError:
        return iso


def _coupons_lost(before: TillSnapshot | None, after: TillSnapshot, tr: Translator) -> str:
    """A sentence when a coupon that gave a discount a moment ago no longer does (its condition stopped being
    met); "" otherwise."""
    if before is None:
        return ""
    given_before = {d.offer_id for d in before.settlement.pricing.discounts}
    lost = [
        tr._("coupon {code} no longer applies: {need}").format(code=code, need=need)
        for code, need in after.unmet_coupons
        if before.coupon_offers.get(code) in given_before
    ]
    return "; ".join(lost)


def till_log(settings: Settings) -> logging.Handler | None:
    """Send the till's warnings and errors (with tracebacks) to ``<data dir>/till.log`` (rotated, 3 x 1 MB):
    while the till runs, Textual owns the terminal and anything written to stderr is lost. None when the
    file cannot be opened (the till still runs)."""
    from logging.handlers import RotatingFileHandler

    path = settings.data_dir / "till.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("edge").addHandler(handler)
    return handler


def run_till(settings: Settings) -> int:
    """Run the till until the cashier quits: the exit status (0, or 1 after an error that stopped it)."""
    handler = till_log(settings)
    try:
        app = make_app(settings)
        app.run()
        return app.return_code or 0
    finally:
        if handler is not None:
            logging.getLogger("edge").removeHandler(handler)
            handler.close()


def with_hub_store(settings: Settings, db: Any) -> Settings:
    """``settings`` with the store's locale, currency and time zone the hub sent (``sync.apply``'s
    ``store_profile``), the configured ``[store]`` values where the hub said nothing (or before its first pull);
    the name stays the configured one (a hub store made without ``--name`` is called by its id).
    Read at start: a change from the hub shows from the till's next start."""
    from dataclasses import replace

    from sync.apply import store_profile

    hub = {k: v for k, v in store_profile(db).items() if k in ("locale", "currency", "timezone")}
    if not hub:
        return settings
    try:
        return settings.replace(store=replace(settings.store, **hub))
    except ValueError as exc:  # checked when pulled; a value this version cannot use keeps the settings
        log.warning("the hub's store settings are not usable here (%s); the configured ones are used", exc)
        return settings


def make_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    status: StatusSource | None = None,
    sync: bool = True,
    presence: PresenceRunner | None = None,
) -> TillApp:
    """Open the database named by ``settings`` and build the till around it.

    With ``sync`` and an enrolled device (a credential in the data dir), the sync worker runs inside the till.
    ``presence``: a presence runner to use instead of the one ``settings`` ask for (tests inject their own).
    """
    db = open_database(settings.database_path)
    settings = with_hub_store(settings, db)
    session = TillSession(settings, db, clock=clock)
    worker = None
    if sync and credentials.credential_path(settings.data_dir).exists():
        try:
            credential = credentials.load(settings.data_dir)
        except credentials.CredentialError as exc:
            raise ConfigError(str(credentials.credential_path(settings.data_dir)), "credential", str(exc)) from None
        from sync.client import SyncClient, SyncWorker
        from sync.lookup import MemberLookup

        worker = SyncWorker(SyncClient(lambda: open_database(settings.database_path), credential, settings.hub))
        session.member_lookup = MemberLookup(credential, settings.hub)
    return TillApp(settings, session, status, worker, presence)
