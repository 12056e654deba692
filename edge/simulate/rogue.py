"""The hostile device of the simulated store day: an enrolled device of ``store-1`` whose token was stolen.

A few times during the day it pushes, straight to the hub over HTTP, a batch of what an attacker with one
till's token would try (issue 12): points out of range (2^62), a customer only ``store-2`` knows (out of
scope), an event claiming to come from ``till-1`` (forged envelope), an honest event of ``till-1`` replayed
as it is, an honest sale of ``till-1`` re-sent under its own device (a second count of its spend), a sale
line of NaN, a sequence number past 2^63, and its own refused events of the previous round again.

None of it may count: the reconciliation (``edge.simulate.reconcile``, row "hostile device") checks that the
hub holds no ledger entry, sale or coupon redemption of this device, that the honest books still reconcile,
and that every event it sent is a row of the hub's exceptions report (``rejected_event``, ``out_of_scope``,
``duplicate_sale``) naming it. What it sent and what the hub answered is kept in ``run.json`` (``rogue``).
"""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
from sqlalchemy import select

from edge.core.contract import EventType
from edge.simulate.common import STORE_1, STORE_2, TILL_1
from sync.hub.storage import HubStorage
from sync.hub.tables import events as hub_events
from sync.ids import uuid7

ROGUE = "rogue-1"
ROGUE_STORE = STORE_1
OUT_OF_SCOPE_CUSTOMER = "C-STORE2-ONLY"  # relevant to store-2 alone: store-1's devices may not name it
NOW = "2026-11-30T12:00:00Z"


class Rogue:
    """Builds and sends the hostile rounds; ``log`` is what goes into ``run.json``."""

    def __init__(self, hub_url: str, token: str, storage: HubStorage, seed: int) -> None:
        self.hub_url, self.token, self.storage = hub_url, token, storage
        self.rng = random.Random(f"rogue:{seed}")
        self.seq = 0
        self.refused: list[dict[str, Any]] = []  # last round's refused events, sent again
        self.log: dict[str, Any] = {"device": ROGUE, "store": ROGUE_STORE, "rounds": 0, "sent": [],
                                    "unanswered": 0}

    @staticmethod
    def seed_hub(storage: HubStorage) -> str:
        """The rogue device and the customer only store-2 holds; returns the device's enrolment code."""
        storage.upsert_customer({"id": OUT_OF_SCOPE_CUSTOMER, "display_name": "Store 2 only",
                                 "home_store_id": STORE_2})
        storage.adjust_balance(OUT_OF_SCOPE_CUSTOMER, 500, "opening balance")
        return storage.create_device(ROGUE_STORE, ROGUE)

    def _event(self, event_type: str, payload: dict[str, Any], **envelope: Any) -> dict[str, Any]:
        self.seq += 1
        return {"id": uuid7(), "device_id": ROGUE, "store_id": ROGUE_STORE, "seq": self.seq, "type": event_type,
                "payload": payload, "device_time": NOW, **envelope}

    def _honest(self, event_type: str) -> dict[str, Any] | None:
        """One event ``till-1`` really sent today (as the hub holds it), or None yet."""
        with self.storage.read() as conn:
            rows = conn.execute(select(hub_events.c.event_id, hub_events.c.seq, hub_events.c.payload,
                                       hub_events.c.device_time).where(
                hub_events.c.device_id == TILL_1, hub_events.c.type == event_type).limit(20)).all()
        if not rows:
            return None
        eid, seq, payload, device_time = self.rng.choice(rows)
        return {"id": eid, "device_id": TILL_1, "store_id": STORE_1, "seq": seq, "type": event_type,
                "payload": json.loads(payload), "device_time": device_time}

    def round(self) -> list[tuple[str, dict[str, Any]]]:
        """(what it tries, the event) for one round."""
        target = f"C{self.rng.randint(1002, 1040)}"
        entry = {"entry_id": uuid7(), "customer_id": target, "points": 5, "reason": "sale"}
        nan_sale = {"id": uuid7(), "customer_id": target, "total_cents": 100, "created_at": NOW,
                    "lines": [{"gtin": "05901234123457", "name": "x", "qty": 1, "gross_cents": "NAN"}]}
        batch = [
            ("2^62 points", self._event(EventType.LEDGER_EARN, {**entry, "points": 2**62})),
            ("out of scope", self._event(EventType.LEDGER_BURN, {**entry, "entry_id": uuid7(),
                                                                 "customer_id": OUT_OF_SCOPE_CUSTOMER})),
            ("forged device", self._event(EventType.LEDGER_EARN, {**entry, "entry_id": uuid7()}, device_id=TILL_1)),
            ("NaN sale line", self._event(EventType.SALE_COMPLETED, nan_sale)),
            ("seq 2^63", self._event(EventType.LEDGER_EARN, {**entry, "entry_id": uuid7()}, seq=2**63)),
        ]
        batch += [("own refusal again", ev) for ev in self.refused]
        honest_earn = self._honest(EventType.LEDGER_EARN)
        if honest_earn is not None:
            batch.append(("till-1 event replayed", honest_earn))
        honest_sale = self._honest(EventType.SALE_COMPLETED)
        if honest_sale is not None:
            batch.append(("till-1 sale re-sent", self._event(EventType.SALE_COMPLETED, honest_sale["payload"])))
        return batch

    def attack(self) -> None:
        """One round: push it (a few tries while the hub restarts); record each event's verdict."""
        batch = self.round()
        body = json.dumps({"protocol": 1, "events": [ev for _, ev in batch]}).replace('"NAN"', "NaN")
        for _ in range(5):
            try:
                resp = httpx.post(f"{self.hub_url}/v1/events", content=body, timeout=5, headers={
                    "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                    "X-Store-Edge-Protocol": "1"})
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                self._record(batch, resp.json()["results"])
                return
        self.log["unanswered"] += len(batch)

    def _record(self, batch: list[tuple[str, dict[str, Any]]], results: list[dict[str, Any]]) -> None:
        self.log["rounds"] += 1
        self.refused = []
        for (what, ev), result in zip(batch, results, strict=True):
            self.log["sent"].append({"what": what, "id": result["id"], "type": ev["type"],
                                     "status": result["status"], "reason": result.get("reason")})
            if result["status"] == "rejected" and what != "own refusal again":
                self.refused.append(ev)
