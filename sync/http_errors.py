"""The one mapping of hub HTTP failures to sentences, shared by the sync client, enrolment and the doctor.

Two kinds of failure: no usable answer at all (:func:`transport_problem`: refused connection, timeout, a
connection that broke off) and an answer that is not a success (:func:`answer_problem`: revoked or unknown
device, batch too large, hub busy or failing, any other refusal). Each gives a :class:`HubProblem` whose
``kind`` tells the caller what to do (retry, shrink, stop until a person acts) and whose ``message`` is a
sentence for a cashier's status bar or a technician's terminal (an ``edge.core.i18n.Text``: English, and
translated where it is shown). Status codes and error codes are those of
``docs/sync-protocol.md`` ("Errors").
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from edge.core.i18n import N_, Text

Kind = Literal["unreachable", "timeout", "broken", "revoked", "unknown_device", "too_large", "busy", "refused"]
# kinds after which retrying cannot help until a person acts (re-enrol, fix the request)
PERMANENT: frozenset[str] = frozenset({"revoked", "unknown_device", "refused"})
# kinds that mean no answer came back at all
NO_ANSWER: frozenset[str] = frozenset({"unreachable", "timeout", "broken"})


@dataclass(frozen=True)
class HubProblem:
    """Why a request to the hub failed. ``status`` is the HTTP status (None without an answer);
    ``retry_after_s`` the hub's ``Retry-After`` in seconds when it sent one."""

    kind: Kind
    message: str
    status: int | None = None
    retry_after_s: float | None = None


def transport_problem(exc: httpx.HTTPError, hub_url: str, timeout_s: float) -> HubProblem:
    """No answer: the connection was refused, timed out (``timeout_s``, seconds) or broke off."""
    if isinstance(exc, httpx.ConnectError):
        return HubProblem("unreachable", Text(N_("the hub at {url} cannot be reached; check the address and the "
                                                 "network"), url=hub_url))
    if isinstance(exc, httpx.TimeoutException):
        return HubProblem("timeout", Text(N_("the hub at {url} did not answer within {seconds} s"), url=hub_url,
                                          seconds=f"{timeout_s:g}"))
    return HubProblem("broken", Text(N_("the connection to the hub at {url} broke off ({problem})"), url=hub_url,
                                     problem=type(exc).__name__))


def read_json(resp: httpx.Response) -> Any:
    """The answer's JSON document, or None when the body is not JSON."""
    try:
        return resp.json()
    except ValueError:
        return None


def answer_problem(resp: httpx.Response, doc: Any = None) -> HubProblem | None:
    """None for a 2xx answer; otherwise what the hub's status and error document (``doc``) mean."""
    status = resp.status_code
    if 200 <= status < 300:
        return None
    doc = doc if isinstance(doc, dict) else {}
    message = doc.get("message") if isinstance(doc.get("message"), str) else None
    return status_problem(status, doc.get("error"), message, resp.reason_phrase,
                          parse_retry_after(resp.headers.get("retry-after")))


def status_problem(status: int, error_code: object = None, message: str | None = None, reason: str = "",
                   retry_after_s: float | None = None) -> HubProblem:
    """The meaning of a non-2xx ``status`` with the hub's ``error_code`` and ``message`` (either may be None)."""
    if status == 403 and error_code == "device_revoked":
        return HubProblem("revoked", Text(N_("this device was revoked on the hub; re-enrol")), status)
    if status == 401:
        return HubProblem("unknown_device",
                          message or Text(N_("this device is not known to the hub; enrol it with 'store-edge enroll'")),
                          status)
    if status == 413:
        return HubProblem("too_large", Text(N_("the hub found the batch too large; sending smaller batches")), status,
                          retry_after_s or 0.0)
    why = message or reason or Text(N_("no reason"))  # the hub's own words are shown as it sent them
    if status == 429 or status >= 500:
        return HubProblem("busy", Text(N_("the hub answered {status} ({why}); retrying"), status=status, why=why),
                          status, retry_after_s)
    return HubProblem("refused", Text(N_("the hub refused the request ({status}: {why})"), status=status, why=why),
                      status)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds from either form (delta seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
