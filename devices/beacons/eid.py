"""Eddystone-EID: the rotating ephemeral identifier, computed exactly as the Eddystone spec says.

Spec (github.com/google/eddystone/tree/master/eddystone-eid): with the 16-byte identity key ``ik``, the
beacon time ``t`` in seconds and the rotation exponent ``K`` (period 2**K s),

    temporary_key = AES-128-ECB(ik, 0x00*11 || 0xFF || 0x00 0x00 || t[31:16])
    eid           = AES-128-ECB(temporary_key, 0x00*11 || K || (t >> K << K) as 4 bytes)[0:8]

The resolver precomputes the EIDs of a window of periods around "now" for every consenting customer, so a
lookup per advert is one dict access and clock drift between phone and till is absorbed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MIN_K, MAX_K = 0, 15  # the spec allows rotation periods of 1 s .. 2**15 s (about 9 h)


def _aes_block(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block, as the spec says
    return encryptor.update(block) + encryptor.finalize()


def compute_eid(identity_key: bytes, beacon_time_s: int, rotation_exponent: int) -> bytes:
    """The 8-byte EID a beacon with this key broadcasts at ``beacon_time_s``."""
    if len(identity_key) != 16:
        raise ValueError(f"the identity key must be 16 bytes, got {len(identity_key)}")
    if not MIN_K <= rotation_exponent <= MAX_K:
        raise ValueError(f"the rotation exponent K must be {MIN_K}..{MAX_K}, got {rotation_exponent}")
    t = int(beacon_time_s) & 0xFFFFFFFF
    temporary_key = _aes_block(identity_key, bytes(11) + b"\xff\x00\x00" + (t >> 16).to_bytes(2, "big"))
    quantised = (t >> rotation_exponent) << rotation_exponent
    block = bytes(11) + bytes([rotation_exponent]) + quantised.to_bytes(4, "big")
    return _aes_block(temporary_key, block)[:8]


@dataclass(frozen=True, slots=True)
class EidKey:
    customer_id: str
    identity_key: bytes
    rotation_exponent: int
    # beacon time = edge unix time - clock_offset_s (the app's beacon clock started at registration)
    clock_offset_s: int = 0


class EidResolver:
    """Maps EIDs heard now back to customers, for the keys it was given (consenting customers only).

    ``window`` periods before and after the current one are accepted: phones drift and the hub may sync
    keys late. The table is rebuilt lazily when the period changes, so cost is O(keys * window) per period,
    not per advert.
    """

    def __init__(self, keys: Iterable[EidKey], window: int = 2) -> None:
        self._keys = list(keys)
        self._window = window
        self._table: dict[bytes, str] = {}
        # (rotation exponent, clock offset) -> period index the table was built for
        self._built_for: dict[tuple[int, int], int] = {}
        self._checked_second = -1

    def set_keys(self, keys: Iterable[EidKey]) -> None:
        self._keys = list(keys)
        self._built_for.clear()
        self._table = {}
        self._checked_second = -1

    def _rebuild_if_needed(self, unix_time_s: float) -> None:
        now = int(unix_time_s)
        if now == self._checked_second:
            return  # periods are at least one second long: one check per second is enough
        self._checked_second = now
        stale = False
        for key in self._keys:
            period = (now - key.clock_offset_s) >> key.rotation_exponent
            if self._built_for.get((key.rotation_exponent, key.clock_offset_s)) != period:
                stale = True
                break
        if not stale:
            return
        table: dict[bytes, str] = {}
        built: dict[tuple[int, int], int] = {}
        for key in self._keys:
            k = key.rotation_exponent
            beacon_now = now - key.clock_offset_s
            period = beacon_now >> k
            built[(k, key.clock_offset_s)] = period
            for step in range(-self._window, self._window + 1):
                t = (period + step) << k
                if t >= 0:
                    table[compute_eid(key.identity_key, t, k)] = key.customer_id
        self._table, self._built_for = table, built

    def resolve(self, eid: bytes, unix_time_s: float) -> str | None:
        """The customer whose key produces ``eid`` near ``unix_time_s``, or None (drop it)."""
        self._rebuild_if_needed(unix_time_s)
        return self._table.get(eid)
