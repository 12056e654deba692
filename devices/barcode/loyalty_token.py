"""Rotating loyalty app codes: Ed25519-signed tokens verified offline with public keys from the hub.

Format (fits a small QR code): ``LT1.<base64url(JSON payload)>.<base64url(signature)>``; the payload is
``{"cid": customer id, "iat": issued at, "exp": expires at, "kid": key id}`` (Unix seconds) and the signature
covers the ASCII text ``LT1.<payload>`` so the version cannot be swapped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TOKEN_PREFIX = "LT1."
MAX_TOKEN_CHARS = 1024


def N_(message: str) -> str:
    """Marks an English text for the till's catalogs (edge/locale); devices/ is a leaf, the till translates."""
    return message


MSG_UNREADABLE = N_("This loyalty code could not be read - ask the customer to show it again.")
MSG_FORGED = N_("This loyalty code is not genuine - do not accept it; ask the customer to open the app again.")
MSG_EXPIRED = N_("This loyalty code has expired - ask the customer to refresh the app.")
MSG_NOT_YET = N_(
    "This loyalty code is not valid yet - check the till clock, or ask the customer to refresh the app."
)
MSG_UNKNOWN_KEY = N_(
    "This loyalty code was signed with a key this till does not know - sync the till with the hub, "
    "or ask the customer to refresh the app."
)
MSG_NO_KEYS = N_("Loyalty app codes cannot be checked yet: this till has no keys from the hub - sync the till.")
MSG_POSSIBLE_COPY = N_(
    "This loyalty code was just used at another till - it may be a copy; check the customer's app."
)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(
    private_key: Ed25519PrivateKey, customer_id: str, now: float, ttl_s: int = 60, kid: str = "k1"
) -> str:
    """Make a token (the hub and the customer app do this; here for tests, the bench and the demo)."""
    iat = int(now)
    payload = {"cid": customer_id, "iat": iat, "exp": iat + int(ttl_s), "kid": kid}
    body = TOKEN_PREFIX + _b64e(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_b64e(private_key.sign(body.encode('ascii')))}"


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    error: str | None = None  # cashier-facing sentence when refused
    customer_id: str | None = None  # only set when the token is genuine
    kid: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None
    token_id: str | None = None  # stable id of this exact token (for replay checks)
    possible_copy: bool = False
    warning: str | None = None


class ReplayGuard:
    """Remembers tokens seen recently; the same token at another till within its window is a possible copy.

    In memory and bounded; the lead may persist or share observations between tills (call ``observe`` with
    events from other tills too).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max(1, max_entries)
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()  # token id -> (first till, forget at)

    def __len__(self) -> int:
        return len(self._seen)

    def observe(self, token_id: str, till_id: str, valid_until: float, now: float) -> bool:
        """Record a sighting; True when the token was already seen at a different till and is still valid."""
        self._expire(now)
        entry = self._seen.get(token_id)
        if entry is not None and entry[1] >= now:
            return entry[0] != till_id
        self._seen[token_id] = (till_id, valid_until)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return False

    def _expire(self, now: float) -> None:
        # Entries are mostly inserted in expiry order, so dropping from the front is usually enough.
        while self._seen:
            key, (_, until) = next(iter(self._seen.items()))
            if until >= now:
                break
            del self._seen[key]


class TokenVerifier:
    """Checks tokens offline against the hub's public keys (``kid`` -> raw 32-byte Ed25519 keys)."""

    def __init__(
        self,
        public_keys: Mapping[str, bytes],
        skew_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        max_ttl_s: float = 600.0,
        replay_guard: ReplayGuard | None = None,
        till_id: str = "",
    ) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for kid, raw in public_keys.items():
            try:
                self._keys[kid] = Ed25519PublicKey.from_public_bytes(bytes(raw))
            except (ValueError, TypeError):
                continue  # a damaged key from the hub must not stop the till; tokens under it are refused
        self.skew_s = skew_s
        self.clock = clock
        self.max_ttl_s = max_ttl_s
        self.replay_guard = replay_guard
        self.till_id = till_id

    def verify(self, token: str) -> TokenCheck:
        try:
            return self._verify(token)
        except Exception:  # defensive: a code on a phone screen must never crash the till
            return TokenCheck(ok=False, error=MSG_UNREADABLE)

    def _verify(self, token: str) -> TokenCheck:
        token = token.strip()
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_CHARS:
            return TokenCheck(ok=False, error=MSG_UNREADABLE)
        parts = token.split(".")
        if len(parts) != 3:
            return TokenCheck(ok=False, error=MSG_UNREADABLE)
        body = f"{parts[0]}.{parts[1]}"
        try:
            payload = json.loads(_b64d(parts[1]))
            signature = _b64d(parts[2])
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return TokenCheck(ok=False, error=MSG_UNREADABLE)
        if not isinstance(payload, dict):
            return TokenCheck(ok=False, error=MSG_UNREADABLE)
        cid, iat, exp, kid = (payload.get(k) for k in ("cid", "iat", "exp", "kid"))
        if not (
            isinstance(cid, str)
            and cid
            and isinstance(kid, str)
            and isinstance(iat, int)
            and isinstance(exp, int)
            and not isinstance(iat, bool)
            and not isinstance(exp, bool)
        ):
            return TokenCheck(ok=False, error=MSG_UNREADABLE)
        if not self._keys:
            return TokenCheck(ok=False, error=MSG_NO_KEYS, kid=kid)
        key = self._keys.get(kid)
        if key is None:
            return TokenCheck(ok=False, error=MSG_UNKNOWN_KEY, kid=kid)
        try:
            key.verify(signature, body.encode("ascii"))
        except (InvalidSignature, ValueError):
            return TokenCheck(ok=False, error=MSG_FORGED, kid=kid)
        # Only now is the payload trusted.
        if exp < iat or exp - iat > self.max_ttl_s:
            return TokenCheck(ok=False, error=MSG_FORGED, kid=kid)
        now = self.clock()
        if now > exp + self.skew_s:
            return TokenCheck(ok=False, error=MSG_EXPIRED, kid=kid, issued_at=iat, expires_at=exp)
        if iat > now + self.skew_s:
            return TokenCheck(ok=False, error=MSG_NOT_YET, kid=kid, issued_at=iat, expires_at=exp)
        token_id = hashlib.sha256(signature).hexdigest()[:32]
        possible_copy = False
        if self.replay_guard is not None:
            possible_copy = self.replay_guard.observe(token_id, self.till_id, exp + self.skew_s, now)
        return TokenCheck(
            ok=True,
            customer_id=cid,
            kid=kid,
            issued_at=iat,
            expires_at=exp,
            token_id=token_id,
            possible_copy=possible_copy,
            warning=MSG_POSSIBLE_COPY if possible_copy else None,
        )
