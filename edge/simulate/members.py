"""The members' part of the simulated day (issue 15 item 9): members who shop in two stores and online.

Eight members (``MEMBERS``) belong to ``store-1`` only: ``store-2`` is never sent them at set-up. Their day:

- **Two stores**: ``till-2`` is given their card numbers (``--visitor-cards``); at evenly spaced sales it scans
  the next one, finds it unknown, asks the hub through the till's own look-up path (``TillSession.ask_hub``,
  ``sync.lookup``) and sells to the member it names; an unreachable hub means a guest sale and the member
  comes back at the next sale. ``till-1`` sells to them like to any member of its store.
- **Online**: web/app orders (``WEB-MEM-*``) that earn and burn, partial returns of two of them, a cancel, and
  one large order that takes ``GOLD_MEMBER`` past the Gold threshold (an upgrade applies at once; a later
  partial return does not downgrade: that waits for the programme's review).
- **Expiry**: each member gets three opening lots through ``sync.hub.ledger.post_points(at=...)``: one earned
  24 months before tonight (it expires in ``EXPIRES_IN``, after the hub's own start-up jobs, which run at
  ``hub serve``'s start and restart and must leave it alone), one ``KEPT_MONTHS`` ago and a recent one. Mid-day
  the orchestrator runs tonight's jobs early (``HubStorage.run_jobs(now + JOBS_AHEAD)``): they expire what is
  left of the old lots (FIFO burns may have taken some first) and evaluate every member's tier.

Every step is idempotent (orders by id, returns by return id, cancel, the jobs), so a step the hub did not answer
(the hub is killed mid-day) is retried at the close. ``edge.simulate.reconcile`` reconciles the outcome.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from edge.core.programme import add_months, iso
from edge.demo.seed import demo_card, demo_dataset
from edge.simulate.common import STORE_1
from sync.hub.storage import HubStorage

MEMBERS = tuple(f"C9{n:03d}" for n in range(1, 9))
GOLD_MEMBER = MEMBERS[3]
GOLD_SPEND_CENTS = 170_000  # the large order's catalogue value: past Gold (150,000) whatever its discounts
EXPIRY_MONTHS = 24  # the programme's default expiry (edge.core.programme.ProgrammeRules.expiry_months)
EXPIRES_IN = timedelta(hours=12)  # the old lots expire tonight
JOBS_AHEAD = timedelta(days=1)  # the mid-day run is tonight's, run early
KEPT_MONTHS = 23  # a lot inside the expiry period: the run must leave it
BURN = 200  # points the earn-and-burn orders spend


def opening_entry(cid: str, label: str) -> str:
    """The ledger entry id (= lot id) of a member's opening lot ``label`` (OLD, KEPT, NEW)."""
    return f"SIM-OPEN-{label}-{cid}"


