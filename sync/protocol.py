"""The edge <-> hub wire protocol: versioned JSON over HTTP(S). The prose is in docs/sync-protocol.md.

Everything that crosses the wire is built and checked here so the client and the hub cannot disagree.
Parsers never raise on bad input: they return ``ProtocolError`` with a sentence naming the problem.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Final

from edge.core.contract import ChangeKind

try:  # optional speed-up; every result is checked to be the one the stdlib would give
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson = None  # type: ignore[assignment]

PROTOCOL_VERSION = 1
API_PREFIX = "/v1"
VERSION_HEADER = "X-Store-Edge-Protocol"

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"
RESULT_STATUSES = (ACCEPTED, DUPLICATE, REJECTED)

# change kinds carried by the pull stream: the contract's ChangeKind (these names stay for their importers);
# presence identities and sightings go to a store only while consent lasts (docs/sync-protocol.md)
PRODUCT: Final[str] = ChangeKind.PRODUCT
OFFER: Final[str] = ChangeKind.OFFER
COUPON: Final[str] = ChangeKind.COUPON
CUSTOMER: Final[str] = ChangeKind.CUSTOMER
SIGNING_KEY: Final[str] = ChangeKind.SIGNING_KEY
REVOCATION: Final[str] = ChangeKind.REVOCATION
PRESENCE_IDENTITY: Final[str] = ChangeKind.PRESENCE_IDENTITY
STORE_BEACON: Final[str] = ChangeKind.STORE_BEACON
PRESENCE_RULE: Final[str] = ChangeKind.PRESENCE_RULE
SIGHTING: Final[str] = ChangeKind.SIGHTING
TOKEN_SIGHTING: Final[str] = ChangeKind.TOKEN_SIGHTING
CHANGE_KINDS: tuple[str, ...] = tuple(ChangeKind)

MAX_PUSH_EVENTS = 10_000
MAX_PUSH_BYTES = 32 * 1024 * 1024  # decompressed; a gzip bomb is refused beyond this
MAX_PULL_LIMIT = 5_000
MAX_JSON_DEPTH = 1_000  # arrays/objects inside each other (about the parsers' own limit); the protocol needs < 10


class ProtocolError(ValueError):
    """A message does not follow the protocol; ``str()`` is a sentence a technician can act on."""


@dataclass(frozen=True)
class Event:
    id: str
    device_id: str
    store_id: str
    seq: int
    type: str
    payload: dict[str, Any]
    device_time: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "device_id": self.device_id,
            "store_id": self.store_id,
            "seq": self.seq,
            "type": self.type,
            "payload": self.payload,
            "device_time": self.device_time,
        }


@dataclass(frozen=True)
class EventResult:
    id: str
    status: str
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Change:
    kind: str
    key: str
    data: dict[str, Any] | None  # None: the object was deleted

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "data": self.data}


@dataclass
class ChangesPage:
    changes: list[Change] = field(default_factory=list)
    cursor: str = ""
    has_more: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL_VERSION,
            "changes": [c.to_json() for c in self.changes],
            "cursor": self.cursor,
            "has_more": self.has_more,
        }


def encode_push(events: list[dict[str, Any]] | list[Event], *, compress: bool = True) -> bytes:
    """The push body; events may be pre-built dicts (the client's fast path) or ``Event`` objects."""
    items = [e.to_json() if isinstance(e, Event) else e for e in events]
    raw = json.dumps({"protocol": PROTOCOL_VERSION, "events": items}, separators=(",", ":")).encode()
    # level 1: on a loopback or LAN link the CPU, not the bytes, is the bottleneck
    return gzip.compress(raw, compresslevel=1) if compress else raw


# orjson reads integers beyond 64 bits as floats (the stdlib keeps them exact): a body with a run of 19 digits
# goes to the stdlib. Found by mapping every digit to '0' and searching, which is far faster than a regex.
_DIGITS_TO_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_NUMBER = b"0" * 19
# the float spellings where orjson and the stdlib differ (1e-05 vs 0.00001, 1.5e-07 vs 1.5e-7); a string that
# merely looks like one only costs a fall-back to the stdlib
_FLOAT_SPELLING = re.compile(rb"e-[0-9](?![0-9])")
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def loads(data: bytes) -> tuple[Any, bool]:
    """(value, finite): the value ``json.loads`` gives; ``finite`` is True when it holds no NaN or infinity
    (orjson refuses those, so a value orjson parsed is finite; the stdlib accepts them).

    ``RecursionError`` for a document nested deeper than the parsers go (``MAX_JSON_DEPTH``: orjson refuses
    past 1,024 levels, the stdlib stops at the interpreter's recursion limit)."""
    if _orjson is not None and _LONG_NUMBER not in data.translate(_DIGITS_TO_ZERO):
        try:
            return _orjson.loads(data), True
        except _orjson.JSONDecodeError:
            pass  # NaN, Infinity, lone surrogates, UTF-16... or bad JSON: the stdlib decides and words the error
    return json.loads(data), False


def compact_json(value: Any, *, finite: bool = False) -> str:
    """Exactly ``json.dumps(value, separators=(",", ":"))``. ``finite``: the caller knows the value holds no
    NaN or infinity (orjson would write them as null)."""
    if _orjson is not None and finite:
        try:
            out = _orjson.dumps(value)
        except TypeError:  # integers beyond 64 bits, lone surrogates, non-string keys
            pass
        else:
            if out.isascii() and b"0.0000" not in out and (b"e-" not in out or not _FLOAT_SPELLING.search(out)):
                return out.decode()
    return _COMPACT.encode(value)


def dumps_utf8(value: Any) -> bytes | None:
    """What Starlette's JSONResponse renders for strings, lists, dicts and ints (UTF-8, compact), or None
    when orjson is missing or cannot encode ``value`` (the caller then uses JSONResponse)."""
    if _orjson is None:
        return None
    try:
        return _orjson.dumps(value)
    except TypeError:
        return None


def decode_body(body: bytes, content_encoding: str | None) -> Any:
    """Decompress (bounded) and parse a JSON body."""
    return decode_body_checked(body, content_encoding)[0]


def decode_body_checked(body: bytes, content_encoding: str | None) -> tuple[Any, bool]:
    """``decode_body``, and whether the value is known to hold no NaN or infinity (see ``loads``)."""
    if content_encoding and content_encoding.lower() == "gzip":
        try:
            body = _gunzip_bounded(body, MAX_PUSH_BYTES)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise ProtocolError(f"the body is not valid gzip ({exc})") from None
    elif content_encoding and content_encoding.lower() not in ("identity", ""):
        raise ProtocolError(f"unsupported Content-Encoding {content_encoding!r}; use gzip or none")
    if len(body) > MAX_PUSH_BYTES:
        raise ProtocolError(f"the body is larger than {MAX_PUSH_BYTES} bytes; send smaller batches")
    try:
        return loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"the body is not valid JSON ({exc})") from None
    except RecursionError:
        raise ProtocolError(f"the body nests JSON arrays or objects deeper than {MAX_JSON_DEPTH} levels; "
                            "send a flatter document") from None
    except ValueError:  # Python's int() refuses a literal past sys.get_int_max_str_digits() (4,300 digits)
        raise ProtocolError("the body holds a number with more digits than any field takes; send numbers in "
                            "their fields' ranges") from None


