"""Review fixes: offer validation at the hub and the edge, CLI errors in one line, permanent refusals back off
to the cap, compaction from the first round, the protocol header, webhook give-up reports and signatures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from synchelpers import FAST, make_edge, seed

import sync.client
from edge.cli import main
from edge.db.connection import open_database
from sync import credentials, outbox
from sync.apply import WARNINGS_KEY, apply_page, get_state
from sync.client import HubRefused, HubUnreachable, SyncClient
from sync.credentials import Credential
from sync.hub.server import HubServer
from sync.hub.storage import HubError, HubStorage
from sync.hub.webhooks import SIGNATURE_HEADER, WebhookDeliverer
from sync.protocol import Change, ChangesPage


@pytest.fixture(autouse=True)
def _no_store_edge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STORE_EDGE_"):
            monkeypatch.delenv(key)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in text
    return lines[0]


# ------------------------------------------------------------------------------------------ 1. offers
def test_hub_refuses_offers_whose_params_the_tills_cannot_price(hub_storage: HubStorage) -> None:
    with pytest.raises(HubError, match="params must be a JSON object, got list"):
        hub_storage.upsert_offer({"id": "o1", "kind": "percent_off", "name": "X", "params": [1]})
    with pytest.raises(HubError, match="'percent'"):
        hub_storage.upsert_offer({"id": "o2", "kind": "percent_off", "name": "X", "params": {"percent": 120}})
    with pytest.raises(HubError, match="'get'"):
        hub_storage.upsert_offer({"id": "o3", "kind": "buy_x_get_y", "name": "X", "params": {"buy": 2, "get": 0}})
    hub_storage.upsert_offer({"id": "ok", "kind": "percent_off", "name": "X", "params": {"percent": 10}})
    page = hub_storage.changes(_device(hub_storage), None, 100)
    assert [c.key for c in page.changes if c.kind == "offer"] == ["ok"]


def _device(storage: HubStorage) -> Any:
    storage.create_store("s1")
    code = storage.create_device("s1", "till-1")
    enrolment = storage.enroll(code)
    return storage.authenticate(enrolment.token)


def test_create_offer_cli_refuses_bad_params_in_one_line(tmp_path: Path) -> None:
    hub_db = str(tmp_path / "hub.db")
    code, _, err = run_cli(["hub", "create-offer", "--id", "o1", "--kind", "percent_off", "--name", "X",
                            "--params", "[1]", "--db", hub_db])
    assert code == 1
    assert "offer 'o1' refused: params must be a JSON object, got list" in one_line(err)
    storage = HubStorage.open(hub_db)
    try:
        with storage.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM offers")).scalar() == 0
    finally:
        storage.close()


def test_pull_puts_malformed_offers_in_the_warnings_and_stores_the_rest(tmp_path: Path) -> None:
    db = open_database(tmp_path / "store.db")
    good = {"id": "good", "kind": "percent_off", "name": "Ten", "params": {"percent": 10}}
    bad = {"id": "bad", "kind": "percent_off", "name": "X", "params": [1]}
    worse = {"id": "worse", "kind": "amount_off_basket", "name": "Y", "params": {"amount_cents": "5"}}
    applied = apply_page(db, ChangesPage([Change("offer", "bad", bad), Change("offer", "worse", worse),
                                          Change("offer", "good", good)], cursor="c1"))
    assert applied == 1
    assert db.execute("SELECT id FROM offers WHERE source = 'hub'").fetchall() == [("good",)]
    warnings = json.loads(get_state(db, WARNINGS_KEY) or "[]")
    assert any(w.startswith("offer bad:") and "JSON object" in w for w in warnings)
    assert any(w.startswith("offer worse:") and "'amount_cents'" in w for w in warnings)


# ------------------------------------------------------------------------------------------ 2. CLI errors
def test_hub_serve_with_an_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    code, _, err = run_cli(["hub", "serve", "--db", "postgresql://nouser@127.0.0.1:1/x"])
    assert code == 1
    line = one_line(err)
    assert line.startswith("store-edge: cannot use the hub database:") and "127.0.0.1" in line


@pytest.mark.parametrize("command", ["status", "once", "retry-dead"])
def test_sync_commands_on_a_corrupt_store_db_are_one_line(tmp_path: Path, command: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "store.db").write_bytes(b"this is not a database" * 100)
    credentials.save(data, Credential("http://127.0.0.1:1", "till-1", "s1", "dt_x", "2026-01-01T00:00:00Z"))
    code, _, err = run_cli(["sync", command, "--data-dir", str(data)])
    assert code == 1
    assert "cannot be opened" in one_line(err) and str(data / "store.db") in err


@pytest.mark.parametrize("command", ["status", "once", "retry-dead", "run"])
def test_config_errors_exit_2_naming_file_key_and_problem(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\nbackoff_cap_s = 'soon'\n")
    code, _, err = run_cli(["sync", command, "--config", str(bad), "--data-dir", str(tmp_path)])
    assert code == 2
    line = one_line(err)
    assert str(bad) in line and "backoff_cap_s" in line


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run_cli(["sync", "retry-dead", "--config", str(tmp_path / "nope.toml")])
    assert code == 2 and "nope.toml" in one_line(err)


def test_sync_status_refuses_a_data_dir_without_a_database(tmp_path: Path) -> None:
    data = tmp_path / "typo"
    code, _, err = run_cli(["sync", "status", "--data-dir", str(data)])
    assert code == 1
    assert f"no database at {data / 'store.db'}; is this the data dir?" in one_line(err)
    assert not (data / "store.db").exists() and not data.exists()
    code, _, err = run_cli(["sync", "retry-dead", "--data-dir", str(data)])
    assert code == 1 and not data.exists()


# ------------------------------------------------------------------------------------------ 3. client
def _offline_client(tmp_path: Path) -> SyncClient:
    cred = Credential("http://127.0.0.1:1", "till-1", "s1", "dt_x", "2026-01-01T00:00:00Z")
    return SyncClient(open_database(tmp_path / "store.db"), cred, FAST)


def test_a_permanent_refusal_waits_the_full_cap(tmp_path: Path) -> None:
    client = _offline_client(tmp_path)
    try:
        assert client.next_delay(HubRefused("this device was revoked on the hub; re-enrol")) == FAST.backoff_cap_s
        # transient failures keep the jittered delay, never above the cap
        assert 0 <= client.next_delay(HubUnreachable("down")) <= FAST.backoff_cap_s
    finally:
        client.close()


def _old_acked_rows(db: Any, n: int) -> None:
    with db.conn:
        for i in range(n):
            outbox.enqueue(db, "test.old", {"i": i})
        db.execute("UPDATE outbox SET state = 'acked', acked_at = '2000-01-01T00:00:00.000Z'")


class _FreshBoot:
    """The ``time`` module as seen on a till that booted seconds ago (monotonic() starts near zero)."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def monotonic(self) -> float:
        return time.monotonic() - self._start + 5.0

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def test_the_first_round_compacts_the_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.client, "time", _FreshBoot())
    client = _offline_client(tmp_path)
    _old_acked_rows(client.db, 3)
    stop, wake = threading.Event(), threading.Event()

    def after_first_round(status: Any) -> None:
        if status.next_attempt_in_s is not None:
            stop.set()
            wake.set()

    client.add_listener(after_first_round)
    try:
        client.run(stop, wake)  # the hub is unreachable: one failed round, then the wait is cut short
    finally:
        client.close()
    assert client.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_sync_once_compacts_the_outbox(sqlite_hub: HubServer, tmp_path: Path) -> None:
    codes = seed(sqlite_hub.storage, {"s1": ["till-1"]}, {})
    edge = make_edge(tmp_path, "till", sqlite_hub.url, codes["till-1"])
    _old_acked_rows(edge.db, 4)
    code, out, _ = run_cli(["sync", "once", "--data-dir", str(edge.data_dir)])
    assert code == 0 and "received" in out
    assert edge.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


# ------------------------------------------------------------------------------------------ 4. protocol header
def test_the_hub_refuses_other_protocol_versions_in_words(sqlite_hub: HubServer) -> None:
    resp = httpx.get(f"{sqlite_hub.url}/v1/health", headers={"X-Store-Edge-Protocol": "99"})
    assert resp.status_code == 400
    assert resp.json() == {"error": "unsupported_protocol", "message": "this till speaks sync protocol 99; the hub "
                           "speaks 1 - upgrade the hub or the till"}
    resp = httpx.post(f"{sqlite_hub.url}/v1/events", headers={"X-Store-Edge-Protocol": "2"}, content=b"{}")
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_protocol"
    assert httpx.get(f"{sqlite_hub.url}/v1/health", headers={"X-Store-Edge-Protocol": "1"}).status_code == 200
    assert httpx.get(f"{sqlite_hub.url}/v1/health").status_code == 200  # curl without the header: version 1


# ------------------------------------------------------------------------------------------ 7. webhook
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
