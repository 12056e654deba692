"""Globally unique, time-ordered ids (UUIDv7, RFC 9562) for events, sales and ledger entries."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

_lock = threading.Lock()
# ids must be unique, not secret: a per-process generator seeded from the OS avoids two syscalls per id
_rng = random.Random(os.urandom(16))


def _reseed_after_fork() -> None:
    global _last_ms, _counter
    _rng.seed(os.urandom(16))  # a forked child must not repeat its parent's sequence
    _last_ms, _counter = 0, 0


os.register_at_fork(after_in_child=_reseed_after_fork)
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A UUIDv7 string; ids made in one process sort in creation order even within one millisecond."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # same (or earlier: clock stepped back) millisecond: keep order with the 12-bit counter,
            # borrowing the next millisecond when it overflows
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms, _counter = ms, _rng.getrandbits(10)
        rand_b = _rng.getrandbits(62)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _counter << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def uuid7_time_ms(value: str) -> int:
    return uuid.UUID(value).int >> 80
