"""A tiny sd_notify client: tells systemd we are ready, alive (watchdog) and what we are doing.

systemd passes ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract socket) to ``Type=notify`` services;
outside systemd every call is a cheap no-op, so the till and the sync loop may call these unconditionally.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping


def _address(environ: Mapping[str, str]) -> str | None:
    path = environ.get("NOTIFY_SOCKET", "")
    if not path or path[0] not in "/@":
        return None  # unset, or a vsock/unsupported address: nothing to tell
    return "\0" + path[1:] if path[0] == "@" else path


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one datagram such as ``READY=1``; returns False when there is no systemd to tell (or it failed)."""
    address = _address(os.environ if environ is None else environ)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False  # a lost heartbeat must never take the till down; systemd's watchdog will say so
    return True


def ready(status: str | None = None) -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """How often systemd expects ``WATCHDOG=1`` (``WatchdogSec=``), or None when no watchdog is armed for us."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # the variable was inherited from a parent the watchdog is meant for
    return int(usec) / 1_000_000


def ping_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Half the watchdog period, as sd_watchdog_enabled(3) recommends."""
    interval = watchdog_interval_s(environ)
    return None if interval is None else interval / 2


class WatchdogPinger:
    """A daemon thread sending ``WATCHDOG=1`` while ``healthy()`` says the service's own loop is making progress.

    For loops that block for longer than the watchdog period (the sync back-off can wait minutes), so the
    heartbeat cannot come from the loop itself. When ``healthy()`` turns False the pings stop and systemd
    restarts the service.
    """

    def __init__(self, healthy: Callable[[], bool] = lambda: True, interval_s: float | None = None) -> None:
        self.interval_s = interval_s if interval_s is not None else ping_interval_s()
        self.healthy = healthy
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WatchdogPinger:
        if self.interval_s and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.interval_s is not None
        while not self._stop.wait(self.interval_s):
            if self.healthy():
                watchdog()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
