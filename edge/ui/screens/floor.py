"""The floor screen: who is in the store now (with live offers) and presence analytics as bars.

All reading happens in a thread worker on the screen's own read-only connection; the worker posts one
:class:`FloorLoaded` message with everything the widgets show. Who is *present* lives in the presence
runner's memory, not the database, so the till hands the runner's thread-safe ``snapshot`` in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import sqlite_utils
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static, TabbedContent, TabPane

from edge.core.i18n import N_
from edge.core.presence_offers import RuleError, store_timezone
from edge.db import open_database
from edge.settings import Settings
from edge.store.presence_store import floor_analytics, live_offers
from edge.ui.errors import KeepsRunning
from edge.ui.texts import translate_bindings

REFRESH_S = 2.0
HOURS = 24  # the analytics window and the sparkline's length
BAR_WIDTH = 14
PresenceSnapshotFn = Callable[[], Any]  # edge.presence_runner.PresenceRunner.snapshot


@dataclass(frozen=True)
class FloorRow:
    name: str
    tier: str
    zones: str
    since: str  # local HH:MM
    dwell: str
    offers: list[tuple[str, str]]  # (offer name, valid until local HH:MM)


@dataclass(frozen=True)
class FloorData:
    headline: str
    detail: str = ""  # the BLE source's full sentence when it says more than the headline
    rows: list[FloorRow] = field(default_factory=list)
    zone_visits: dict[str, int] = field(default_factory=dict)
    dwell: dict[str, int] = field(default_factory=dict)  # bucket label -> visits, all zones together
    hourly: list[int] = field(default_factory=list)
    offers_issued: int = 0
    offers_converted: int = 0
    conversion_rate: float | None = None
    anonymous: dict[str, int] = field(default_factory=dict)  # closed hours in the window, per zone
    anonymous_now: dict[str, int] = field(default_factory=dict)  # the hour in progress (runner memory)
    problem: str | None = None
    in_progress: int = 0  # visits counted above that are still going (customers in the store now)


@dataclass
class FloorLoaded(Message):
    data: FloorData


def bars(items: Sequence[tuple[str, int]], width: int = BAR_WIDTH, label_width: int = 9) -> Text:
    """Horizontal bars scaled to the largest value, each line ``label  ████░░░  count``."""
    out = Text()
    top = max((v for _, v in items), default=0)
    for i, (label, value) in enumerate(items):
        filled = round(width * value / top) if top else 0
        if value and not filled:
            filled = 1  # a non-zero count never looks like zero
        if i:
            out.append("\n")
        out.append(f"{label[:label_width]:<{label_width}} ")
        out.append("█" * filled, style="bold green")
        out.append("░" * (width - filled), style="dim")
        out.append(f" {value}")
    return out


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _dwell_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


class FloorScreen(KeepsRunning, Screen[None]):
    DEFAULT_CSS = """
    FloorScreen #floor-head { height: 1; padding: 0 1; background: $primary; color: $text; text-style: bold; }
    FloorScreen TabbedContent { height: 1fr; }
    FloorScreen TabPane { padding: 0; }
    FloorScreen #present-note { height: auto; padding: 0 1; color: $text-muted; }
    FloorScreen #present-note.problem { color: $error; }
    FloorScreen #present { height: 1fr; }
    FloorScreen .pair { height: auto; }
    FloorScreen .chart { width: 1fr; height: auto; padding: 0 1; }
    FloorScreen .chart-title { text-style: bold; }
    FloorScreen #hourly { height: 2; margin: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "close", N_("Back")),
        Binding("n", "show_tab('present-tab')", N_("In store")),
        Binding("a", "show_tab('analytics-tab')", N_("Analytics")),
    ]

    def __init__(
        self,
        db_path: Path,
        settings: Settings,
        presence: PresenceSnapshotFn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.tr = settings.store.formats.tr  # the store's language
        translate_bindings(self, self.tr)
        self.db_path = Path(db_path)
        self.settings = settings
        self.presence = presence
        self.clock = clock
        try:
            self.tz: tzinfo = store_timezone(settings.store.timezone)
        except RuleError:
            self.tz = UTC
        self.data: FloorData | None = None
        self._db: sqlite_utils.Database | None = None
        self._db_lock = threading.Lock()  # an exclusive thread worker may still run when the next starts
        self._closed = False
        self.closing = False  # Escape pressed: the screen ignores further keys while it goes

    def compose(self) -> ComposeResult:
        tr = self.tr
        yield Static(tr._("Floor: loading…"), id="floor-head")
        with TabbedContent(initial="present-tab"):
            with TabPane(tr._("In store now"), id="present-tab"):
                yield Static("", id="present-note")
                yield DataTable(id="present", cursor_type="row", zebra_stripes=True)
            with TabPane(tr._("Analytics"), id="analytics-tab"), VerticalScroll():
                with Horizontal(classes="pair"):
                    yield Static("", id="visits-bars", classes="chart")
                    yield Static("", id="dwell-bars", classes="chart")
                yield Static("", id="hourly-title", classes="chart")
                yield Sparkline([], id="hourly")
                with Horizontal(classes="pair"):
                    yield Static("", id="offers-bars", classes="chart")
                    yield Static("", id="anonymous-bars", classes="chart")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#present", DataTable)
        for label, key, width in (
            (N_("Customer"), "name", 13), (N_("Tier"), "tier", 6), (N_("Zone"), "zone", 6), (N_("Since"), "since", 5),
            (N_("Dwell"), "dwell", 5), (N_("Live offer (until)"), "offers", 31),
        ):  # fmt: skip
            table.add_column(self.tr._(label), key=key, width=width)
        self.refresh_data()
        self.set_interval(REFRESH_S, self.refresh_data)

    def on_unmount(self) -> None:
        self._closed = True
        # never wait on a worker here: if one holds the connection it closes it when done
        if self._db_lock.acquire(blocking=False):
            try:
                self._close_db()
            finally:
                self._db_lock.release()

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- actions ----------------------------------------------------------------------------------

    def action_close(self) -> None:
        if self.closing or self.app.screen is not self:
            return
        self.closing = True
        self.app.pop_screen()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def refresh_data(self) -> None:
        """Re-read in the background; the till also calls this when the presence runner reports a change."""
        if not self._closed:
            self.load()

    # -- reading (worker thread) ------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="floor")
    def load(self) -> None:
        with self._db_lock:
            try:
                data = self.read()
            except Exception as exc:  # the screen says what is wrong instead of dying
                data = FloorData(
                    self.tr._("Floor: cannot read the store database"),
                    problem=self.tr._("Cannot read presence data: {error}").format(error=exc),
                )
            finally:
                if self._closed:
                    self._close_db()
        if not self._closed:
            self.post_message(FloorLoaded(data))

    def read(self) -> FloorData:
        if self._db is None:
            self._db = open_database(self.db_path, migrate=False, readonly=True)
        db = self._db
        now = datetime.fromtimestamp(self.clock(), UTC)
        snap = self.presence() if self.presence is not None else None
        rows: list[FloorRow] = []
        detail = ""
        anonymous_now: dict[str, int] = {}
        if snap is None:
            headline = self.tr._("Presence is off: set [ble] enabled = true, or a replay file")
        else:
            for p in snap.present:
                since = _parse(p["since"])
                # re-read, not the snapshot's copy: an offer may have expired or been used since
                offers = [
                    (str(o["name"]), _parse(o["valid_until"]).astimezone(self.tz).strftime("%H:%M"))
                    for o in live_offers(db, p["customer_id"], now)
                ]
                rows.append(
                    FloorRow(
                        str(p.get("display_name") or p["customer_id"]),
                        str(p.get("tier") or "-"),
                        ", ".join(p.get("zones") or ()) or "-",
                        since.astimezone(self.tz).strftime("%H:%M"),
                        _dwell_text((now - since).total_seconds()),
                        offers,
                    )
                )
            anonymous_now = dict(snap.anonymous_now)
            headline = self.tr._("Floor: {n} in store · BLE: {status}").format(n=len(rows), status=snap.status)
            detail = snap.detail if snap.detail and snap.detail != snap.status else ""
            if snap.adverts_dropped:
                headline += " · " + self.tr._("{n} adverts dropped (busy)").format(n=snap.adverts_dropped)
        present = snap.present if snap is not None else ()
        view = floor_analytics(db, now, HOURS, present)
        return FloorData(
            headline=headline,
            detail=detail,
            rows=rows,
            zone_visits=view.zone_visits,
            dwell=view.dwell,
            hourly=view.hourly,
            offers_issued=view.offers_issued,
            offers_converted=view.offers_converted,
            conversion_rate=view.conversion_rate,
            anonymous=view.anonymous,
            anonymous_now=anonymous_now,
            in_progress=view.in_progress,
        )

    # -- showing (UI thread) ----------------------------------------------------------------------

    @on(FloorLoaded)
    def loaded(self, message: FloorLoaded) -> None:
        message.stop()
        data = self.data = message.data
        self.query_one("#floor-head", Static).update(Text(data.headline))
        self._show_present(data)
        self._show_analytics(data)

    def _show_present(self, data: FloorData) -> None:
        note = self.query_one("#present-note", Static)
        note.set_class(data.problem is not None, "problem")
        lines = [data.problem] if data.problem else []
        if data.detail:
            lines.append(f"BLE: {data.detail}")
        if not data.rows and not data.problem:
            lines.append(self.tr._("Nobody with location consent is in the store right now."))
        note.update(Text("\n".join(lines)))
        note.display = bool(lines)
        table = self.query_one("#present", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in data.rows:
            offers = row.offers or [("-", "")]
            for i, (name, until) in enumerate(offers):
                offer = Text(f"{name} ({until})" if until else name, style="yellow" if until else "")
                if i == 0:
                    table.add_row(row.name, row.tier, row.zones, row.since, row.dwell, offer)
                else:
                    table.add_row("", "", "", "", "", offer)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def _show_analytics(self, data: FloorData) -> None:
        tr = self.tr
        now = ", " + tr._("{n} still in store").format(n=data.in_progress) if data.in_progress else ""
        visits = Text(tr._("Zone visits (24 h{now})").format(now=now) + "\n", style="bold")
        visits.append_text(
            bars(sorted(data.zone_visits.items())) if data.zone_visits else Text(tr._("no visits yet"))
        )
        self.query_one("#visits-bars", Static).update(visits)
        dwell = Text(tr._("Dwell time") + "\n", style="bold")
        dwell.append_text(bars(list(data.dwell.items())) if data.dwell else Text(tr._("no visits yet")))
        self.query_one("#dwell-bars", Static).update(dwell)
        total = sum(data.hourly)
        self.query_one("#hourly-title", Static).update(
            Text(
                tr._("Visits started per hour, last {hours} h (total {total}, peak {peak})").format(
                    hours=HOURS, total=total, peak=max(data.hourly, default=0)),
                style="bold",
            )
        )
        self.query_one("#hourly", Sparkline).data = [float(v) for v in data.hourly]
        rate = "-" if data.conversion_rate is None else f"{data.conversion_rate:.0%}"
        offers = Text(tr._("Offers (conversion {rate})").format(rate=rate) + "\n", style="bold")
        offers.append_text(bars([(tr._("issued"), data.offers_issued), (tr._("converted"), data.offers_converted)]))
        self.query_one("#offers-bars", Static).update(offers)
        zones = sorted(set(data.anonymous) | set(data.anonymous_now))
        anonymous = Text(tr._("Anonymous devices") + "\n", style="bold")
        if zones:
            items = [(tr._("{zone} now").format(zone=z), data.anonymous_now.get(z, 0))
                     for z in zones if z in data.anonymous_now]  # fmt: skip
            items += [(f"{z} 24h", data.anonymous.get(z, 0)) for z in zones if z in data.anonymous]
            anonymous.append_text(bars(items))
        else:
            anonymous.append(tr._("none counted yet"))
        self.query_one("#anonymous-bars", Static).update(anonymous)


__all__ = ["FloorData", "FloorLoaded", "FloorScreen", "bars"]