@dataclass
class MemberPlan:
    """The members' steps for one day. ``at`` of each step is a fraction of the trading time."""

    seed: int
    steps: list[tuple[float, str, tuple[Any, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        m = MEMBERS
        self.steps = [
            (0.10, "order", ("WEB-MEM-0001", m[0], BURN, None)),
            (0.15, "order", ("WEB-MEM-0002", m[1], BURN, STORE_1)),
            (0.20, "order", ("WEB-MEM-0003", m[2], BURN, None)),
            (0.30, "expiry_run", ()),
            (0.35, "return", ("WEB-MEM-0001", "R1", 1)),
            (0.40, "gold_order", ("WEB-MEM-0004", GOLD_MEMBER)),
            (0.50, "cancel", ("WEB-MEM-0003",)),
            (0.55, "return", ("WEB-MEM-0002", "R1", 1)),
            (0.62, "return", ("WEB-MEM-0004", "R1", 2)),
            *((0.65 + 0.04 * k, "order", (f"WEB-MEM-{k + 5:04d}", m[4 + k], 0, STORE_1)) for k in range(4)),
        ]

    def lines(self, order_id: str) -> list[dict[str, Any]]:
        """Three catalogue lines of 2 or 3 units (a unit of line 1 can be returned and some stay)."""
        products = sorted(demo_dataset(self.seed)["products"], key=lambda p: p["gtin"])
        start = int(order_id.rsplit("-", 1)[1]) * 7
        return [{"line_no": n, "gtin": p["gtin"], "qty": 2 + (n % 2), "unit_price_cents": p["price_cents"]}
                for n, p in enumerate(products[start : start + 3], start=1)]

    def gold_lines(self) -> list[dict[str, Any]]:
        """The large order: the three dearest products, enough units for ``GOLD_SPEND_CENTS``."""
        dear = sorted(demo_dataset(self.seed)["products"], key=lambda p: (-p["price_cents"], p["gtin"]))[:3]
        qty = math.ceil(GOLD_SPEND_CENTS / sum(p["price_cents"] for p in dear))
        return [{"line_no": n, "gtin": p["gtin"], "qty": qty, "unit_price_cents": p["price_cents"]}
                for n, p in enumerate(dear, start=1)]


def seed_members(storage: HubStorage, now: datetime) -> None:
    """Create the members in ``store-1`` (their home store, so only it holds them) with their opening lots,
    each through ``post_points`` dated when it was earned. Before the devices enrol."""
    from sync.hub import members
    from sync.hub.ledger import post_points

    for n, cid in enumerate(MEMBERS, start=1):
        storage.upsert_customer({"id": cid, "display_name": f"Two-Store Member {n}", "card_number": demo_card(3000 + n),
                                 "tier": "Bronze", "home_store_id": STORE_1})
    with storage.db.write() as conn:
        opening = (("OLD", 150, add_months(now + EXPIRES_IN, -EXPIRY_MONTHS)),
                   ("KEPT", 100, add_months(now, -KEPT_MONTHS)), ("NEW", 1_000, add_months(now, -1)))
        for cid in MEMBERS:
            for label, points, at in opening:
                post_points(conn, customer_id=cid, points=points, reason="opening balance",
                            source="admin:simulation", entry_id=opening_entry(cid, label), at=iso(at),
                            device_id="admin", event_id="admin")
            members.customer_changed(conn, cid)


def visitor_cards() -> list[str]:
    """The members' card numbers, in the order ``till-2`` meets them."""
    return [demo_card(3000 + n) for n in range(1, len(MEMBERS) + 1)]


Post = Callable[[str, dict[str, Any]], "httpx.Response | None"]


class MemberDay:
    """Runs the plan's steps against the hub (``post``: the orchestrator's API-key POST) and records what
    happened in ``record`` (a dict the run file keeps under ``members``)."""

    def __init__(self, plan: MemberPlan, storage: HubStorage, post: Post) -> None:
        self.plan = plan
        self.storage = storage
        self.post = post
        self.record: dict[str, Any] = {"members": list(MEMBERS), "gold": GOLD_MEMBER, "visitor_cards": visitor_cards(),
                                       "done": [], "failed": [], "orders": {}, "expiry_run": {}}

    def run(self, k: int) -> None:
        """Step ``k``; a step the hub did not take is kept for the close."""
        _, kind, args = self.plan.steps[k]
        ok = False
        with contextlib.suppress(httpx.HTTPError, SQLAlchemyError):  # the hub killed, its database busy
            ok = getattr(self, f"_{kind}")(*args)
        (self.record["done"] if ok else self.record["failed"]).append(k)

    def retry_failed(self) -> None:
        """At the close, the steps the hub did not take, in their order (a return after its order)."""
        failed, self.record["failed"] = sorted(self.record["failed"]), []
        for k in failed:
            self.run(k)

    def _place(self, doc: dict[str, Any]) -> bool:
        quote = self.post("/v1/orders/quote", doc)
        if quote is not None and quote.status_code in (409, 422) and doc["points_redeemed"]:
            doc = {**doc, "points_redeemed": 0}  # the member's points went meanwhile: pay it all
            quote = self.post("/v1/orders/quote", doc)
        if quote is None or quote.status_code != 200:
            return False
        doc = {**doc, "total_cents": quote.json()["total_cents"]}
        placed = self.post("/v1/orders", doc)
        if placed is None or placed.status_code not in (200, 201):
            return False
        self.record["orders"][doc["order_id"]] = {"customer_id": doc["customer_id"],
                                                  "points_redeemed": doc["points_redeemed"],
                                                  "total_cents": doc["total_cents"]}
        return True

    def _order(self, order_id: str, cid: str, burn: int, pickup: str | None) -> bool:
        return self._place({"order_id": order_id, "customer_id": cid, "channel": "web" if burn else "app",
                            "status": "placed", "pickup_store_id": pickup, "lines": self.plan.lines(order_id),
                            "points_redeemed": burn})

    def _gold_order(self, order_id: str, cid: str) -> bool:
        return self._place({"order_id": order_id, "customer_id": cid, "channel": "web", "status": "placed",
                            "pickup_store_id": STORE_1, "lines": self.plan.gold_lines(), "points_redeemed": 0})

    def _return(self, order_id: str, return_id: str, qty: int) -> bool:
        back = self.post(f"/v1/orders/{order_id}/returns",
                         {"return_id": return_id, "lines": [{"line_no": 1, "qty": qty}]})
        return back is not None and back.status_code in (200, 201)

    def _cancel(self, order_id: str) -> bool:
        done = self.post(f"/v1/orders/{order_id}/cancel", {})
        return done is not None and done.status_code == 200

    def _expiry_run(self) -> bool:
        """Tonight's jobs, run early (``now`` a day ahead): the old opening lots are past their date then."""
        now = datetime.now(UTC) + JOBS_AHEAD
        done = self.storage.run_jobs(now)
        self.record["expiry_run"] = {"at": iso(now), **done}
        return True
