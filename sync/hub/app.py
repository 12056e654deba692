"""The hub's ASGI app (Starlette): module-level endpoints, Starlette's exception handlers.

The app holds no process state besides ``app.state.storage`` (opened per process), so several processes can
serve one PostgreSQL database (``make_hub_app_from_config``). Storage calls block, so they run in the thread
pool. Errors answer ``{"error": code, "message": sentence}``: ``HubError`` with its status, a malformed body
400, a busy database 503 with ``Retry-After``, anything else 500 (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sync import protocol
from sync.hub import member_api
from sync.hub.common import DeviceAuth, HubError, now_iso
from sync.hub.lookup import check_query
from sync.hub.openapi import spec
from sync.hub.storage import HubStorage, is_unique_violation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubConfig:
    """Everything a hub process needs to build its app: the database (SQLite path or ``postgresql://`` DSN,
    with an optional PostgreSQL schema) and the webhook settings (seconds)."""

    db: str
    schema: str | None = None
    webhook_url: str | None = None
    webhook_interval_s: float = 0.5
    webhook_retry_base_s: float = 0.5


def _error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


GZIP_MIN_BYTES = 1024  # smaller answers are sent as they are


class ProtocolVersionGuard:
    """A request under ``/v1`` in another protocol version is refused before it is read. A missing header counts
    as version 1 so that curl and web shops calling /v1 need not send it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(protocol.API_PREFIX + "/"):
            version = Request(scope).headers.get(protocol.VERSION_HEADER)
            if version is not None and version.strip() != str(protocol.PROTOCOL_VERSION):
                response = _error("unsupported_protocol",
                                  f"this till speaks sync protocol {version.strip()[:20]}; the hub speaks "
                                  f"{protocol.PROTOCOL_VERSION} - upgrade the hub or the till", 400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ------------------------------------------------------------------------------------------- exception handlers
async def _hub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubError)
    return _error(exc.code, str(exc), exc.status)


async def _protocol_error(request: Request, exc: Exception) -> Response:
    return _error("bad_request", str(exc), 400)


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "deadlock" in text or "could not serialize" in text


async def _database_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DataError):  # a value the database cannot hold (a NUL character on PostgreSQL, ...)
        log.warning("hub refused a value: %s %s: %s", request.method, request.url.path, " ".join(str(exc).split())[:300])
        return _error("bad_request", "the request holds a value the hub database cannot store "
                      "(such as a NUL character or a number out of range)", 400)
    if isinstance(exc, IntegrityError) and is_unique_violation(exc):  # still there after HubStorage's reruns
        log.warning("hub refused a duplicate: %s %s: %s", request.method, request.url.path,
                    " ".join(str(exc.orig).split())[:300])
        return _error("conflict", "the request names something another record of the hub already holds "
                      "(an id, card number or external id); send a new one", 409)
    if _is_busy(exc):
        return _error("busy", "the hub is busy; retry shortly", 503, {"Retry-After": "1"})
    log.error("hub request failed: %s %s", request.method, request.url.path, exc_info=exc)
    return _error("internal", "the hub failed to handle this request; it was logged", 500)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("hub request failed: %s %s", request.method, request.url.path, exc_info=exc)
    return _error("internal", "the hub failed to handle this request; it was logged", 500)


# ------------------------------------------------------------------------------------------- request helpers
def _storage(request: Request) -> HubStorage:
    return request.app.state.storage  # type: ignore[no-any-return]


async def _device(request: Request) -> DeviceAuth:
    return await run_in_threadpool(_storage(request).authenticate, _bearer(request))


async def _require_api_key(request: Request, scope: str) -> None:
    key = _bearer(request)
    if not key:
        raise HubError("unauthorized", "this call needs an API key created with 'store-edge hub create-api-key'", 401)
    if not await run_in_threadpool(_storage(request).check_api_key, key, scope):
        raise HubError("forbidden", f"this call needs an API key with the '{scope}' scope: create one with "
                       f"'store-edge hub create-api-key NAME --scope {scope}'", 403)


