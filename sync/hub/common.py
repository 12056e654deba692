"""What every hub storage module shares: the error type, the device identity, time and secret hashing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

CHUNK = 500  # keys per IN (...) list: SQLite limits bound parameters
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and typed


def now_iso() -> str:
    """Now, UTC, ISO 8601 with milliseconds and a ``Z`` (the hub's one time format; sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chunks(keys: Sequence[str]) -> Iterator[list[str]]:
    """``keys`` in lists of at most ``CHUNK`` (one ``IN (...)`` statement each)."""
    for i in range(0, len(keys), CHUNK):
        yield list(keys[i : i + CHUNK])


def hash_secret(secret: str) -> str:
    """Hex SHA-256. Tokens and codes are high-entropy random strings, so no password stretching is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """An enrolment code as typed (any case, dashes, spaces) -> its canonical letters and digits."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


class HubError(Exception):
    """An operation was refused; ``code`` is machine-readable, ``str()`` a sentence, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class DeviceAuth:
    """An authenticated device (from its bearer token): the store it belongs to scopes everything it sees."""

    device_id: str
    store_id: str


@dataclass(frozen=True)
class Enrolment:
    """A completed enrolment: the device's token is shown once and only its hash is kept."""

    device_id: str
    store_id: str
    token: str

