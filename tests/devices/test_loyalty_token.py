"""Signed rotating loyalty codes: genuine, expired, forged, unknown key, clock skew, copies at other tills."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.barcode import decode_scan
from devices.barcode.loyalty_token import (
    MSG_EXPIRED,
    MSG_FORGED,
    MSG_NOT_YET,
    MSG_UNKNOWN_KEY,
    MSG_UNREADABLE,
    ReplayGuard,
    TokenVerifier,
    issue_token,
    public_key_bytes,
)

T0 = 1_750_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def verifier(key: Ed25519PrivateKey, now: float, **kw: object) -> TokenVerifier:
    return TokenVerifier({"k1": public_key_bytes(key)}, clock=Clock(now), **kw)  # type: ignore[arg-type]


def test_genuine_token_gives_the_customer(key: Ed25519PrivateKey) -> None:
    token = issue_token(key, "cust-42", now=T0, ttl_s=60)
    assert token.startswith("LT1.") and len(token) < 250  # fits a small QR code
    check = verifier(key, T0 + 10).verify(token)
    assert check.ok and check.customer_id == "cust-42" and check.error is None
    assert check.expires_at == int(T0) + 60


def test_expired_token_is_refused_but_clock_skew_is_tolerated(key: Ed25519PrivateKey) -> None:
    token = issue_token(key, "cust-42", now=T0, ttl_s=60)
    assert verifier(key, T0 + 60 + 29).verify(token).ok  # within 30 s skew
    late = verifier(key, T0 + 60 + 31).verify(token)
    assert not late.ok and late.error == MSG_EXPIRED and late.customer_id is None
    early = verifier(key, T0 - 31).verify(token)
    assert not early.ok and early.error == MSG_NOT_YET


def test_forged_tokens_are_refused(key: Ed25519PrivateKey) -> None:
    token = issue_token(key, "cust-42", now=T0)
    head, payload, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["cid"] = "cust-1"  # someone edits the customer id
    forged_payload = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    assert verifier(key, T0).verify(f"{head}.{forged_payload}.{sig}").error == MSG_FORGED
    other = issue_token(Ed25519PrivateKey.generate(), "cust-42", now=T0)  # right kid, wrong key
    assert verifier(key, T0).verify(other).error == MSG_FORGED
    unknown = issue_token(key, "cust-42", now=T0, kid="k9")
    assert verifier(key, T0).verify(unknown).error == MSG_UNKNOWN_KEY


def test_overlong_validity_is_not_genuine(key: Ed25519PrivateKey) -> None:
    token = issue_token(key, "cust-42", now=T0, ttl_s=86_400)
    assert verifier(key, T0).verify(token).error == MSG_FORGED


@pytest.mark.parametrize(
    "text", ["LT1.", "LT1.a.b", "LT1.!!.??", "LT1." + "A" * 2000, "LT1.e30.AAAA", "LT1.W10.AA"]
)
def test_garbage_is_unreadable_not_a_crash(key: Ed25519PrivateKey, text: str) -> None:
    check = verifier(key, T0).verify(text)
    assert not check.ok and check.error == MSG_UNREADABLE


def test_copy_seen_at_another_till_is_flagged_within_the_window(key: Ed25519PrivateKey) -> None:
    guard = ReplayGuard()
    token = issue_token(key, "cust-42", now=T0, ttl_s=60)
    till1 = verifier(key, T0 + 1, replay_guard=guard, till_id="till-1")
    till2 = verifier(key, T0 + 5, replay_guard=guard, till_id="till-2")
    first = till1.verify(token)
    assert first.ok and not first.possible_copy
    assert not till1.verify(token).possible_copy  # rescanned at the same till
    copy = till2.verify(token)
    assert copy.ok and copy.possible_copy and copy.warning and "another till" in copy.warning
    fresh = issue_token(key, "cust-42", now=T0 + 30, ttl_s=60)  # the app rotated the code
    assert not till2.verify(fresh).possible_copy


def test_replay_guard_forgets_expired_entries_and_stays_bounded() -> None:
    guard = ReplayGuard(max_entries=3)
    assert not guard.observe("t", "till-1", valid_until=100, now=10)
    assert guard.observe("t", "till-2", valid_until=100, now=50)
    assert not guard.observe("t", "till-2", valid_until=300, now=101)  # window over: a new sighting
    for i in range(10):
        guard.observe(f"x{i}", "till-1", valid_until=1_000, now=200)
    assert len(guard) == 3


def test_decode_scan_routes_tokens_to_the_verifier(key: Ed25519PrivateKey) -> None:
    token = issue_token(key, "cust-7", now=T0)
    ok = decode_scan("]Q1" + token, token_verifier=verifier(key, T0))
    assert (ok.kind, ok.customer_id, ok.symbology, ok.error) == ("loyalty_token", "cust-7", "QR Code", None)
    expired = decode_scan(token, token_verifier=verifier(key, T0 + 3600))
    assert (expired.kind, expired.customer_id, expired.error) == ("loyalty_token", None, MSG_EXPIRED)
    no_keys = decode_scan(token)
    assert no_keys.kind == "loyalty_token" and no_keys.error and "no keys" in no_keys.error
