"""sd_notify over a real AF_UNIX datagram socket, as systemd sets it up for Type=notify services."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from edge.ops import sdnotify


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_status_watchdog_and_stopping_reach_the_socket(notify_socket: socket.socket) -> None:
    assert sdnotify.ready("till ready")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=till ready"
    assert sdnotify.watchdog()
    assert notify_socket.recv(4096) == b"WATCHDOG=1"
    assert sdnotify.status("syncing")
    assert notify_socket.recv(4096) == b"STATUS=syncing"
    assert sdnotify.stopping()
    assert notify_socket.recv(4096) == b"STOPPING=1"


def test_abstract_socket_address(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"store-edge-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready()
        assert sock.recv(100) == b"READY=1"


def test_without_systemd_every_call_is_a_harmless_no_op(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))  # systemd went away: never raise
    assert sdnotify.watchdog() is False


def test_watchdog_interval_follows_watchdog_usec_and_pid() -> None:
    pid = str(os.getpid())
    assert sdnotify.watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": pid}) == 30.0
    assert sdnotify.ping_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert sdnotify.watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval_s({}) is None


def test_pinger_pings_only_while_healthy(notify_socket: socket.socket) -> None:
    healthy = [True]
    pinger = sdnotify.WatchdogPinger(lambda: healthy[0], interval_s=0.02).start()
    try:
        assert notify_socket.recv(100) == b"WATCHDOG=1"
        healthy[0] = False
        time.sleep(0.1)
        notify_socket.setblocking(False)
        while True:  # drain pings sent before the flag flipped
            try:
                notify_socket.recv(100)
            except BlockingIOError:
                break
        time.sleep(0.1)
        with pytest.raises(BlockingIOError):
            notify_socket.recv(100)
    finally:
        pinger.stop()