def _too_large(limit: int = protocol.MAX_PUSH_BYTES) -> HubError:
    return HubError("too_large", f"the body exceeds {limit} bytes; send smaller batches"
                    if limit == protocol.MAX_PUSH_BYTES else f"the body exceeds {limit} bytes", 413)


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, counted while it streams in (chunked too) and refused (413) as soon as it passes
    ``limit`` bytes, so a huge body never sits whole in the hub's memory. A declared Content-Length over the
    limit is refused before anything is read."""
    length = request.headers.get("content-length", "")
    if _is_ascii_digits(length) and int(length) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise _too_large(limit)
        body += chunk
    return bytes(body)


async def _checked_json_body(request: Request) -> tuple[Any, bool]:
    body = await _bounded_body(request, protocol.MAX_PUSH_BYTES)
    return protocol.decode_body_checked(body, request.headers.get("content-encoding"))


def _is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 (``str.isdigit`` also accepts '²' and other scripts' digits)."""
    return text.isascii() and text.isdigit()


_CURSOR = re.compile(r"c[12]\.[0-9]{1,19}(\.[0-9]{1,19})?")
_MAX_INT64 = 2**63 - 1


def _cursor_param(request: Request) -> str | None:
    """``?cursor=`` as issued by this hub (``c1.<version>`` or ``c2.<txid>.<version>``, each a 64-bit number),
    or None; anything else is a 400 with a sentence, before the database sees it."""
    cursor = request.query_params.get("cursor")
    if not cursor:
        return None
    match = _CURSOR.fullmatch(cursor) if cursor.isascii() else None
    if match is None or (cursor.startswith("c1.") and match.group(1)) or \
            any(int(part) > _MAX_INT64 for part in cursor[3:].split(".")):
        raise HubError("bad_request", f"the cursor {cursor[:40]!r} was not issued by this hub; pull again from "
                       "the start", 400)
    return cursor


async def _json_body(request: Request) -> Any:
    return (await _checked_json_body(request))[0]


# ------------------------------------------------------------------------------------------- endpoints
async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "protocol": protocol.PROTOCOL_VERSION})


async def openapi(request: Request) -> Response:
    return JSONResponse(spec())


async def enroll(request: Request) -> Response:
    doc = await _json_body(request)
    code = doc.get("code") if isinstance(doc, dict) else None
    if not isinstance(code, str) or not code.strip():
        raise HubError("bad_request", "send {\"code\": \"...\"} with the one-time enrolment code", 400)
    e = await run_in_threadpool(_storage(request).enroll, code)
    return JSONResponse({"device_id": e.device_id, "store_id": e.store_id, "token": e.token,
                         "protocol": protocol.PROTOCOL_VERSION})


async def push(request: Request) -> Response:
    dev = await _device(request)
    doc, finite = await _checked_json_body(request)
    events = protocol.parse_push(doc)
    results = await run_in_threadpool(functools.partial(_storage(request).push, dev, events, finite_numbers=finite))
    answer = {"results": [r.to_json() for r in results], "server_time": now_iso()}
    body = protocol.dumps_utf8(answer)  # the bytes JSONResponse would render, built faster
    return JSONResponse(answer) if body is None else Response(body, media_type="application/json")


async def changes(request: Request) -> Response:
    dev = await _device(request)
    limit_raw = request.query_params.get("limit", "500")
    if not _is_ascii_digits(limit_raw) or len(limit_raw) > 6 or not 1 <= int(limit_raw) <= protocol.MAX_PULL_LIMIT:
        raise HubError("bad_request", f"limit must be a whole number from 1 to {protocol.MAX_PULL_LIMIT}", 400)
    page = await run_in_threadpool(_storage(request).changes, dev, _cursor_param(request), int(limit_raw))
    answer = page.to_json()
    body = protocol.dumps_utf8(answer)  # the bytes JSONResponse would render, built faster
    return JSONResponse(answer) if body is None else Response(body, media_type="application/json")


async def orders(request: Request) -> Response:
    """A web/app order earns, burns and counts spend by the till's rules (``sync/hub/orders.py``)."""
    await _require_api_key(request, "orders")
    doc = await _json_body(request)
    outcome = await run_in_threadpool(_storage(request).place_order, doc)
    return JSONResponse(outcome, status_code=201 if outcome["recorded"] else 200)


async def quote_order(request: Request) -> Response:
    """What an order would cost and earn at the hub, without placing it (the shop's checkout asks first)."""
    await _require_api_key(request, "orders")
    doc = await _json_body(request)
    return JSONResponse(await run_in_threadpool(_storage(request).quote_order, doc))


