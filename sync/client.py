"""The sync client: pushes the outbox, pulls the store's changes, and reports its status.

It runs as a thread inside the till (``SyncWorker``) or in the foreground (``store-edge sync run``). All
network waits happen on that thread; the UI only ever receives ``SyncStatus`` snapshots through listeners.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlite_utils

from edge.core.i18n import ENGLISH, Number, Translator
from sync import outbox, protocol
from sync.apply import HUB_CLOCK_OFFSET_KEY, apply_page, get_state, set_state
from sync.config import SyncConfig
from sync.credentials import Credential
from sync.http_errors import HubProblem, answer_problem, parse_retry_after, read_json, transport_problem
from sync.protocol import ACCEPTED, DUPLICATE, PROTOCOL_VERSION, VERSION_HEADER

__all__ = ["HubBusy", "HubRefused", "HubUnreachable", "SyncClient", "SyncConfig", "SyncError", "SyncReport",
           "SyncStatus", "SyncWorker", "describe_status", "full_jitter", "parse_retry_after", "status_offline"]

log = logging.getLogger(__name__)

LAST_SUCCESS_KEY = "last_success_at"
LAST_ERROR_KEY = "last_error"
HUB_CLOCK_RECORD_STEP_S = 1.0  # the hub clock offset is recorded again when it moves this much
BACKOFF_BASE_S = 0.5
SLOW_BATCH_S = 2.0  # a batch slower than this stops the batch size from growing
LONE_FAILURE_STRIKES = 5  # 5xx answers to one event alone, in a row, before it goes to the dead letters
PULL_LIMIT = 500


@dataclass(frozen=True)
class SyncStatus:
    """What the till's status bar shows. ``online`` is None until the first attempt."""

    online: bool | None
    pending: int
    dead: int
    oldest_pending_age_s: float | None
    last_success_at: str | None
    last_error: str | None
    backlog: int = 0  # events to send when the current drain began (0 when not draining)
    sent: int = 0  # of those, how many the hub has answered
    next_attempt_in_s: float | None = None

    @property
    def draining(self) -> bool:
        return self.backlog > 0 and self.sent < self.backlog


StatusListener = Callable[[SyncStatus], None]


class SyncError(Exception):
    """A sync attempt failed; ``str()`` is a sentence for the status bar."""

    retry_after_s: float | None = None
    permanent = False  # retrying will not help until a person acts (revoked, unknown device)
    shrink_batch = False


class HubUnreachable(SyncError):
    """No answer from the hub (refused connection, timeout, broken connection); the batch is sent again."""

    shrink_batch = True


class HubRefused(SyncError):
    """The hub refused this device or request (revoked, unknown device, bad request): retrying cannot help."""

    permanent = True


class BatchRefused(HubRefused):
    """The hub refused a whole push request as malformed (400 ``bad_request``), or one event alone as too
    large (413): something in the events, since the hub takes an empty batch. ``seqs``: the refused batch."""

    seqs: tuple[int, ...] = ()


class HubBusy(SyncError):
    """The hub is overloaded or failing (429, 5xx, 413, unreadable answer); retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float | None, shrink: bool = True) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.shrink_batch = shrink


class HubFailed(HubBusy):
    """The hub failed on a push (500, 502, 504: not 503/429, which mean busy): something in the batch may be
    the cause, so the batch is halved as for a refusal; ``seqs``: the failed batch (see ``_isolate_failure``)."""

    seqs: tuple[int, ...] = ()


class TooLarge(HubBusy):
    """413: the next batches are smaller; a single event refused so is a ``BatchRefused`` (see ``_results``)."""


def sync_error(problem: HubProblem) -> SyncError:
    """The client's exception for a hub failure described by ``sync.http_errors``."""
    if problem.kind in ("unreachable", "timeout", "broken"):
        return HubUnreachable(problem.message)
    if problem.kind == "too_large":
        return TooLarge(problem.message, problem.retry_after_s or 0.0)
    if problem.kind in ("revoked", "unknown_device", "refused"):
        return HubRefused(problem.message)
    if problem.status is not None and problem.status >= 500 and problem.status != 503:
        return HubFailed(problem.message, problem.retry_after_s)
    return HubBusy(problem.message, problem.retry_after_s)


