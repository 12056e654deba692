"""The till's side of the member look-up: ask the hub who an unknown card, phone, e-mail or app code belongs to
(``GET /v1/members/lookup``, ``docs/sync-protocol.md``) and cache the member it names.

Blocking (httpx, ``SyncConfig.lookup_timeout_s``, 2 s by default): the till calls it from a thread worker,
never on the UI thread. Phone numbers and e-mail addresses leave the till only as their lookup hashes
(``edge.core.contacts.contact_hash``); app codes are sent as scanned, for the hub to verify with its own keys.
A found member is stored through ``sync.apply.cache_customer``, the code path of a pulled profile; the hub has
made them relevant to this store, so the next pulls bring their changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx
import sqlite_utils

from sync import protocol
from sync.apply import cache_customer
from sync.config import SyncConfig
from sync.credentials import Credential
from sync.http_errors import answer_problem, parse_retry_after, read_json, transport_problem

Outcome = Literal["found", "not_found", "ambiguous", "limited", "unreachable", "refused"]
KINDS = ("card", "phone_hash", "email_hash", "app_token")


@dataclass(frozen=True)
class LookupResult:
    """The hub's answer: ``outcome``; ``customer`` (the profile, already cached) when found; ``message`` the
    hub's or the transport's sentence; ``retry_after_s`` when limited."""

    outcome: Outcome
    message: str
    customer: dict[str, Any] | None = None
    retry_after_s: float | None = None

    @property
    def hub_reached(self) -> bool:
        """False when the hub could not be asked (no answer, or an answer that was no verdict)."""
        return self.outcome not in ("unreachable", "refused")


class MemberLookup:
    """Asks the hub about one identifier at a time. ``credential``: the device's enrolment; ``settings``: the
    ``[hub]`` section (its ``url`` overrides the credential's; ``lookup_timeout_s`` bounds each request).
    Thread-safe for one caller at a time per instance (httpx.Client is shared)."""

    def __init__(self, credential: Credential, settings: SyncConfig | None = None, *, hub_url: str | None = None) -> None:
        self.settings = settings or SyncConfig()
        self.hub_url = (hub_url or self.settings.url or credential.hub_url).rstrip("/")
        self.timeout_s = self.settings.lookup_timeout_s
        self._http = httpx.Client(
            base_url=self.hub_url, timeout=self.timeout_s,
            headers={"Authorization": f"Bearer {credential.token}",
                     protocol.VERSION_HEADER: str(protocol.PROTOCOL_VERSION),
                     "User-Agent": f"store-edge-lookup/{protocol.PROTOCOL_VERSION} ({credential.device_id})"})

    def close(self) -> None:
        self._http.close()

    def ask(self, kind: str, value: str) -> LookupResult:
        """One look-up (``kind`` in ``KINDS``); never raises for network or hub trouble: says it in the result."""
        if kind not in KINDS:
            raise ValueError(f"unknown look-up kind {kind!r}")
        try:
            resp = self._http.get(f"{protocol.API_PREFIX}/members/lookup", params={kind: value})
        except httpx.HTTPError as exc:
            return LookupResult("unreachable", transport_problem(exc, self.hub_url, self.timeout_s).message)
        doc = read_json(resp)
        if resp.status_code == 200 and isinstance(doc, dict) and isinstance(doc.get("customer"), dict):
            return LookupResult("found", str(doc.get("message") or "member found"), doc["customer"])
        error = doc.get("error") if isinstance(doc, dict) else None
        message = doc.get("message") if isinstance(doc, dict) and isinstance(doc.get("message"), str) else None
        if resp.status_code == 404 and error in ("not_found", "ambiguous"):
            return LookupResult(error, message or "no member found")
        if resp.status_code == 429:
            return LookupResult("limited", message or "too many look-ups; wait and try again",
                                retry_after_s=parse_retry_after(resp.headers.get("retry-after")))
        problem = answer_problem(resp, doc)
        return LookupResult("refused", problem.message if problem else "the hub's answer could not be read")

    def lookup(self, db: sqlite_utils.Database, kind: str, value: str) -> LookupResult:
        """``ask``, then cache a found member in ``db`` (``sync.apply.cache_customer``). A profile the till cannot
        store is said as ``refused``."""
        result = self.ask(kind, value)
        if result.customer is not None:
            try:
                cache_customer(db, result.customer)
            except (KeyError, TypeError, ValueError) as exc:
                return LookupResult("refused", f"the hub's member profile could not be stored ({exc})")
        return result