async def cancel_order(request: Request) -> Response:
    await _require_api_key(request, "orders")
    outcome = await run_in_threadpool(_storage(request).cancel_order, request.path_params["order_id"])
    return JSONResponse(outcome)


async def order_return(request: Request) -> Response:
    await _require_api_key(request, "orders")
    doc = await _json_body(request)
    outcome = await run_in_threadpool(_storage(request).return_order, request.path_params["order_id"], doc)
    return JSONResponse(outcome, status_code=201 if outcome["recorded"] else 200)


async def sightings(request: Request) -> Response:
    # the app backend reports that a store beacon woke the customer's app (iOS background path)
    await _require_api_key(request, "sightings")
    doc = await _json_body(request)
    result = await run_in_threadpool(_storage(request).record_sighting, doc)
    return JSONResponse(result, status_code=201 if result["recorded"] else 200)


async def member_lookup(request: Request) -> Response:
    # a till asks who an unknown card / phone / e-mail / app code belongs to (sync/hub/lookup.py)
    dev = await _device(request)
    kind, value = check_query(dict(request.query_params))
    answer = await run_in_threadpool(_storage(request).lookup_member, dev, kind, value)
    if answer.outcome == "found":
        return JSONResponse({"found": True, "message": answer.message, "customer": answer.customer})
    if answer.outcome == "limited":
        return _error("too_many_lookups", answer.message, 429, {"Retry-After": str(answer.retry_after_s)})
    return _error(answer.outcome, answer.message, 404)


async def member_claims(request: Request) -> Response:
    # the app backend claims a guest receipt for its member (sync/hub/claims.py)
    await _require_api_key(request, "members:write")
    doc = await _json_body(request)
    code = doc.get("code") if isinstance(doc, dict) else None
    if not isinstance(code, str) or not 1 <= len(code) <= 40:
        raise HubError("bad_request", "send {\"code\": \"...\"} with the receipt's claim code", 400)
    claimed = await run_in_threadpool(_storage(request).claim_receipt, request.path_params["customer_id"], code)
    return JSONResponse({"sale_id": claimed.sale_id, "customer_id": claimed.customer_id, "points": claimed.points,
                         "message": f"{claimed.points} points added for the claimed receipt"}, status_code=201)


_CLAIM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


async def reward_catalogue(request: Request) -> Response:
    await _require_api_key(request, "rewards")
    return JSONResponse({"rewards": await run_in_threadpool(_storage(request).rewards)})


async def claim_reward(request: Request) -> Response:
    """A member claims a reward (the app): body ``{}`` or ``{"claim_id": "..."}`` (the app's own id, so a retry
    is answered with the first claim, 200); 201 with the claim, 404 unknown member or reward, 409 not enough
    points."""
    await _require_api_key(request, "rewards")
    body = await _bounded_body(request, 4096)
    doc: Any = {}
    if body.strip():
        doc = protocol.decode_body_checked(body, request.headers.get("content-encoding"))[0]
    if not isinstance(doc, dict):
        raise HubError("bad_request", "the body must be a JSON object: {} or {\"claim_id\": \"...\"}", 400)
    claim_id = doc.get("claim_id")
    if claim_id is not None and (not isinstance(claim_id, str) or not claim_id.isascii()
                                 or not _CLAIM_ID.fullmatch(claim_id)):
        raise HubError("bad_request", "'claim_id' must be 1 to 64 letters, digits, '.', '_' or '-'", 400)
    member, reward = request.path_params["member"], request.path_params["reward"]
    answer, made = await run_in_threadpool(_storage(request).claim_reward, member, reward, claim_id)
    return JSONResponse(answer, status_code=201 if made else 200)


async def exceptions_report(request: Request) -> Response:
    await _require_api_key(request, "reports")
    rows = await run_in_threadpool(_storage(request).exceptions, request.query_params.get("kind"))
    return JSONResponse({"exceptions": rows})


async def liability_report(request: Request) -> Response:
    await _require_api_key(request, "reports")
    return JSONResponse(await run_in_threadpool(_storage(request).liability))


