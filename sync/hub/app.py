"""The hub's ASGI app (Starlette). Storage calls block, so they run in the thread pool."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync import protocol
from sync.hub.openapi import spec
from sync.hub.storage import DeviceAuth, HubError, HubStorage, now_iso

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def _error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _protocol_refusal(request: Request) -> Response | None:
    """A request in another protocol version is refused before it is read. A missing header counts as
    version 1 so that curl and web shops calling /v1 need not send it."""
    version = request.headers.get(protocol.VERSION_HEADER)
    if version is None or version.strip() == str(protocol.PROTOCOL_VERSION):
        return None
    return _error("unsupported_protocol",
                  f"this till speaks sync protocol {version.strip()[:20]}; the hub speaks "
                  f"{protocol.PROTOCOL_VERSION} - upgrade the hub or the till", 400)


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "deadlock" in text or "could not serialize" in text


def make_hub_app(storage: HubStorage, *, webhook_url: str | None = None,
                 webhook_interval_s: float = 0.5, webhook_retry_base_s: float = 0.5) -> Starlette:
    """The hub. ``webhook_url`` (or the ``webhook_url`` config key) receives presence notifications."""

    def guarded(fn: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            refusal = _protocol_refusal(request)
            if refusal is not None:
                return refusal
            try:
                return await fn(request)
            except HubError as exc:
                return _error(exc.code, str(exc), exc.status)
            except protocol.ProtocolError as exc:
                return _error("bad_request", str(exc), 400)
            except Exception as exc:
                if _is_busy(exc):
                    return _error("busy", "the hub is busy; retry shortly", 503, {"Retry-After": "1"})
                log.exception("hub request failed")
                return _error("internal", "the hub failed to handle this request; it was logged", 500)
        return wrapper

    async def device(request: Request) -> DeviceAuth:
        return await run_in_threadpool(storage.authenticate, _bearer(request))

    async def require_api_key(request: Request) -> None:
        key = _bearer(request)
        if not key or not await run_in_threadpool(storage.check_api_key, key):
            raise HubError("unauthorized", "this call needs an API key created with 'store-edge hub create-api-key'", 401)

    async def json_body(request: Request) -> Any:
        return (await checked_json_body(request))[0]

    async def checked_json_body(request: Request) -> tuple[Any, bool]:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > protocol.MAX_PUSH_BYTES:
            raise HubError("too_large", f"the body exceeds {protocol.MAX_PUSH_BYTES} bytes; send smaller batches", 413)
        body = await request.body()
        return protocol.decode_body_checked(body, request.headers.get("content-encoding"))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "protocol": protocol.PROTOCOL_VERSION})

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec())

    async def enroll(request: Request) -> Response:
        doc = await json_body(request)
        code = doc.get("code") if isinstance(doc, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise HubError("bad_request", "send {\"code\": \"...\"} with the one-time enrolment code", 400)
        e = await run_in_threadpool(storage.enroll, code)
        return JSONResponse({"device_id": e.device_id, "store_id": e.store_id, "token": e.token,
                             "protocol": protocol.PROTOCOL_VERSION})

    async def push(request: Request) -> Response:
        dev = await device(request)
        doc, finite = await checked_json_body(request)
        events = protocol.parse_push(doc)
        results = await run_in_threadpool(functools.partial(storage.push, dev, events, finite_numbers=finite))
        answer = {"results": [r.to_json() for r in results], "server_time": now_iso()}
        body = protocol.dumps_utf8(answer)  # the bytes JSONResponse would render, built faster
        return JSONResponse(answer) if body is None else Response(body, media_type="application/json")

    async def changes(request: Request) -> Response:
        dev = await device(request)
        limit_raw = request.query_params.get("limit", "500")
        if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= protocol.MAX_PULL_LIMIT:
            raise HubError("bad_request", f"limit must be a whole number from 1 to {protocol.MAX_PULL_LIMIT}", 400)
        page = await run_in_threadpool(storage.changes, dev, request.query_params.get("cursor"), int(limit_raw))
        return JSONResponse(page.to_json())

    async def orders(request: Request) -> Response:
        await require_api_key(request)
        doc = await json_body(request)
        order = _check_order(doc)
        created = await run_in_threadpool(storage.record_order, order)
        return JSONResponse({"order_id": order["order_id"], "recorded": created}, status_code=201 if created else 200)

    async def sightings(request: Request) -> Response:
        # the app backend reports that a store beacon woke the customer's app (iOS background path)
        await require_api_key(request)
        doc = await json_body(request)
        result = await run_in_threadpool(storage.record_sighting, doc)
        return JSONResponse(result, status_code=201 if result["recorded"] else 200)

    async def exceptions_report(request: Request) -> Response:
        await require_api_key(request)
        rows = await run_in_threadpool(storage.exceptions, request.query_params.get("kind"))
        return JSONResponse({"exceptions": rows})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from sync.hub.webhooks import WebhookDeliverer

        url = webhook_url or await run_in_threadpool(storage.get_config, "webhook_url")
        task = None
        if url:
            secret = await run_in_threadpool(storage.get_config, "webhook_secret")
            deliverer = WebhookDeliverer(storage, url, base_s=webhook_retry_base_s, secret=secret)
            task = asyncio.create_task(deliverer.run_forever(webhook_interval_s))
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    routes = [
        Route("/v1/health", guarded(health), methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/v1/enroll", guarded(enroll), methods=["POST"]),
        Route("/v1/events", guarded(push), methods=["POST"]),
        Route("/v1/changes", guarded(changes), methods=["GET"]),
        Route("/v1/orders", guarded(orders), methods=["POST"]),
        Route("/v1/sightings", guarded(sightings), methods=["POST"]),
        Route("/v1/admin/exceptions", guarded(exceptions_report), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.storage = storage
    return app


def _check_order(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise HubError("bad_request", "the order must be a JSON object", 400)
    problems = []
    oid, cid = doc.get("order_id"), doc.get("customer_id")
    if not isinstance(oid, str) or not 1 <= len(oid) <= 64:
        problems.append("'order_id' must be a string of 1 to 64 characters")
    if not isinstance(cid, str) or not cid:
        problems.append("'customer_id' must be a string")
    if doc.get("channel") not in ("web", "app"):
        problems.append("'channel' must be 'web' or 'app'")
    total = doc.get("total_cents")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0 or total > 10**12:
        problems.append("'total_cents' must be a non-negative whole number")
    for name in ("status", "created_at"):
        if name in doc and not isinstance(doc[name], str):
            problems.append(f"'{name}' must be a string")
    if doc.get("pickup_store_id") is not None and not isinstance(doc.get("pickup_store_id"), str):
        problems.append("'pickup_store_id' must be a string")
    lines = doc.get("lines", [])
    if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
        problems.append("'lines' must be a list of objects")
    if problems:
        raise HubError("bad_request", "; ".join(problems), 400)
    return {"order_id": oid, "customer_id": cid, "channel": doc["channel"], "total_cents": total,
            "status": doc.get("status", "placed"), "pickup_store_id": doc.get("pickup_store_id"),
            "created_at": doc.get("created_at"), "lines": lines}
