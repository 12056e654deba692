"""Webhook deliveries: a delivery the hub gives up on is reported, and every delivery is signed with the
secret set by ``hub set-webhook-secret`` (also as ``hub serve`` delivers)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync import outbox
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from sync.hub.webhooks import SIGNATURE_HEADER, WebhookDeliverer
from tests.support.cli import one_line, run_cli
from tests.support.hub import make_edge, seed

pytestmark = pytest.mark.usefixtures("no_store_edge_env")


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[bytes, dict[str, str]]] = []
    status = 500

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((body, dict(self.headers.items())))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Any:
    _Recorder.requests, _Recorder.status = [], 500
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/presence"
    server.shutdown()


def _presence_event(hub: HubServer, tmp_path: Path) -> str:
    codes = seed(hub.storage, {"s1": ["beacon-1"]}, {"ada": ("s1", 0)})
    edge = make_edge(tmp_path, "b1", hub.url, codes["beacon-1"])
    with edge.db.conn:
        # the kind of presence event that goes to the webhook (the others feed analytics tables)
        eid = outbox.enqueue(edge.db, "presence.notification_requested", {"customer_id": "ada"})
    edge.client().sync_once()
    return eid


def test_webhook_give_up_is_reported_and_deliveries_are_signed(hub_storage: HubStorage, tmp_path: Path,
                                                               recorder: str) -> None:
    with HubServer(hub_storage) as hub:
        eid = _presence_event(hub, tmp_path)
    secret = "s3cret-shared-with-the-crm"
    deliverer = WebhookDeliverer(hub_storage, recorder, max_attempts=3, base_s=0.0, secret=secret)

    async def rounds(n: int) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(n):
                await deliverer.deliver_due(client)

    asyncio.run(rounds(2))
    assert hub_storage.exceptions("webhook_failed") == []  # still retrying
    asyncio.run(rounds(3))
    assert len(_Recorder.requests) == 3  # gave up after the maximum; nothing more is sent
    for body, headers in _Recorder.requests:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE_HEADER] == expected
        assert json.loads(body)["event_id"] == eid
    reports = hub_storage.exceptions("webhook_failed")
    assert len(reports) == 1
    assert eid in reports[0]["detail"] and "3 attempts" in reports[0]["detail"] and "500" in reports[0]["detail"]
    assert reports[0]["store_id"] == "s1" and reports[0]["device_id"] == "beacon-1"


def test_set_webhook_secret_signs_what_hub_serve_delivers(tmp_path: Path, recorder: str) -> None:
    hub_db = str(tmp_path / "hub.db")
    code, _, err = run_cli(["hub", "set-webhook", recorder, "--secret", "short", "--db", hub_db])
    assert code == 1 and "at least 16 characters" in one_line(err)
    secret = "0123456789abcdef0123"
    code, out, _ = run_cli(["hub", "set-webhook", recorder, "--secret", secret, "--db", hub_db])
    assert code == 0 and "signed" in out
    _Recorder.status = 204
    storage = HubStorage.open(hub_db)
    try:
        with HubServer(storage, webhook_interval_s=0.05) as hub:
            _presence_event(hub, tmp_path)
            for _ in range(200):
                if _Recorder.requests:
                    break
                threading.Event().wait(0.05)
    finally:
        storage.close()
    body, headers = _Recorder.requests[0]
    assert headers[SIGNATURE_HEADER] == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
