"""Ids the hub makes itself (admin ledger corrections, app sightings, signing-key ids): UUIDv7 strings
(RFC 9562: 48-bit Unix milliseconds, then random bits), so they sort by creation time across processes."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))
