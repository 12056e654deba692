"""The hub as an ASGI import string, for several worker processes (``store-edge hub serve --workers N``).

uvicorn starts each worker process by importing ``sync.hub.asgi:create_app`` and calling it (``factory=True``),
so a worker cannot be handed a storage object: it builds its own from the environment, which the parent
process sets before starting the workers:

- ``STORE_EDGE_HUB_DB`` (``DB_ENV``): the hub database, a ``postgresql://`` DSN (several processes need
  PostgreSQL; SQLite has one writer, see ``check_workers``);
- ``STORE_EDGE_HUB_WEBHOOK_URL`` (``WEBHOOK_ENV``, optional): where presence notifications are delivered,
  as ``--webhook-url`` of ``hub serve``;
- ``STORE_EDGE_HUB_JOBS_INTERVAL_S`` (``JOBS_ENV``, optional): run the programme's jobs (points expiry, tier
  evaluation) this often, as ``--jobs-interval``. Every worker runs them: the jobs are idempotent (one expiry
  entry per lot, one review per member and period), so a second worker finds nothing left to do.

Each worker is stateless: everything it knows is in the database, so any worker may answer any request, and a
worker that dies (kill -9) loses only the requests it was answering (the tills send those batches again and
the hub's exactly-once ingest answers ``duplicate`` for what had been committed).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from sync.hub.app import make_hub_app
from sync.hub.storage import HubStorage

DB_ENV = "STORE_EDGE_HUB_DB"
WEBHOOK_ENV = "STORE_EDGE_HUB_WEBHOOK_URL"
JOBS_ENV = "STORE_EDGE_HUB_JOBS_INTERVAL_S"
MAX_WORKERS = 64

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def is_postgres(target: str) -> bool:
    """True for a PostgreSQL DSN (``postgresql://``, ``postgres://``, ``postgresql+psycopg://``); anything else
    is taken as a SQLite file path, as ``HubStorage.open`` does."""
    return str(target).lower().startswith("postgres")


def check_workers(target: str, workers: int) -> str | None:
    """Why ``workers`` hub processes cannot serve ``target``, in one line; None when they can."""
    if workers < 1 or workers > MAX_WORKERS:
        return f"--workers must be a whole number from 1 to {MAX_WORKERS}"
    if workers > 1 and not is_postgres(target):
        return ("--workers > 1 needs a PostgreSQL hub database (--db postgresql://...): a SQLite file has one "
                "writer, so serve it with one worker")
    return None


def worker_environment(target: str, webhook_url: str | None, jobs_interval_s: float | None = None
                       ) -> dict[str, str]:
    """The variables ``create_app`` reads, for the parent process to set before it starts the workers."""
    env = {DB_ENV: str(target)}
    if webhook_url:
        env[WEBHOOK_ENV] = webhook_url
    if jobs_interval_s:
        env[JOBS_ENV] = repr(float(jobs_interval_s))
    return env


def _jobs_interval() -> float | None:
    text = os.environ.get(JOBS_ENV, "").strip()
    try:
        value = float(text) if text else 0.0
    except ValueError:
        raise RuntimeError(f"{JOBS_ENV}={text[:20]!r} is not a number of seconds") from None
    return value if value > 0 else None


class _ClosesStorage:
    """The hub app, closing its storage (the worker's connection pool) once the server has shut down."""

    def __init__(self, app: Any, storage: HubStorage) -> None:
        self.app, self.storage = app, storage
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_then_close(message: Message) -> None:
            await send(message)
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await run_in_threadpool(self.storage.close)

        await self.app(scope, receive, send_then_close)


def create_app() -> Any:
    """Build one worker's hub app from the environment (see the module docstring).

    Raises ``RuntimeError`` naming the missing variable when ``STORE_EDGE_HUB_DB`` is not set. The schema is
    expected to be in place: ``hub serve`` opens (and so migrates) the database once in the parent process
    before starting the workers, so that N workers do not race to create it.
    """
    target = os.environ.get(DB_ENV, "").strip()
    if not target:
        raise RuntimeError(f"{DB_ENV} is not set: start the hub with 'store-edge hub serve --db ... --workers N'")
    storage = HubStorage.open(target)
    app = make_hub_app(storage, webhook_url=os.environ.get(WEBHOOK_ENV) or None, jobs_interval_s=_jobs_interval())
    return _ClosesStorage(app, storage)
