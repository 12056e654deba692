"""Running the hub: in a background thread (tests, the demo) or in the foreground (``hub serve``)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from sync.hub.app import make_hub_app
from sync.hub.storage import HubStorage


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class HubServer:
    """uvicorn serving ``make_hub_app(storage)`` on its own thread and event loop."""

    def __init__(self, storage: HubStorage, *, host: str = "127.0.0.1", port: int = 0,
                 webhook_url: str | None = None, webhook_interval_s: float = 0.5,
                 webhook_retry_base_s: float = 0.5) -> None:
        self.storage = storage
        self.app = make_hub_app(storage, webhook_url=webhook_url, webhook_interval_s=webhook_interval_s,
                                webhook_retry_base_s=webhook_retry_base_s)
        self._sock = bind_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"hub-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self, timeout: float = 10.0) -> HubServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the hub did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@dataclass
class DemoHub:
    url: str
    enrolment_code: str
    store_id: str
    device_id: str
    server: HubServer

    def stop(self) -> None:
        self.server.stop()
        self.server.storage.close()


def seed_demo(storage: HubStorage, store_id: str = "demo-store", device_id: str = "till-1") -> str:
    """A store, two customers, a small catalog, an offer and a signing key; returns an enrolment code."""
    storage.create_store(store_id, "Demo Store")
    storage.upsert_products([
        {"gtin": "05901234123457", "name": "Coffee beans 500 g", "price_cents": 899, "vat_rate_bp": 900,
         "category": "coffee"},
        {"gtin": "04006381333931", "name": "Notebook A5", "price_cents": 349, "vat_rate_bp": 2100,
         "category": "stationery"},
    ])
    storage.upsert_customer({"id": "c-demo-1", "card_number": "2000000000015", "display_name": "Ada Demo",
                             "tier": "Silver", "home_store_id": store_id})
    storage.upsert_customer({"id": "c-demo-2", "card_number": "2000000000022", "display_name": "Grace Demo",
                             "home_store_id": store_id})
    storage.adjust_balance("c-demo-1", 1_200, "welcome bonus")
    storage.upsert_offer({"id": "o-coffee-10", "kind": "percent_off", "name": "10 % off coffee",
                          "params": {"percent": 10, "category": "coffee"}})
    storage.ensure_signing_key()
    return storage.create_device(store_id, device_id)


def start_demo_hub(data_dir: Path, *, port: int = 0, store_id: str = "demo-store",
                   device_id: str = "till-1", seed: Callable[[HubStorage], None] | None = None) -> DemoHub:
    """For ``make run``: a seeded SQLite hub on 127.0.0.1 in a background thread.

    Enrol the till with the returned code (``sync.enroll.enroll``), then start its ``SyncWorker``.
    Calling it again with the same ``data_dir`` reuses the hub database and issues a fresh code.
    """
    storage = HubStorage.open(Path(data_dir) / "hub.db")
    with storage.engine.tx(write=False) as tx:
        seeded = tx.one("SELECT 1 FROM stores WHERE id = ?", [store_id]) is not None
    if seeded:
        code = storage.create_device(store_id, device_id)
    elif seed is not None:
        seed(storage)
        code = storage.create_device(store_id, device_id)
    else:
        code = seed_demo(storage, store_id, device_id)
    server = HubServer(storage, port=port).start()
    return DemoHub(server.url, code, store_id, device_id, server)
