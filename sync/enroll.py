"""``store-edge enroll``: trade a one-time code from the hub administrator for a device credential."""

from __future__ import annotations

from pathlib import Path

import httpx

from edge.core.errors import CliError
from edge.core.i18n import N_, Text
from sync import credentials
from sync.credentials import Credential
from sync.http_errors import answer_problem, read_json, transport_problem
from sync.outbox import utc_now_iso
from sync.protocol import API_PREFIX, PROTOCOL_VERSION, VERSION_HEADER


class EnrolmentError(CliError):
    """Enrolment failed; ``str()`` says why in words (a ``CliError``: the CLI prints it and exits 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 1)


def enroll(hub_url: str, code: str, data_dir: Path, *, timeout_s: float = 10.0) -> Credential:
    """Trade the one-time ``code`` for this device's credential and save it (mode 0600) under ``data_dir``.

    ``hub_url``: ``http(s)://host[:port]``; ``timeout_s``: seconds for the one request. Raises
    ``EnrolmentError`` (bad address, hub unreachable, code refused, not a store-edge hub).
    """
    hub_url = hub_url.rstrip("/")
    if not hub_url.startswith(("http://", "https://")):
        raise EnrolmentError(Text(N_("the hub address {url} must start with http:// or https://"), url=repr(hub_url)))
    try:
        resp = httpx.post(f"{hub_url}{API_PREFIX}/enroll", json={"code": code.strip()}, timeout=timeout_s,
                          headers={VERSION_HEADER: str(PROTOCOL_VERSION)})
    except httpx.HTTPError as exc:
        raise EnrolmentError(transport_problem(exc, hub_url, timeout_s).message) from None
    doc = read_json(resp)
    problem = answer_problem(resp, doc)
    if problem is not None:
        message = doc.get("message") if isinstance(doc, dict) and isinstance(doc.get("message"), str) else None
        # the hub's own words say best why a code was refused (used, expired, unknown)
        raise EnrolmentError(message or Text(N_("the enrolment failed: {problem}"), problem=problem.message))
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("device_id", "store_id", "token")):
        raise EnrolmentError(Text(N_("the hub's answer to the enrolment could not be read; is this a store-edge hub?")))
    cred = Credential(hub_url, doc["device_id"], doc["store_id"], doc["token"], utc_now_iso())
    credentials.save(data_dir, cred)
    return cred
