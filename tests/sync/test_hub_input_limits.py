"""Hub input limits (issue 12 item 4), attacked over HTTP on 127.0.0.1: a chunked 200 MB body is cut at the
limit while it streams (the hub's memory stays bounded), JSON nested 5,000 deep, ``?limit=²`` and oversized
cursors answer 400 with a sentence."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync import protocol
from sync.hub.server import HubServer
from tests.support.hub import seed

MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``store-edge hub serve`` as its own process (so its memory can be read from /proc)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "hub", "serve", "--db", str(tmp_path / "hub.db"),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "STORE_EDGE_DATA_DIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "hub exited"
            assert time.monotonic() < deadline, "the hub did not start"
            time.sleep(0.1)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(10)


def _lazy_chunks(total: int, size: int = MB) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * size  # JSON whitespace: only the size matters
        sent += size


def _send_chunked(port: int, path: str, total: int) -> tuple[bytes, int]:
    """POST ``total`` bytes with Transfer-Encoding: chunked, generated while sending; stops sending as soon as
    the hub answers. Returns (the answer's first bytes, body bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sent = 0
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        for chunk in _lazy_chunks(total):
            if select.select([sock], [], [], 0)[0]:
                break  # the hub has answered
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break  # the hub closed the connection: read its answer
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer, sent
    finally:
        sock.close()


def test_chunked_200mb_body_is_cut_at_the_limit_and_hub_memory_stays_bounded(
        hub_process: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = hub_process
    before_kb = _status_kb(proc.pid, "VmRSS")
    answer, sent = _send_chunked(port, "/v1/enroll", 200 * MB)  # no credential needed on /v1/enroll
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 120 * MB, f"the hub read {sent // MB} MB before refusing"
    peak_kb = _status_kb(proc.pid, "VmHWM")
    growth_mb = (peak_kb - before_kb) / 1024
    # the limit is 32 MB (protocol.MAX_PUSH_BYTES): before, the hub grew by the whole body (60 -> 442 MB)
    assert growth_mb < 100, f"hub memory grew by {growth_mb:.0f} MB for a refused body"
    assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5).status_code == 200
    answer, _ = _send_chunked(port, "/v1/events", 200 * MB)  # no credential: refused before the body is read
    assert answer.split(b" ", 2)[1] in (b"401", b"413"), answer[:200]


def test_a_declared_length_over_the_limit_is_refused_before_reading(sqlite_hub: HubServer) -> None:
    with socket.create_connection(("127.0.0.1", sqlite_hub.port), timeout=10) as sock:
        sock.sendall(f"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: {200 * MB}\r\n\r\n".encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def _token(hub: HubServer) -> dict[str, str]:
    codes = seed(hub.storage, {"s1": ["t1"]}, {"ada": ("s1", 10)})
    token = httpx.post(f"{hub.url}/v1/enroll", json={"code": codes["t1"]}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _refused_in_words(response: httpx.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    body = response.json()
    assert body["error"] in ("bad_request", "unsupported_protocol")
    assert "Traceback" not in response.text and len(body["message"]) > 20
    return str(body["message"])


def test_json_nested_5000_deep_answers_400_with_a_sentence(hub: HubServer) -> None:
    auth = _token(hub)
    deep = b"[" * 5000 + b"]" * 5000
    message = _refused_in_words(httpx.post(f"{hub.url}/v1/events", content=deep, headers=auth))
    assert "deeper" in message
    deep_object = b'{"a":' * 5000 + b"1" + b"}" * 5000
    assert "deeper" in _refused_in_words(httpx.post(f"{hub.url}/v1/enroll", content=deep_object))
    with_nan = b'{"x": NaN, "y": ' + deep + b"}"  # orjson refuses NaN: the stdlib parser gets it
    assert "deeper" in _refused_in_words(httpx.post(f"{hub.url}/v1/events", content=with_nan, headers=auth))
    assert httpx.get(f"{hub.url}/v1/changes", headers=auth).status_code == 200


@pytest.mark.parametrize("query", ["limit=²", "limit=١٢", "limit=99999999999999999999999", "limit=0",
                                   "cursor=c1.²", "cursor=c1.99999999999999999999", "cursor=c1.9999999999999999999",
                                   "cursor=c2.9999999999999999999.1", "cursor=c2.1.²", "cursor=c1." + "9" * 5000,
                                   "cursor=" + "x" * 10_000])
def test_bad_query_parameters_answer_400(hub: HubServer, query: str) -> None:
    auth = _token(hub)
    message = _refused_in_words(httpx.get(f"{hub.url}/v1/changes?{query}", headers=auth))
    assert ("limit" in message) if query.startswith("limit") else ("cursor" in message)


def test_good_cursors_and_limits_still_page(hub: HubServer) -> None:
    auth = _token(hub)
    page = httpx.get(f"{hub.url}/v1/changes?limit={protocol.MAX_PULL_LIMIT}", headers=auth).json()
    again = httpx.get(f"{hub.url}/v1/changes", params={"cursor": page["cursor"], "limit": "1"}, headers=auth)
    assert again.status_code == 200 and again.json()["changes"] == []
