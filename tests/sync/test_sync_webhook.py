"""Presence notifications written by a store reach the configured webhook, retried until it accepts."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sync import outbox
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from tests.support.hub import make_edge, seed


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    failures_left = 2

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(500)
            self.end_headers()
            return
        type(self).received.append({"body": json.loads(body), "key": self.headers["Idempotency-Key"]})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_presence_notifications_are_delivered_with_retries(hub_storage: HubStorage, tmp_path: Path) -> None:
    _Receiver.received, _Receiver.failures_left = [], 2
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/presence"
    try:
        with HubServer(hub_storage, webhook_url=url, webhook_interval_s=0.05, webhook_retry_base_s=0.05) as hub:
            codes = seed(hub_storage, {"s1": ["beacon-1"]}, {"ada": ("s2", 0)})
            hub_storage.make_relevant("s1", "ada", "member look-up")  # s1 may name ada (issue 12: scope)
            edge = make_edge(tmp_path, "b1", hub.url, codes["beacon-1"])
            with edge.db.conn:
                eid = outbox.enqueue(edge.db, "presence.notification_requested", {"customer_id": "ada", "offer_id": "o1"})
            edge.client().sync_once()
            deadline = time.monotonic() + 10
            while not _Receiver.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [r["body"]["event_id"] for r in _Receiver.received] == [eid]
            assert _Receiver.received[0]["body"]["payload"]["customer_id"] == "ada"
            assert _Receiver.received[0]["key"] == eid
            # the receiver answers before the hub records the delivery: wait for the record, bounded
            while hub_storage.notifications()[0]["delivered_at"] is None and time.monotonic() < deadline:
                time.sleep(0.05)
            note = hub_storage.notifications()[0]
            assert note["attempts"] == 3 and note["delivered_at"] is not None
            # a customer seen in a store becomes relevant to it
            edge.client().sync_once()
            assert edge.db.execute("SELECT id FROM customers").fetchall() == [("ada",)]
    finally:
        receiver.shutdown()