def _gunzip_bounded(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise ValueError(f"more than {limit} bytes once decompressed")
    if not d.eof:
        raise EOFError("the gzip stream is truncated")
    return out


def parse_push(doc: Any) -> list[dict[str, Any]]:
    """Check the envelope of a push request; per-event checks are ``check_event`` (so one bad event
    is rejected alone instead of failing the whole batch)."""
    if not isinstance(doc, dict):
        raise ProtocolError("the push body must be a JSON object with 'protocol' and 'events'")
    version = doc.get("protocol")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version!r} is not supported; this hub speaks {PROTOCOL_VERSION}")
    events = doc.get("events")
    if not isinstance(events, list):
        raise ProtocolError("'events' must be a list")
    if len(events) > MAX_PUSH_EVENTS:
        raise ProtocolError(f"a batch holds at most {MAX_PUSH_EVENTS} events, got {len(events)}")
    return events


_EVENT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "device_id": str,
    "store_id": str,
    "seq": int,
    "type": str,
    "payload": dict,
    "device_time": str,
}


def _event(i: str, d: str, s: str, q: int, t: str, p: dict[str, Any], tm: str) -> Event:
    """``Event(i, d, s, q, t, p, tm)``, the same object, without the frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field: half the cost of ``check_event`` on a valid event)."""
    ev = object.__new__(Event)
    object.__setattr__(ev, "__dict__", {"id": i, "device_id": d, "store_id": s, "seq": q, "type": t, "payload": p,
                                        "device_time": tm})
    return ev


