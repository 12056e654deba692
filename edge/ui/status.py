"""What the status bar says: hub, outbox, last sync, scanner and beacons, each in plain words."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape

from edge.clock import warning_for
from edge.core.i18n import ENGLISH, N_, Translator
from edge.session import TillSession


@dataclass(frozen=True)
class StatusInfo:
    hub: str  # "online" | "offline" | "not configured"
    pending: int
    last_sync: str  # "never" or a time
    last_error: str | None
    scanner: str
    beacons: str
    draining: str = ""
    ascii: bool = False
    clock_warning: str | None = None  # edge.clock: the device clock is off


class StatusSource:
    """Reads the status parts. Sync, scanner and beacon services replace the placeholders when running."""

    def __init__(self, session: TillSession) -> None:
        self.session = session
        self.hub = "none" if not session.settings.hub.url else "offline"
        self.last_sync = "never"
        self.last_error: str | None = None
        # placeholders, said as such, until a scanner or beacon service reports
        self.scanner = "keyboard only"
        self.beacons = "not set up"
        self.draining = ""
        self.ascii = False  # the Linux console's fonts lack the dots

    def read(self) -> StatusInfo:
        return StatusInfo(
            hub=self.hub,
            pending=self.session.pending_events(),
            last_sync=self.last_sync,
            last_error=self.last_error,
            scanner=self.scanner,
            beacons=self.beacons,
            draining=self.draining,
            ascii=self.ascii,
            clock_warning=warning_for(self.session.clock, self.session.tr),
        )


# the status words the sources set (English, the keys of the dots), as the status bar says them
_WORDS = {"online": N_("online"), "offline": N_("offline"), "in trouble": N_("in trouble"), "none": N_("none"),
          "connecting": N_("connecting"), "never": N_("never"), "keyboard only": N_("keyboard only"),
          "not set up": N_("not set up"), "ready": N_("ready"), "connected": N_("connected"),
          "disconnected": N_("disconnected"), "idle": N_("idle"), "stopped": N_("stopped"),  # scanner labels
          "replay finished": N_("replay finished"), "scan restarting": N_("scan restarting")}


def format_status(info: StatusInfo, tr: Translator = ENGLISH) -> str:
    """The status bar's one line (Rich markup) in ``tr``'s language: hub, outbox, last sync, scanner, BLE."""
    word = lambda text: tr._(_WORDS[text]) if text in _WORDS else text  # noqa: E731
    if info.ascii:
        dot = {"online": "[green]*[/green]", "offline": "[red]![/red]", "in trouble": "[yellow]![/yellow]"}.get(
            info.hub, "-"
        )
    else:
        dot = {"online": "[green]●[/green]", "offline": "[red]●[/red]", "in trouble": "[yellow]●[/yellow]"}.get(
            info.hub, "○"
        )
    parts = [
        f"{dot} " + tr._("Hub {state}").format(state=word(info.hub)),
        tr._("{n} to sync").format(n=info.pending) + (f" ({info.draining})" if info.draining else ""),
        tr._("sync {when}").format(when=word(info.last_sync)),
        tr._("Scan: {scanner}").format(scanner=word(info.scanner)),
        tr._("BLE: {state}").format(state=word(info.beacons)),
    ]
    # trouble goes next to the hub, where a status bar of 80 columns (two lines) still shows all of it; the
    # routine parts after it give way first
    if info.last_error:
        parts.insert(1, f"[red]{escape(info.last_error)}[/red]")
    if info.clock_warning:
        parts.insert(1, f"[yellow]{escape(info.clock_warning)}[/yellow]")
    return " · ".join(parts)