ROUTES = [
    Route("/v1/health", health, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/v1/enroll", enroll, methods=["POST"]),
    Route("/v1/events", push, methods=["POST"]),
    Route("/v1/changes", changes, methods=["GET"]),
    Route("/v1/orders", orders, methods=["POST"]),
    Route("/v1/orders/quote", quote_order, methods=["POST"]),
    Route("/v1/orders/{order_id}/cancel", cancel_order, methods=["POST"]),
    Route("/v1/orders/{order_id}/returns", order_return, methods=["POST"]),
    Route("/v1/sightings", sightings, methods=["POST"]),
    Route("/v1/members/lookup", member_lookup, methods=["GET"]),
    Route("/v1/members/{customer_id}/claims", member_claims, methods=["POST"]),
    Route("/v1/admin/exceptions", exceptions_report, methods=["GET"]),
    Route("/v1/rewards", reward_catalogue, methods=["GET"]),
    Route("/v1/members/{member}/rewards/{reward}/claim", claim_reward, methods=["POST"]),
    Route("/v1/admin/liability", liability_report, methods=["GET"]),
    # the member API (sync/hub/member_api.py) last: a fixed path such as /v1/members/lookup goes above it
    *member_api.ROUTES,
]
EXCEPTION_HANDLERS: Any = {HubError: _hub_error, protocol.ProtocolError: _protocol_error,
                           DBAPIError: _database_error, Exception: _internal_error}


# ------------------------------------------------------------------------------------------- the app
@contextlib.asynccontextmanager
async def _background(work: Coroutine[Any, Any, None] | None) -> AsyncIterator[None]:
    """Run ``work`` (None: nothing) as a task while the block runs, then cancel it and wait for it to end."""
    task = asyncio.create_task(work) if work is not None else None
    try:
        yield
    finally:
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def _webhooks(storage: HubStorage, url: str | None, interval_s: float, retry_base_s: float
                    ) -> AsyncIterator[None]:
    """Run the webhook deliverer while the app runs (when a URL is given or configured)."""
    from sync.hub.webhooks import WebhookDeliverer

    url = url or await run_in_threadpool(storage.get_config, "webhook_url")
    work = None
    if url:
        secret = await run_in_threadpool(storage.get_config, "webhook_secret")
        work = WebhookDeliverer(storage, url, base_s=retry_base_s, secret=secret).run_forever(interval_s)
    async with _background(work):
        yield


@contextlib.asynccontextmanager
async def _jobs(storage: HubStorage, interval_s: float | None) -> AsyncIterator[None]:
    """Run the programme's jobs (points expiry, tier evaluation: ``sync.hub.jobs``) every ``interval_s``
    seconds while the app runs, the first run at start-up; None or 0: never. A failed run is logged and the
    next one tries again (the jobs are idempotent)."""

    async def loop(every: float) -> None:
        while True:
            try:
                done = await run_in_threadpool(storage.run_jobs)
                log.info("programme jobs: %s", done)
            except Exception:  # the hub keeps serving; the next run retries
                log.exception("the programme jobs failed; retrying in %.0f s", every)
            await asyncio.sleep(every)

    async with _background(loop(interval_s) if interval_s else None):
        yield


def _build(lifespan: Any) -> Starlette:
    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    app.add_middleware(ProtocolVersionGuard)
    # pulls of a catalogue change are large and repetitive JSON (~1.7 MB per 10,000 products): gzip them for
    # tills on slow store links; httpx (the sync client) asks for it by default
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6)
    return app


def make_hub_app(storage: HubStorage, *, webhook_url: str | None = None,
                 webhook_interval_s: float = 0.5, webhook_retry_base_s: float = 0.5,
                 jobs_interval_s: float | None = None) -> Starlette:
    """The hub on an open ``storage``. ``webhook_url`` (or the ``webhook_url`` config key) receives presence
    notifications; ``jobs_interval_s``: run the programme's jobs that often (``hub serve``; None: never)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _webhooks(storage, webhook_url, webhook_interval_s, webhook_retry_base_s), \
                _jobs(storage, jobs_interval_s):
            yield

    app = _build(lifespan)
    app.state.storage = storage
    return app


def make_hub_app_from_config(config: HubConfig) -> Starlette:
    """The hub for one worker process: the database is opened at start-up and closed at shutdown, so the app
    can be built before a fork and each process has its own pool."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        storage = await run_in_threadpool(functools.partial(HubStorage.open, config.db, schema_name=config.schema))
        app.state.storage = storage
        try:
            async with _webhooks(storage, config.webhook_url, config.webhook_interval_s, config.webhook_retry_base_s):
                yield
        finally:
            await run_in_threadpool(storage.close)

    return _build(lifespan)