def check_event(raw: Any) -> tuple[Event | None, str | None, str]:
    """(event, None, id) when well formed, else (None, reason, id-or-'')."""
    if type(raw) is dict:
        # the common case in one expression (exact JSON types); anything else takes the checks below,
        # which find the same answer for it and word the problem
        get = raw.get
        i, d, s, q, t, p, tm = (get("id"), get("device_id"), get("store_id"), get("seq"), get("type"),
                                get("payload"), get("device_time"))
        if (type(i) is str and type(d) is str and type(s) is str and type(q) is int and type(t) is str
                and type(p) is dict and type(tm) is str and 0 < len(i) <= 64 and q >= 0 and 0 < len(t) <= 64):
            return _event(i, d, s, q, t, p, tm), None, i
    if not isinstance(raw, dict):
        return None, "an event must be a JSON object", ""
    event_id = raw.get("id") if isinstance(raw.get("id"), str) else ""
    for name, tp in _EVENT_FIELDS.items():
        value = raw.get(name)
        if value is None:
            return None, f"the event has no '{name}'", str(event_id)
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            return None, f"'{name}' has the wrong type ({type(value).__name__})", str(event_id)
    if not 1 <= len(raw["id"]) <= 64:
        return None, "'id' must be 1 to 64 characters", str(event_id)
    if raw["seq"] < 0:
        return None, "'seq' must not be negative", str(event_id)
    if not raw["type"] or len(raw["type"]) > 64:
        return None, "'type' must be 1 to 64 characters", str(event_id)
    return (
        Event(
            id=raw["id"],
            device_id=raw["device_id"],
            store_id=raw["store_id"],
            seq=raw["seq"],
            type=raw["type"],
            payload=raw["payload"],
            device_time=raw["device_time"],
        ),
        None,
        raw["id"],
    )


def parse_push_response(doc: Any) -> list[EventResult]:
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ProtocolError("the hub's push answer has no 'results' list")
    out = []
    for item in doc["results"]:
        if type(item) is dict and len(item) == 2 and type(item.get("id")) is str and item.get("status") in (
                ACCEPTED, DUPLICATE):
            out.append(EventResult(item["id"], item["status"]))  # the common case, checked at once
            continue
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), str)
            or item.get("status") not in RESULT_STATUSES
        ):
            raise ProtocolError(f"the hub's push answer holds a malformed result: {item!r:.200}")
        reason = item.get("reason")
        out.append(EventResult(item["id"], item["status"], reason if isinstance(reason, str) else None))
    return out


def parse_changes_page(doc: Any) -> ChangesPage:
    if not isinstance(doc, dict):
        raise ProtocolError("the hub's changes answer is not a JSON object")
    changes_raw, cursor, has_more = doc.get("changes"), doc.get("cursor"), doc.get("has_more")
    if not isinstance(changes_raw, list) or not isinstance(cursor, str) or not isinstance(has_more, bool):
        raise ProtocolError("the hub's changes answer lacks 'changes', 'cursor' or 'has_more'")
    changes = []
    for c in changes_raw:
        if not isinstance(c, dict) or c.get("kind") not in CHANGE_KINDS or not isinstance(c.get("key"), str):
            raise ProtocolError(f"the hub's changes answer holds a malformed change: {c!r:.200}")
        data = c.get("data")
        if data is not None and not isinstance(data, dict):
            raise ProtocolError(f"change {c['kind']}/{c['key']} has data that is not an object")
        changes.append(Change(c["kind"], c["key"], data))
    return ChangesPage(changes, cursor, has_more)


def encode_cursor(version: int) -> str:
    # opaque to the edge; the 'c1.' prefix lets a later hub change the format and still read old cursors
    return f"c1.{version}"


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.startswith("c1.") or not (cursor[3:].isascii() and cursor[3:].isdigit()) or len(cursor) > 22:
        raise ProtocolError(f"the cursor {cursor[:40]!r} was not issued by this hub; pull again from the start")
    return int(cursor[3:])
