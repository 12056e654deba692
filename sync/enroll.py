"""``store-edge enroll``: trade a one-time code from the hub administrator for a device credential."""

from __future__ import annotations

from pathlib import Path

import httpx

from sync import credentials
from sync.credentials import Credential
from sync.outbox import utc_now_iso
from sync.protocol import API_PREFIX, PROTOCOL_VERSION, VERSION_HEADER


class EnrolmentError(Exception):
    """Enrolment failed; ``str()`` says why in words."""


def enroll(hub_url: str, code: str, data_dir: Path, *, timeout_s: float = 10.0) -> Credential:
    hub_url = hub_url.rstrip("/")
    if not hub_url.startswith(("http://", "https://")):
        raise EnrolmentError(f"the hub address {hub_url!r} must start with http:// or https://")
    try:
        resp = httpx.post(f"{hub_url}{API_PREFIX}/enroll", json={"code": code.strip()}, timeout=timeout_s,
                          headers={VERSION_HEADER: str(PROTOCOL_VERSION)})
    except httpx.ConnectError:
        raise EnrolmentError(f"the hub at {hub_url} cannot be reached; check the address and the network") from None
    except httpx.TimeoutException:
        raise EnrolmentError(f"the hub at {hub_url} did not answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise EnrolmentError(f"talking to the hub at {hub_url} failed ({exc})") from None
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if resp.status_code != 200:
        message = doc.get("message") if isinstance(doc, dict) else None
        raise EnrolmentError(message or f"the hub refused the enrolment (HTTP {resp.status_code})")
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("device_id", "store_id", "token")):
        raise EnrolmentError("the hub's answer to the enrolment could not be read; is this a store-edge hub?")
    cred = Credential(hub_url, doc["device_id"], doc["store_id"], doc["token"], utc_now_iso())
    credentials.save(data_dir, cred)
    return cred
