"""Eddystone-EID: the rotating ephemeral identifier, computed exactly as the Eddystone spec says.

Spec (github.com/google/eddystone/tree/master/eddystone-eid): with the 16-byte identity key ``ik``, the
beacon time ``t`` in seconds and the rotation exponent ``K`` (period 2**K s),

    temporary_key = AES-128-ECB(ik, 0x00*11 || 0xFF || 0x00 0x00 || t[31:16])
    eid           = AES-128-ECB(temporary_key, 0x00*11 || K || (t >> K << K) as 4 bytes)[0:8]

The resolver precomputes the EIDs of a window of periods around "now" for every consenting customer, so a
lookup per advert is one dict access and clock drift between phone and till is absorbed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
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


EidFunction = Callable[[bytes, int, int], bytes]  # (identity key, beacon time, K) -> EID, as compute_eid


class EidResolver:
    """Maps EIDs heard now back to customers, for the keys it was given (consenting customers only).

    ``window`` periods before and after the current one are accepted: phones drift and the hub may sync
    keys late. Each key's periods roll over at their own moment (per-key clock offsets), so keys wait in a
    heap ordered by the unix second their period next changes and only those keys are brought up to date:
    cost is O(1) per second when nothing rolls over and one EID per key per elapsed period, never a rebuild
    of every key because one of them rotated.
    """

    def __init__(self, keys: Iterable[EidKey], window: int = 2, eid_function: EidFunction | None = None) -> None:
        self._window = window
        # injectable so tests can count AES work; looked up late so the spec function is always the default
        self._eid_function = eid_function
        self.set_keys(keys)

    def set_keys(self, keys: Iterable[EidKey]) -> None:
        self._keys = list(keys)
        self._table: dict[bytes, str] = {}
        # several keys could (in theory) yield one EID: an entry goes only when no key still wants it
        self._refs: dict[bytes, int] = {}
        self._held: list[dict[int, bytes]] = [{} for _ in self._keys]  # per key: period -> EID in the table
        self._due: list[tuple[int, int]] = []  # (unix second the key's period changes, key index)
        self._synced_second: int | None = None

    def _sync(self, unix_time_s: float) -> None:
        now = int(unix_time_s)
        if now == self._synced_second:
            return  # periods are at least one second long: one check per second is enough
        if self._synced_second is None or now < self._synced_second:
            # first use, or the edge clock stepped back: any key's window may have moved, in either direction
            self._due = []
            for index in range(len(self._keys)):
                self._refresh(index, now)
        else:
            while self._due and self._due[0][0] <= now:
                self._refresh(heapq.heappop(self._due)[1], now)
        self._synced_second = now

    def _refresh(self, index: int, now: int) -> None:
        """Bring one key's EIDs to the window around ``now``, computing only periods not held yet."""
        key = self._keys[index]
        k = key.rotation_exponent
        period = (now - key.clock_offset_s) >> k
        wanted = {p for p in range(period - self._window, period + self._window + 1) if p >= 0}
        held = self._held[index]
        for old in [p for p in held if p not in wanted]:
            self._drop(held.pop(old))
        eid_function = self._eid_function or compute_eid
        for p in wanted:
            if p not in held:
                eid = held[p] = eid_function(key.identity_key, p << k, k)
                self._table[eid] = key.customer_id
                self._refs[eid] = self._refs.get(eid, 0) + 1
        heapq.heappush(self._due, (key.clock_offset_s + ((period + 1) << k), index))

    def _drop(self, eid: bytes) -> None:
        left = self._refs[eid] - 1
        if left:
            self._refs[eid] = left
        else:
            del self._refs[eid], self._table[eid]

    def resolve(self, eid: bytes, unix_time_s: float) -> str | None:
        """The customer whose key produces ``eid`` near ``unix_time_s``, or None (drop it)."""
        self._sync(unix_time_s)
        return self._table.get(eid)
