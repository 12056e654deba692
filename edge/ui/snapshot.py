"""What the till shows, read in a worker thread and handed to the UI as one immutable value."""

from __future__ import annotations

from dataclasses import dataclass

from edge.core.loyalty import RedemptionLimit, Settlement
from edge.core.offers import Offer
from edge.session import TillSession
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


def take_snapshot(session: TillSession) -> TillSnapshot:
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
        )
