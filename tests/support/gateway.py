"""A reverse proxy in front of a test hub, as nginx stands in front of a real one: it can refuse large bodies
(413) or answer pushes itself (503 with Retry-After), and records every request it saw."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass
class Seen:
    """One request through the gateway: when it arrived, how many events it pushed (None: not a push), and
    the status it got."""

    at: float
    events: int | None
    status: int


class Gateway:
    """A reverse proxy in front of the hub, like the nginx of a real deployment: requests whose body exceeds
    ``max_body`` bytes get 413; ``answer`` may answer a request itself (e.g. 503 with Retry-After)."""

    def __init__(self, upstream: str, max_body: int | None = None,
                 answer: Callable[[int], tuple[int, dict[str, str]] | None] | None = None) -> None:
        self.upstream, self.max_body, self.answer = upstream, max_body, answer
        self.seen: list[Seen] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                events = None
                if self.command == "POST" and self.path.startswith("/v1/events"):
                    gzipped = self.headers.get("Content-Encoding") == "gzip"
                    events = len(json.loads(gzip.decompress(body) if gzipped else body)["events"])
                seen = Seen(arrived, events, 0)  # recorded on arrival: a stalled request keeps its place
                gateway.seen.append(seen)
                status, extra, payload = gateway._decide(len(body), events)
                if status == 0:
                    up = httpx.request(self.command, gateway.upstream + self.path, content=body, timeout=30,
                                       headers={k: v for k, v in self.headers.items()
                                                if k.lower() not in ("host", "content-length", "connection")})
                    status, payload = up.status_code, up.content
                seen.status = status
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _decide(self, length: int, events: int | None) -> tuple[int, dict[str, str], bytes]:
        if self.max_body is not None and length > self.max_body:
            return 413, {}, b'{"error":"too_large","message":"request entity too large"}'
        verdict = self.answer(events or 0) if self.answer and events is not None else None
        if verdict is not None:
            return verdict[0], verdict[1], b'{"error":"busy","message":"try later"}'
        return 0, {}, b""

    def pushes(self) -> list[Seen]:
        return sorted((s for s in self.seen if s.events is not None), key=lambda s: s.at)

    def __enter__(self) -> Gateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