@dataclass
class SyncReport:
    """What one ``sync_once`` did: events the hub accepted, already had, refused; changes pulled."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    pulled: int = 0
    batches: int = 0

    def summary(self, tr: Translator = ENGLISH) -> str:
        """The report in words, for a terminal, in ``tr``'s language."""
        return tr._("sent {accepted} new, {duplicate} already on the hub, {rejected} rejected; "
                    "received {pulled} changes").format(accepted=self.accepted, duplicate=self.duplicate,
                                                        rejected=self.rejected, pulled=self.pulled)


def _q(text: str) -> str:
    """A JSON string literal; ids, types and timestamps are plain ASCII, so the encoder is rarely needed."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


def hub_clock_offset(date_header: str | None, device_received: datetime, round_trip_s: float) -> float | None:
    """Hub time minus device time, in seconds, from an answer's ``Date`` header (RFC 9110 section 6.6.1: when
    the hub generated the answer, to the second). The hub's instant is taken mid-second and set against the
    device's clock at mid-flight (received minus half the round trip); error under a second plus half the
    round trip. None when the header is missing or unreadable."""
    if not date_header:
        return None
    try:
        hub = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return None
    if hub.tzinfo is None:
        hub = hub.replace(tzinfo=UTC)
    device_mid = device_received.timestamp() - max(0.0, round_trip_s) / 2
    return hub.timestamp() + 0.5 - device_mid


def full_jitter(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """AWS-style full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return (rng or random).uniform(0.0, min(cap_s, base_s * (2 ** min(attempt, 30))))


Connect = Callable[[], sqlite_utils.Database]


