"""Every message the till's workers post back to the UI, in one module."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from edge.session import Outcome
from edge.store.sales import CompletedSale
from edge.ui.snapshot import TillSnapshot
from sync.lookup import LookupResult


@dataclass
class Refreshed(Message):
    """The session changed (or was re-read); ``outcome`` is what the cashier's last action did."""

    snapshot: TillSnapshot
    outcome: Outcome | None = None


@dataclass
class SaleCompleted(Message):
    """The sale is recorded; ``payment_method`` and ``tendered_cents`` as the cashier entered them."""

    sale: CompletedSale
    snapshot: TillSnapshot
    payment_method: str = "card"
    tendered_cents: int | None = None


@dataclass
class SaleFailed(Message):
    reason: str


@dataclass
class StatusChanged(Message):
    """Sync/scanner/beacon state for the status bar. High rate: a newer one replaces a queued older one."""

    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusChanged)


class SessionSettled(Message):
    """One session command given through ``in_session`` ended (its snapshot, if any, was posted first)."""


@dataclass
class ScanArrived(Message):
    """A scanner (serial, evdev or keyboard wedge) delivered one scan."""

    text: str
    aim_id: str | None
    source: str
    received_at: float


@dataclass
class MemberLookedUp(Message):
    """The hub answered (or could not be asked) who an unknown card, phone, e-mail or app code belongs to;
    ``sale_seq``: the sale (``TillSession.sale_seq``) the code was scanned on."""

    result: LookupResult
    sale_seq: int | None = None
