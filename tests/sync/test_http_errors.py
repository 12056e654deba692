"""One mapping of hub HTTP failures to sentences, shared by the sync client, enrolment and the doctor."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from edge.ops import doctor
from sync.client import HubBusy, HubRefused, HubUnreachable, sync_error
from sync.enroll import EnrolmentError, enroll
from sync.http_errors import PERMANENT, answer_problem, status_problem, transport_problem

URL = "http://127.0.0.1:1"


def test_a_refused_connection_and_a_silent_hub_in_words() -> None:
    with pytest.raises(httpx.HTTPError) as refused:
        httpx.get(URL, timeout=2)
    problem = transport_problem(refused.value, URL, 2)
    assert problem.kind == "unreachable" and "cannot be reached" in problem.message and URL in problem.message
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(httpx.HTTPError) as slow:
            httpx.get(url, timeout=0.3)
    problem = transport_problem(slow.value, url, 0.3)
    assert (problem.kind, problem.message) == ("timeout", f"the hub at {url} did not answer within 0.3 s")


@pytest.mark.parametrize(
    ("status", "doc", "headers", "kind", "words", "retry"),
    [
        (403, {"error": "device_revoked"}, {}, "revoked", "revoked on the hub; re-enrol", None),
        (401, {"error": "unauthorized", "message": "unknown token"}, {}, "unknown_device", "unknown token", None),
        (413, {}, {}, "too_large", "too large", 0.0),
        (503, {"message": "draining"}, {"retry-after": "7"}, "busy", "answered 503 (draining); retrying", 7.0),
        (429, None, {}, "busy", "answered 429", None),
        (500, None, {}, "busy", "answered 500", None),
        (422, {"message": "bad batch"}, {}, "refused", "refused the request (422: bad batch)", None),
    ],
)
def test_each_answer_has_one_meaning(status: int, doc: object, headers: dict[str, str], kind: str, words: str,
                                     retry: float | None) -> None:
    resp = httpx.Response(status, json=doc, headers=headers) if doc is not None else httpx.Response(status,
                                                                                                   headers=headers)
    problem = answer_problem(resp, doc)
    assert problem is not None
    assert (problem.kind, problem.status, problem.retry_after_s) == (kind, status, retry)
    assert words in problem.message
    # the client's exception follows the kind: permanent refusals stop retries, busy hubs are retried
    error = sync_error(problem)
    assert str(error) == problem.message
    expected = HubRefused if kind in PERMANENT else HubBusy
    assert isinstance(error, expected) and error.permanent == (kind in PERMANENT)
    # the doctor says the same sentence
    answer = doctor.HubAnswer(status, doc.get("error") if isinstance(doc, dict) else None,
                              doc.get("message") if isinstance(doc, dict) else None)
    line = doctor.check_hub("http://hub", answer, enrolled=True, credential_error=None)
    assert line.status == "FAIL" and line.summary == status_problem(
        status, answer.error_code, answer.message).message


def test_success_is_no_problem() -> None:
    assert answer_problem(httpx.Response(200, json={"ok": True})) is None


def test_client_and_enrolment_say_the_same_for_an_unreachable_hub(tmp_path: Path) -> None:
    with pytest.raises(EnrolmentError) as info:
        enroll(URL, "CODE", tmp_path, timeout_s=2)
    with pytest.raises(httpx.HTTPError) as raw:
        httpx.post(URL, timeout=2)
    assert str(info.value) == transport_problem(raw.value, URL, 2).message
    assert isinstance(sync_error(transport_problem(raw.value, URL, 2)), HubUnreachable)
    assert info.value.exit_code == 1