class SyncClient:
    """Pushes the device's outbox to its hub and pulls the store's changes (``docs/sync-protocol.md``).

    ``db``: the store database (an open ``sqlite_utils.Database``, or a factory that opens it with the app's
    pragmas and migrations: ``sync`` never opens the store database itself). ``credential``: the device's
    enrolment (``sync.credentials.load``). ``settings``: the ``[hub]`` section (``SyncConfig``); ``hub_url``
    overrides its URL (else the settings' URL, else the credential's). ``initial_batch``: events in the first
    batch (then adaptive, up to ``settings.batch_max_events``).

    Failures raise ``SyncError`` subclasses whose text is a sentence for the status bar (``HubUnreachable``,
    ``HubBusy``, ``HubRefused``); events of a failed batch go back to pending, in order. Not thread-safe: one
    thread drives it (``SyncWorker`` or ``store-edge sync run``); listeners are called on that thread.
    """

    def __init__(self, db: sqlite_utils.Database | Connect, credential: Credential, settings: SyncConfig | None = None,
                 *, hub_url: str | None = None, rng: random.Random | None = None, initial_batch: int = 100) -> None:
        self.db = db if isinstance(db, sqlite_utils.Database) else db()
        self.cred = credential
        self.settings = settings or SyncConfig()
        self.hub_url = (hub_url or self.settings.url or credential.hub_url).rstrip("/")
        self.rng = rng or random.Random()
        self.batch_size = max(1, min(initial_batch, self.settings.batch_max_events))
        self.failures = 0
        self._lone_failures: dict[int, int] = {}  # seq -> 5xx answers to it alone in a row (``_isolate_failure``)
        self._listeners: list[StatusListener] = []
        self._lock = threading.Lock()
        self._online: bool | None = None
        self._backlog = 0
        self._sent = 0
        self._next_attempt_in: float | None = None
        self._clock_offset: float | None = None  # last recorded hub clock offset (s)
        self._clock_seen: float | None = None  # last seen
        self._http = httpx.Client(
            base_url=self.hub_url,
            timeout=self.settings.timeout_s,
            headers={"Authorization": f"Bearer {credential.token}", VERSION_HEADER: str(PROTOCOL_VERSION),
                     "User-Agent": f"store-edge-sync/{PROTOCOL_VERSION} ({credential.device_id})"},
        )
        self._envelope = (f'"device_id":{json.dumps(credential.device_id)},'
                          f'"store_id":{json.dumps(credential.store_id)}')
        outbox.resume_in_flight(self.db)

    def close(self) -> None:
        self._http.close()

    # ---------------------------------------------------------------- status
    def add_listener(self, listener: StatusListener) -> Callable[[], None]:
        """Called on the sync thread after every batch and state change; returns an unsubscribe function.
        A Textual app should hop threads with ``app.call_from_thread``."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def status(self) -> SyncStatus:
        st = outbox.stats(self.db, dead_limit=0)
        return SyncStatus(
            online=self._online,
            pending=st.unsent,
            dead=st.dead,
            oldest_pending_age_s=st.oldest_pending_age_s(),
            last_success_at=get_state(self.db, LAST_SUCCESS_KEY),
            last_error=get_state(self.db, LAST_ERROR_KEY),
            backlog=self._backlog,
            sent=self._sent,
            next_attempt_in_s=self._next_attempt_in,
        )

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        if not listeners:
            return
        snapshot = self.status()
        for listener in listeners:
            try:
                listener(snapshot)
            except Exception:  # a broken UI callback must not stop the sync
                log.exception("sync status listener failed")

    def _record_success(self) -> None:
        self._online = True
        self.failures = 0
        with self.db.conn:
            set_state(self.db, LAST_SUCCESS_KEY, outbox.utc_now_iso())
            self.db.conn.execute("DELETE FROM sync_state WHERE key = ?", [LAST_ERROR_KEY])
            self._save_hub_clock()

    def _record_error(self, exc: SyncError) -> None:
        self._online = False if isinstance(exc, HubUnreachable | HubRefused) else self._online
        self.failures += 1
        with self.db.conn:
            set_state(self.db, LAST_ERROR_KEY, str(exc))
            self._save_hub_clock()

    # ---------------------------------------------------------------- HTTP
    def _request(self, method: str, path: str, **kw: Any) -> Any:
        """One request; the hub's JSON answer, or a ``SyncError`` saying in words what went wrong."""
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise sync_error(transport_problem(exc, self.hub_url, self.settings.timeout_s)) from None
        self._note_hub_clock(resp)
        doc = read_json(resp)
        problem = answer_problem(resp, doc)
        if problem is not None and resp.status_code == 400 and isinstance(doc, dict) and doc.get("error") == "bad_request":
            raise BatchRefused(problem.message)
        if problem is not None:
            raise sync_error(problem)
        if doc is None:
            raise HubBusy("the hub's answer could not be read (not JSON); retrying", None)
        return doc

    def _note_hub_clock(self, resp: httpx.Response) -> None:
        """Remember the hub's clock offset (``hub_clock_offset``); requests run on the push thread too, so it
        is recorded in the database by the sync thread, with the round's outcome (``_save_hub_clock``)."""
        offset = hub_clock_offset(resp.headers.get("date"), datetime.now(UTC), resp.elapsed.total_seconds())
        if offset is not None:
            self._clock_seen = offset

    def _save_hub_clock(self) -> None:
        """Inside the caller's transaction: record the offset seen when it moved by a second or more."""
        seen = self._clock_seen
        if seen is None:
            return
        if self._clock_offset is not None and abs(seen - self._clock_offset) < HUB_CLOCK_RECORD_STEP_S:
            return
        set_state(self.db, HUB_CLOCK_OFFSET_KEY, f"{seen:.1f}")
        self._clock_offset = seen

    # ---------------------------------------------------------------- push
    def _event_json(self, row: outbox.OutboxRow) -> str:
        # the payload is already JSON text in the outbox: splice it in instead of decoding and re-encoding
        return (
            f'{{"id":{_q(row.event_id)},{self._envelope},"seq":{row.seq},"type":{_q(row.type)},'
            f'"payload":{row.payload},"device_time":{_q(row.device_time)}}}'
        )

    def _claim(self) -> tuple[list[outbox.OutboxRow], bytes] | None:
        """Claim the next batch and build its gzipped body; None when nothing is pending."""
        batch = outbox.claim_batch(self.db, self.batch_size, self.settings.batch_max_bytes)
        if not batch:
            return None
        body = (f'{{"protocol":{PROTOCOL_VERSION},"events":[' + ",".join(self._event_json(r) for r in batch)
                + "]}").encode()
        return batch, gzip.compress(body, 1)

    def _post(self, body: bytes) -> Any:
        return self._request("POST", f"{protocol.API_PREFIX}/events", content=body,
                             headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    def _results(self, batch: list[outbox.OutboxRow], answer: Callable[[], Any]) -> dict[str, protocol.EventResult]:
        """The hub's verdicts by event id; on failure the batch goes back to pending and SyncError is raised."""
        try:
            results = protocol.parse_push_response(answer())
        except protocol.ProtocolError as exc:
            outbox.release(self.db, [r.seq for r in batch], str(exc))
            raise HubBusy(f"the hub's answer could not be read ({exc}); retrying", None) from None
        except SyncError as exc:
            outbox.release(self.db, [r.seq for r in batch], str(exc))
            if isinstance(exc, TooLarge) and len(batch) == 1:
                exc = BatchRefused(f"the hub refused the request as too large (413): {exc}")
            if isinstance(exc, BatchRefused | HubFailed):
                exc.seqs = tuple(r.seq for r in batch)
                raise exc from None
            raise
        return {r.id: r for r in results}

    def _isolate(self, exc: BatchRefused, report: SyncReport) -> bool:
        """The hub refused a whole batch: halve the batch until the event it refuses is alone, then that event
        goes to the dead letters with the hub's words and the others flow on. False (the refusal stands, for
        every event) when the hub refuses even an empty batch: then the events are not the cause."""
        if len(exc.seqs) > 1:
            self.batch_size = max(1, min(self.batch_size, len(exc.seqs)) // 2)
            return True
        if not exc.seqs:
            return False
        try:
            self._post(gzip.compress(f'{{"protocol":{PROTOCOL_VERSION},"events":[]}}'.encode(), 1))
        except SyncError:
            return False
        outbox.bury(self.db, exc.seqs[0], f"the hub refused this event on its own: {exc}")
        report.rejected += 1
        return True

    def _isolate_failure(self, exc: HubFailed, report: SyncReport) -> bool:
        """The hub failed (5xx) on a batch: halve it, as for a refusal, until one event is alone. An event the
        hub fails on alone, ``LONE_FAILURE_STRIKES`` times in a row while it takes an empty batch each time,
        goes to the dead letters with words for the technician; the others flow on. False (a transient
        failure: retry after the back-off) otherwise. Strikes are counted for the head event only, so a hub
        failing now and then, as the fault proxy's does, never buries an honest event."""
        if len(exc.seqs) > 1:
            self.batch_size = max(1, min(self.batch_size, len(exc.seqs)) // 2)
            return True
        if not exc.seqs:
            return False
        seq = exc.seqs[0]
        try:
            self._post(gzip.compress(f'{{"protocol":{PROTOCOL_VERSION},"events":[]}}'.encode(), 1))
        except SyncError:
            return False  # the hub fails whatever it is sent: the event is not the cause
        strikes = self._lone_failures.get(seq, 0) + 1
        self._lone_failures = {seq: strikes}
        if strikes < LONE_FAILURE_STRIKES:
            return False
        self._lone_failures = {}
        outbox.bury(self.db, seq, f"the hub failed on this event alone {strikes} times while it took other requests "
                    f"({exc}); the event is kept on this till: ask the hub administrator to look at the hub's "
                    "log for it, then 'store-edge sync retry-dead'")
        report.rejected += 1
        return True

    def push_batch(self) -> tuple[int, int, int] | None:
        """Send one batch; returns (accepted, duplicate, rejected) or None when nothing is pending."""
        claimed = self._claim()
        if claimed is None:
            return None
        batch, body = claimed
        started = time.monotonic()
        by_id = self._results(batch, lambda: self._post(body))
        counts = self._settle(batch, by_id)
        self._adapt(time.monotonic() - started, ok=True)
        return counts

    def _settle(self, batch: list[outbox.OutboxRow], by_id: dict[str, protocol.EventResult]) -> tuple[int, int, int]:
        acked, dead = [], []
        counts = [0, 0, 0]
        for row in batch:
            res = by_id.get(row.event_id)
            if res is None:
                continue  # no verdict: stays in flight, released below and sent again
            if res.status in (ACCEPTED, DUPLICATE):
                acked.append(row.seq)
                counts[0 if res.status == ACCEPTED else 1] += 1
            else:
                dead.append((row.seq, res.reason or "rejected by the hub without a reason"))
                counts[2] += 1
        outbox.settle(self.db, acked, dead)
        missing = [r.seq for r in batch if r.event_id not in by_id]
        if missing:
            outbox.release(self.db, missing, "the hub's answer did not mention these events")
        return counts[0], counts[1], counts[2]

    def _pipelined(self) -> Generator[tuple[int, int, int], None, None]:
        """``push_batch`` over and over, with the local work (settling the answered batch, claiming and
        encoding the next) done while the hub applies the batch on the wire, on its own CPU.

        Still one request at a time, in seq order: batch N+1 goes out only after N's answer arrived and gave
        every event of N a verdict, so the hub sees each device's events in order as before. A failure
        releases the failed batch and the one claimed behind it; both go back to pending, in order."""
        sender = ThreadPoolExecutor(1, thread_name_prefix="sync-push")
        prepared: tuple[list[outbox.OutboxRow], bytes] | None = None
        wire: tuple[list[outbox.OutboxRow], Future[Any], float] | None = None
        try:
            prepared = self._claim()
            while prepared is not None:
                batch, body = prepared
                prepared = None
                wire = (batch, sender.submit(self._post, body), time.monotonic())
                while wire is not None:
                    batch, future, started = wire
                    if prepared is None:
                        prepared = self._claim()  # while the hub works on ``batch``
                    wire = None  # from here on ``_results`` releases the batch if it fails
                    by_id = self._results(batch, future.result)
                    seconds = time.monotonic() - started
                    complete = all(r.event_id in by_id for r in batch)
                    if prepared is not None and complete:
                        wire = (prepared[0], sender.submit(self._post, prepared[1]), time.monotonic())
                        prepared = None
                    counts = self._settle(batch, by_id)
                    if prepared is not None and not complete:
                        # events without a verdict were released; they go out before the claimed batch
                        outbox.release(self.db, [r.seq for r in prepared[0]], "sent after the events before it")
                        prepared = None
                    self._adapt(seconds, ok=True)
                    yield counts
                if prepared is None:
                    prepared = self._claim()
        finally:
            if wire is not None:  # left early (an error or the caller stopped): its fate is unknown
                with contextlib.suppress(Exception):  # the answer is discarded either way
                    wire[1].result()
                outbox.release(self.db, [r.seq for r in wire[0]], "the push stopped before this batch's answer was read")
            if prepared is not None:
                outbox.release(self.db, [r.seq for r in prepared[0]], "the push stopped before this batch was sent")
            sender.shutdown(wait=True)

    def _adapt(self, seconds: float, *, ok: bool) -> None:
        top = self.settings.batch_max_events
        if ok and seconds < SLOW_BATCH_S:
            self.batch_size = min(top, self.batch_size * 2)
        elif not ok or seconds > 2 * SLOW_BATCH_S:
            self.batch_size = max(1, self.batch_size // 2)

    def push_all(self, report: SyncReport | None = None, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Drain the outbox; raises ``SyncError`` on the first failure (the rows are back to pending)."""
        report = report or SyncReport()
        self._backlog = outbox.pending_count(self.db)
        self._sent = 0
        batches = self._pipelined()
        try:
            while True:
                try:
                    counts = next(batches, None)
                except BatchRefused as exc:
                    if not self._isolate(exc, report):
                        raise
                    batches = self._pipelined()  # the refused batch is pending again, in order
                    continue
                except HubFailed as exc:
                    if not self._isolate_failure(exc, report):
                        self._adapt(0.0, ok=False)
                        raise
                    batches = self._pipelined()
                    continue
                except SyncError as exc:
                    if exc.shrink_batch:
                        self._adapt(0.0, ok=False)
                    raise
                if counts is None:
                    break
                report.accepted += counts[0]
                report.duplicate += counts[1]
                report.rejected += counts[2]
                report.batches += 1
                self._sent += sum(counts)
                self._online = True
                if progress:
                    progress(self._sent, max(self._backlog, self._sent))
                self._notify()
        finally:
            batches.close()
            self._backlog = self._sent = 0
        return report

    # ---------------------------------------------------------------- pull
    def pull_all(self, report: SyncReport | None = None, *, max_pages: int = 10_000) -> SyncReport:
        report = report or SyncReport()
        for _ in range(max_pages):
            params = {"limit": str(PULL_LIMIT)}
            cursor = get_state(self.db, "pull_cursor")
            if cursor:
                params["cursor"] = cursor
            doc = self._request("GET", f"{protocol.API_PREFIX}/changes", params=params)
            try:
                page = protocol.parse_changes_page(doc)
            except protocol.ProtocolError as exc:
                raise HubBusy(f"the hub's changes could not be read ({exc}); retrying", None) from None
            report.pulled += apply_page(self.db, page)
            if not page.has_more:
                break
        return report

    # ---------------------------------------------------------------- one round / the loop
    def sync_once(self, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Push everything pending, then pull; raises ``SyncError`` (recorded for ``status``)."""
        report = SyncReport()
        try:
            self.push_all(report, progress)
            self.pull_all(report)
        except SyncError as exc:
            self._record_error(exc)
            self._notify()
            raise
        self._record_success()
        self._notify()
        return report

    def compact(self) -> int | None:
        """Drop acked events past the retention period; None when that failed (e.g. a full disk)."""
        try:
            return outbox.compact(self.db, self.settings.acked_retention_days)
        except Exception:  # housekeeping must never stop a sync
            log.warning("compacting the outbox failed", exc_info=True)
            return None

    def next_delay(self, exc: SyncError | None) -> float:
        cap = self.settings.backoff_cap_s
        if exc is None:
            return self.settings.sync_interval_s
        if exc.permanent:
            return cap  # revoked or unknown device: retrying soon cannot help until someone re-enrols
        if exc.retry_after_s is not None:
            return min(cap, exc.retry_after_s)
        return full_jitter(self.failures, BACKOFF_BASE_S, cap, self.rng)

    def run(self, stop: threading.Event, wake: threading.Event | None = None,
            progress: Callable[[int, int], None] | None = None) -> None:
        """Sync until ``stop`` is set; ``wake`` cuts a wait short (e.g. right after a sale)."""
        wake = wake or threading.Event()
        last_compact: float | None = None  # compact on the first round, then hourly
        resume = False
        while not stop.is_set():
            error: SyncError | None = None
            try:
                if resume:
                    # a round that died unexpectedly (e.g. the disk was full when the hub's answer was being
                    # recorded) left its batch in_flight, where claim_batch never looks again; nothing else is
                    # in flight on this device now, so it goes back to pending and is sent again, in order
                    outbox.resume_in_flight(self.db)
                    resume = False
                self.sync_once(progress)
            except SyncError as exc:
                error = exc
                log.info("sync failed: %s", exc)
            except Exception as exc:  # never let the worker die silently: say so in the status bar
                resume = True
                error = SyncError(f"the sync failed unexpectedly ({type(exc).__name__}: {exc})")
                log.exception("sync failed unexpectedly")
                with contextlib.suppress(Exception):  # recording it may fail for the same reason (disk full)
                    self._record_error(error)
            due = last_compact is None or time.monotonic() - last_compact > 3600
            if due and self.compact() is not None:
                last_compact = time.monotonic()
            delay = self.next_delay(error)
            self._next_attempt_in = delay
            self._notify()
            wake.wait(delay)
            wake.clear()
            self._next_attempt_in = None


class SyncWorker:
    """The till's background sync thread. ``trigger()`` after a sale makes it push at once."""

    def __init__(self, client: SyncClient) -> None:
        self.client = client
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._main, name="sync-worker", daemon=True)

    def _main(self) -> None:
        try:
            self.client.run(self._stop, self._wake)
        finally:
            self.client.close()

    def start(self) -> SyncWorker:
        self._thread.start()
        return self

    def trigger(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def add_listener(self, listener: StatusListener) -> Callable[[], None]:
        return self.client.add_listener(listener)


def describe_status(st: SyncStatus, tr: Translator = ENGLISH) -> list[str]:
    """The status in words, in ``tr``'s language, for ``sync status`` and for a status-bar tooltip."""
    online = {True: tr._("online"), False: tr._("offline"), None: tr._("not tried yet")}[st.online]
    lines = [tr._("hub: {state}").format(state=online), tr._("pending events: {n}").format(n=st.pending)]
    if st.oldest_pending_age_s is not None:
        lines.append(tr._("oldest pending: {age} old").format(age=_age(st.oldest_pending_age_s, tr)))
    lines.append(tr._("last successful sync: {when}").format(when=st.last_success_at or tr._("never")))
    if st.last_error:
        lines.append(tr._("last error: {problem}").format(problem=st.last_error))
    lines.append(tr._("dead letters: {n}").format(n=st.dead))
    return lines


def _age(seconds: float, tr: Translator = ENGLISH) -> str:
    """An age in words with ``tr``'s number marks: ``45 s``, ``12 min``, ``3.5 h`` (es ``3,5 h``), ``2.5 days``."""
    if seconds < 120:
        return f"{Number(seconds).in_locale(tr.locale)} s"
    if seconds < 7200:
        return f"{Number(seconds / 60).in_locale(tr.locale)} min"
    if seconds < 172800:
        return f"{Number(seconds / 3600, digits=1).in_locale(tr.locale)} h"
    return tr._("{n} days").format(n=Number(seconds / 86400, digits=1).in_locale(tr.locale))


def status_offline(db: sqlite_utils.Database) -> SyncStatus:
    """The status from the database alone (``sync status`` without contacting the hub)."""
    st = outbox.stats(db, dead_limit=0)
    return SyncStatus(
        online=None, pending=st.unsent, dead=st.dead, oldest_pending_age_s=st.oldest_pending_age_s(),
        last_success_at=get_state(db, LAST_SUCCESS_KEY), last_error=get_state(db, LAST_ERROR_KEY),
    )



