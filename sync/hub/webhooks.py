"""Delivers presence notifications to a webhook, with exponential backoff between attempts."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import random
from datetime import UTC, datetime, timedelta

import httpx
from starlette.concurrency import run_in_threadpool

from sync.hub.storage import HubStorage

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Store-Edge-Signature"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the exact body bytes>``; receivers recompute it with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDeliverer:
    """Sends due notifications (claimed from the queue, so each goes out once across hub processes) to one URL,
    signed with ``secret`` when given; a failure is retried with jittered exponential backoff up to ``cap_s``."""

    def __init__(self, storage: HubStorage, url: str, *, max_attempts: int = 10, base_s: float = 0.5,
                 cap_s: float = 600.0, timeout_s: float = 5.0, secret: str | None = None) -> None:
        self.storage, self.url, self.secret = storage, url, secret
        self.max_attempts, self.base_s, self.cap_s, self.timeout_s = max_attempts, base_s, cap_s, timeout_s

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        due = await run_in_threadpool(self.storage.due_notifications, 50, self.max_attempts)
        delivered = 0
        for n in due:
            body = {k: n[k] for k in ("event_id", "store_id", "device_id", "type", "received_at")}
            body["payload"] = json.loads(n["payload"])
            raw = json.dumps(body, separators=(",", ":")).encode()  # signed and sent as these exact bytes
            headers = {"Idempotency-Key": n["event_id"], "Content-Type": "application/json"}
            if self.secret:
                headers[SIGNATURE_HEADER] = signature(self.secret, raw)
            try:
                resp = await client.post(self.url, content=raw, headers=headers)
                ok, error = 200 <= resp.status_code < 300, f"the webhook answered {resp.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, f"the webhook could not be reached ({type(exc).__name__}: {exc})"
            if ok:
                await run_in_threadpool(self.storage.notification_delivered, n["event_id"])
                delivered += 1
            else:
                delay = random.uniform(0, min(self.cap_s, self.base_s * 2 ** n["attempts"]))
                retry_at = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(timespec="milliseconds")
                await run_in_threadpool(functools.partial(
                    self.storage.notification_failed, n["event_id"], error, retry_at.replace("+00:00", "Z"),
                    max_attempts=self.max_attempts))
        return delivered

    async def run_forever(self, interval_s: float) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                try:
                    await self.deliver_due(client)
                except Exception:  # the deliverer must outlive a bad row or a storage hiccup
                    log.exception("webhook delivery round failed")
                await asyncio.sleep(interval_s)
