"""What the till shows, read in a worker thread and handed to the UI as one immutable value."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.core.loyalty import RedemptionLimit, Settlement
from edge.core.offers import Offer
from edge.session import PointsView, TillSession
from edge.store.records import Customer


@dataclass(frozen=True)
class TillSnapshot:
    settlement: Settlement
    customer: Customer | None
    coupons: tuple[dict, ...]
    personal_offers: tuple[Offer, ...]
    redemption: RedemptionLimit
    basket_coupons: tuple[str, ...]
    pending_events: int
    hub_online: bool
    next_tier: tuple[str, int] | None = None  # the tier above and the spend still needed for it
    coupon_offers: dict[str, str] = field(default_factory=dict)  # code in the basket -> offer id
    unmet_coupons: tuple[tuple[str, str], ...] = ()  # (code, what it needs) for coupons giving nothing now
    points_reason: str = ""  # why the sale earns what it earns
    focus_line: int | None = None  # the line the cashier last touched
    focus_seq: int = 0  # changes whenever the session moves the focus (a scan, a quantity, a void)
    parked: int = 0  # parked sales waiting on this till
    version: int = 0  # the command that produced it: an older snapshot never replaces a newer one
    points: PointsView | None = None  # earned, spent, balance and the next expiry of the member
    sale_seq: int = 0  # which sale of the till's run it shows (TillSession.sale_seq)


def take_snapshot(session: TillSession, version: int = 0) -> TillSnapshot:
    with session.lock:
        session.refresh_customer()
        settlement = session.settlement()  # priced once, for the screen and the redemption limit alike
        return TillSnapshot(
            settlement=settlement,
            customer=session.customer,
            coupons=tuple(session.coupons()),
            personal_offers=tuple(session.personal_offers()),
            redemption=session.redemption_limit(settlement.pricing.total_cents),
            basket_coupons=tuple(sorted(session.basket.coupons)),
            pending_events=session.pending_events(),
            hub_online=session.hub_online,
            next_tier=session.next_tier(),
            coupon_offers=dict(session.basket.coupons),
            unmet_coupons=tuple(session.unmet_coupons(settlement)),
            points_reason=session.points_reason(settlement),
            focus_line=session.focus_line,
            focus_seq=session.focus_seq,
            parked=session.parked_count(),
            version=version,
            points=session.points_view(),
            sale_seq=session.sale_seq,
        )
