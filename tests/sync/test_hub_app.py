"""The hub app built from a config object alone (what each worker process of ``hub serve --workers`` runs):
it opens its own database at start-up, serves, and closes it at shutdown, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from sync import protocol
from sync.hub.app import HubConfig, make_hub_app_from_config
from sync.hub.server import bind_socket
from sync.ids import uuid7
from tests.support.hub import close_hub_storage, open_hub_storage, seed


class _Serve:
    """uvicorn serving an app on 127.0.0.1 in a thread, lifespan included."""

    def __init__(self, app: object) -> None:
        self.sock = bind_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))  # type: ignore[arg-type]
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the hub did not start"
            time.sleep(0.01)
        self.client = httpx.Client(base_url=self.url, timeout=10)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_hub_built_from_config_serves_its_database(kind: str, tmp_path: Path) -> None:
    storage = open_hub_storage(kind, tmp_path)
    try:
        codes = seed(storage, {"s1": ["t1"]}, {"ada": ("s1", 10)})
        db = storage.db
        config = HubConfig(db=str(tmp_path / "hub.db") if kind == "sqlite" else str(db.dsn), schema=db.schema)
        app = make_hub_app_from_config(config)
        assert not hasattr(app.state, "storage")  # nothing opened before the process starts serving
        with _Serve(app) as client:
            token = client.post("/v1/enroll", json={"code": codes["t1"]}).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            event = {"id": uuid7(), "device_id": "t1", "store_id": "s1", "seq": 1, "type": "ledger.earn",
                     "payload": {"entry_id": uuid7(), "customer_id": "ada", "points": 7},
                     "device_time": "2026-11-30T10:00:00Z"}
            pushed = client.post("/v1/events", json={"protocol": 1, "events": [event]}, headers=auth)
            assert [r["status"] for r in pushed.json()["results"]] == ["accepted"]
            page = client.get("/v1/changes", headers=auth).json()
            ada = next(c["data"] for c in page["changes"] if c["kind"] == "customer")
            assert ada["confirmed_points"] == 17
            refused = client.get("/v1/changes", headers={**auth, protocol.VERSION_HEADER: "99"})
            assert refused.status_code == 400 and refused.json()["error"] == "unsupported_protocol"
            bad_cursor = client.get("/v1/changes?cursor=c2.x.1", headers=auth)
            assert bad_cursor.status_code == 400 and bad_cursor.json()["error"] == "bad_request"
        assert storage.balance("ada") == 17
    finally:
        close_hub_storage(storage)
