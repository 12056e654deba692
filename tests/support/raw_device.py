"""A device speaking raw HTTP to the hub (no sync client): for tests that send what an honest till would not,
and the event payloads an honest till writes (``earn``, ``priced_sale``)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sync.hub.server import HubServer
from sync.ids import uuid7

NOW = "2026-11-30T10:00:00Z"


class Till:
    """One enrolled device speaking raw HTTP to the hub."""

    def __init__(self, hub: HubServer, code: str, device_id: str, store_id: str) -> None:
        self.client = httpx.Client(base_url=hub.url, timeout=20)
        token = self.client.post("/v1/enroll", json={"code": code}).json()["token"]
        self.auth = {"Authorization": f"Bearer {token}"}
        self.device_id, self.store_id, self.seq = device_id, store_id, 0

    def event(self, event_type: str, payload: dict[str, Any], **envelope: Any) -> dict[str, Any]:
        self.seq += 1
        return {"id": uuid7(), "device_id": self.device_id, "store_id": self.store_id, "seq": self.seq,
                "type": event_type, "payload": payload, "device_time": NOW, **envelope}

    def push_raw(self, body: str) -> list[dict[str, Any]]:
        answer = self.client.post("/v1/events", content=body.encode("utf-8", "surrogatepass"),
                                  headers={**self.auth, "Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        return answer.json()["results"]  # type: ignore[no-any-return]

    def push(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        return self.push_raw(json.dumps({"protocol": 1, "events": list(events)}))

    def pull_all(self) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = []
        cursor = ""
        while True:
            answer = self.client.get("/v1/changes", params={"cursor": cursor} if cursor else {}, headers=self.auth)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            changes.extend(page["changes"])
            cursor = page["cursor"]
            if not page["has_more"]:
                return changes


def earn(customer_id: str, points: int) -> dict[str, Any]:
    return {"entry_id": uuid7(), "customer_id": customer_id, "points": points, "reason": "sale"}


def priced_sale(customer_id: str | None, *, total: int | None = None, sale_id: str | None = None) -> dict[str, Any]:
    """A sale as ``edge/store/sales.py`` writes it: two lines, a 50-cent discount, no points redeemed."""
    lines = [{"line_no": 1, "gtin": "05901234123457", "name": "Coffee beans 500 g", "qty": 2,
              "unit_price_cents": 899, "gross_cents": 1798, "discount_cents": 50, "vat_rate_bp": 700},
             {"line_no": 2, "gtin": "04006381333931", "name": "Pen", "qty": 1, "unit_price_cents": 150,
              "gross_cents": 150, "discount_cents": 0, "vat_rate_bp": 1900}]
    return {"id": sale_id or uuid7(), "customer_id": customer_id, "created_at": NOW, "subtotal_cents": 1948,
            "discount_cents": 50, "points_redeemed": 0, "points_value_cents": 0,
            "total_cents": 1898 if total is None else total, "vat_cents": 130, "payment_method": "card",
            "tendered_cents": None, "points_earned": 18, "lines": lines,
            "discounts": [{"n": 0, "line_no": 1, "offer_id": "o-1", "amount_cents": 50, "reason": "promo"}]}
