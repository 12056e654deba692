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
                 webhook_retry_base_s: float = 0.5, jobs_interval_s: float | None = None) -> None:
        self.storage = storage
        self.app = make_hub_app(storage, webhook_url=webhook_url, webhook_interval_s=webhook_interval_s,
                                webhook_retry_base_s=webhook_retry_base_s, jobs_interval_s=jobs_interval_s)
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


def start_demo_hub(data_dir: Path, *, port: int = 0, store_id: str = "demo-store",
                   device_id: str = "till-1", seed: Callable[[HubStorage], None] | None = None,
                   preferred_port: int | None = None) -> DemoHub:
    """For ``make run``: a SQLite hub on 127.0.0.1 in a background thread, seeded once by ``seed`` (the app
    passes ``edge.demo.seed.seed_hub``: the one demo dataset lives in ``edge/demo``); without ``seed`` the hub
    holds just the store and a signing key.

    ``preferred_port``: listen there when it is free, else on ``port`` (0: any free port), so the till's
    credential names the same address from run to run (``doctor`` and ``hub serve`` on a closed demo).
    Enrol the till with the returned code (``sync.enroll.enroll``), then start its ``SyncWorker``.
    Calling it again with the same ``data_dir`` reuses the hub database and issues a fresh code.
    """
    storage = HubStorage.open(Path(data_dir) / "hub.db")
    if not storage.store_exists(store_id):
        if seed is not None:
            seed(storage)
        else:
            storage.create_store(store_id, "Demo Store")
        storage.ensure_signing_key()
    code = storage.create_device(store_id, device_id)
    try:
        server = HubServer(storage, port=preferred_port if preferred_port is not None else port)
    except OSError:  # the preferred port is taken (another hub, another demo): any free one
        if preferred_port is None:
            raise
        server = HubServer(storage, port=port)
    server.start()
    return DemoHub(server.url, code, store_id, device_id, server)
