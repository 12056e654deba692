"""A fault-injecting HTTP/1.1 proxy for tests and simulations (real TCP on 127.0.0.1).

Each request passing through is given at most one fault, drawn with the configured probabilities:
dropped mid-request, dropped mid-response (after the hub handled it), delayed, answered 500/503 by the
proxy, answered 500 after the hub handled it, answered with garbage, or delivered to the hub twice.
``offline = True`` makes the proxy hang up on every connection, as an unplugged uplink would.

Usage::

    with FaultProxy("127.0.0.1", hub_port, Faults(drop_response=0.1, seed=7)) as proxy:
        client = SyncClient(db, cred, hub_url=proxy.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

HEAD_LIMIT = 64 * 1024


@dataclass
class Faults:
    drop_request: float = 0.0
    drop_response: float = 0.0
    delay: float = 0.0
    http_500: float = 0.0
    http_503: float = 0.0
    error_after_forward: float = 0.0
    garbage: float = 0.0
    duplicate: float = 0.0
    delay_range_s: tuple[float, float] = (0.05, 0.3)
    retry_after: str = "0"
    seed: int | None = None

    def kinds(self) -> list[tuple[str, float]]:
        return [(k, getattr(self, k)) for k in ("drop_request", "drop_response", "delay", "http_500", "http_503",
                                               "error_after_forward", "garbage", "duplicate")]


class _Closed(Exception):
    pass


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 message (head + body by Content-Length or chunked); raises _Closed at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
        raise _Closed from exc
    lower = head.lower()
    body = b""
    if b"transfer-encoding: chunked" in lower:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            chunk = await reader.readexactly(size + 2)
            body += size_line + chunk
            if size == 0:
                break
    else:
        for line in lower.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                n = int(line.split(b":", 1)[1].strip())
                try:
                    body = await reader.readexactly(n)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    raise _Closed from exc
                break
    return head + body


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode() + body


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, faults: Faults | None = None, *,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.counts: Counter[str] = Counter()
        self.offline = False
        # awaited with (request, hub's answer) after the hub answered and before the answer is relayed: a
        # simulation holds it there to kill the client while its request is on the wire
        self.on_forwarded: Callable[[bytes, bytes], Awaitable[None]] | None = None
        # a request (head + body as sent) for which this returns True is answered 500 without reaching the
        # hub, every time: a hub that fails on one particular event, as a poison row would make it
        self.poison: Callable[[bytes], bool] | None = None
        self._bind = (host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._bind[0]}:{self.port}"

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def _pick(self) -> str:
        roll = self.rng.random()
        for kind, p in self.faults.kinds():
            if roll < p:
                return kind
            roll -= p
        return "pass"

    async def _forward(self, request: bytes) -> bytes:
        r, w = await asyncio.open_connection(*self.upstream)
        try:
            w.write(request)
            await w.drain()
            return await _read_message(r)
        finally:
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                if self.offline:
                    return
                try:
                    request = await _read_message(reader)
                except _Closed:
                    return
                fault = "poison" if self.poison is not None and self.poison(request) else self._pick()
                self.counts[fault] += 1
                if fault == "poison":
                    writer.write(_response("500 Internal Server Error", b'{"error":"internal","message":"poison"}'))
                    await writer.drain()
                    continue
                if fault == "drop_request":
                    r, w = await asyncio.open_connection(*self.upstream)
                    w.write(request[: max(1, len(request) // 2)])
                    await w.drain()
                    w.close()
                    return
                if fault == "delay":
                    await asyncio.sleep(self.rng.uniform(*self.faults.delay_range_s))
                if fault == "http_500":
                    writer.write(_response("500 Internal Server Error", b'{"error":"internal","message":"proxy"}'))
                    await writer.drain()
                    return
                if fault == "http_503":
                    writer.write(_response("503 Service Unavailable", b'{"error":"busy","message":"proxy"}',
                                           f"Retry-After: {self.faults.retry_after}\r\n"))
                    await writer.drain()
                    return
                try:
                    response = await self._forward(request)
                    if fault == "duplicate":
                        response = await self._forward(request)
                except (OSError, _Closed, asyncio.IncompleteReadError):
                    return  # the hub is down or hung up: so do we
                if self.on_forwarded is not None:
                    await self.on_forwarded(request, response)
                if fault == "drop_response":
                    writer.write(response[: max(1, len(response) // 2)])
                    await writer.drain()
                    return
                if fault == "error_after_forward":
                    response = _response("500 Internal Server Error", b'{"error":"internal","message":"late"}')
                elif fault == "garbage":
                    junk = bytes(self.rng.getrandbits(8) for _ in range(64))
                    response = junk if self.rng.random() < 0.5 else _response("200 OK", junk)
                writer.write(response)
                await writer.drain()
                if fault in ("error_after_forward", "garbage"):
                    return
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, *self._bind, limit=HEAD_LIMIT * 1024)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        loop.run_until_complete(start())
        loop.run_forever()
        loop.close()

    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            if self._server:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        fut = asyncio.run_coroutine_threadsafe(shutdown(), loop)
        with contextlib.suppress(Exception):
            fut.result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
