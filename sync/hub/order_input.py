"""The bodies of the web/app order API, checked before the database sees them (every input hostile).

``POST /v1/orders``, ``POST /v1/orders/{id}/returns`` and the path's order id: each problem is named with its
line and field ("line 3: 'qty' must be a whole number from 1 to 999, got 0"), and all problems of a body are
given in one 400 sentence so the web shop can fix them at once. An order is all or nothing (a customer pays for
the whole order), so one bad line refuses the order, naming that line. Limits: ``edge.core.contract``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from edge.core.contract import (
    MAX_CENTS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_POINTS_PER_SALE,
    MAX_QTY,
    MAX_SALE_LINES,
    MAX_TIMESTAMP_CHARS,
    Field,
    Int,
    OneOf,
    Str,
)
from sync.hub.common import HubError

MAX_ORDER_LINES = 500  # lines on one web/app order
MAX_ORDER_COUPONS = 10  # coupon codes on one order
CHANNELS = ("web", "app")
_GTIN = Str(1, 14)
ORDER_LINE_FIELDS = (
    Field("line_no", Int(1, MAX_SALE_LINES)),
    Field("gtin", _GTIN, required=True),
    Field("qty", Int(1, MAX_QTY), required=True),
    Field("unit_price_cents", Int(0, MAX_CENTS), required=True),
    Field("category", Str(1, MAX_NAME_CHARS), nullable=True),
    Field("name", Str(0, MAX_NAME_CHARS), nullable=True),
)
# an order's state as the web shop sends it: placed; click & collect: ready (for pick-up), collected; home
# delivery: shipped, delivered. A cancel goes through its own endpoint, which records "cancelled"
ORDER_STATUSES = ("placed", "ready", "collected", "shipped", "delivered", "cancelled")
ORDER_FIELDS = (
    Field("order_id", Str(1, MAX_ID_CHARS), required=True),
    Field("customer_id", Str(1, MAX_ID_CHARS), required=True),
    Field("channel", OneOf(CHANNELS), required=True),
    Field("total_cents", Int(0, MAX_CENTS), required=True),
    Field("points_redeemed", Int(0, MAX_POINTS_PER_SALE)),
    Field("status", OneOf(ORDER_STATUSES)),
    Field("store_id", Str(1, MAX_ID_CHARS), nullable=True),
    Field("pickup_store_id", Str(1, MAX_ID_CHARS), nullable=True),
    Field("created_at", Str(1, MAX_TIMESTAMP_CHARS), nullable=True),
)
RETURN_LINE_FIELDS = (
    Field("line_no", Int(1, MAX_SALE_LINES), required=True),
    Field("qty", Int(1, MAX_QTY), required=True),
)


def _problems(fields: tuple[Field, ...], doc: dict[str, Any], where: str = "") -> list[str]:
    """Every field's problem (not only the first), each prefixed with ``where``."""
    return [f"{where}{p}" for f in fields if (p := f.problem(doc)) is not None]


def _line_problems(lines: Any, fields: tuple[Field, ...], limit: int) -> list[str]:
    if not isinstance(lines, list) or not 1 <= len(lines) <= limit:
        return [f"'lines' must be a list of 1 to {limit} lines"]
    problems: list[str] = []
    seen: set[int] = set()
    for n, line in enumerate(lines, start=1):
        where = f"line {n}: "
        if not isinstance(line, dict):
            problems.append(f"{where}must be a JSON object")
            continue
        found = _problems(fields, line, where)
        gtin = line.get("gtin")
        if "gtin" in {f.name for f in fields} and isinstance(gtin, str) and _GTIN.ok(gtin) and \
                not (gtin.isascii() and gtin.isdigit()):
            found.append(f"{where}'gtin' must be the product's GTIN (1 to 14 digits), got {gtin[:20]!r}")
        if found:  # line_no is read only once it is known to be a whole number
            problems.extend(found)
            continue
        line_no = line.get("line_no", n)
        if line_no in seen:
            problems.append(f"{where}'line_no' {line_no} appears twice")
        seen.add(line_no)
    return problems


def _coupon_problems(codes: Any) -> list[str]:
    if codes is None:
        return []
    if not isinstance(codes, list) or len(codes) > MAX_ORDER_COUPONS:
        return [f"'coupons' must be a list of at most {MAX_ORDER_COUPONS} coupon codes"]
    problems = [f"coupon {n}: must be a code of 1 to {MAX_NAME_CHARS} characters"
                for n, code in enumerate(codes, start=1) if not Str(1, MAX_NAME_CHARS).ok(code)]
    if not problems and len({c.strip().upper() for c in codes}) != len(codes):
        problems.append("'coupons' names the same coupon twice")
    return problems


EARLIEST_ORDER = datetime(2000, 1, 1, tzinfo=UTC)
ORDER_CLOCK_SKEW = timedelta(days=1)  # a shop's clock ahead of the hub's, at most


def _order_time(text: str, now: datetime) -> tuple[str | None, str | None]:
    """``created_at`` -> (the time in UTC as the hub writes it, None) or (None, why not). The spend window
    compares these strings (``programme``), so a time must carry its zone and lie between 2000-01-01 and a day
    after the hub's now: ``9999-12-31`` counted in the member's spend for ever, ``0001-01-01`` never."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, "must be an ISO 8601 time such as 2026-05-01T10:00:00Z"
    if when.tzinfo is None:
        return None, "must carry its time zone (Z or +HH:MM)"
    try:
        when = when.astimezone(UTC)
    except OverflowError:
        return None, f"must lie between {EARLIEST_ORDER.date()} and now"
    if not EARLIEST_ORDER <= when <= now + ORDER_CLOCK_SKEW:
        return None, f"must lie between {EARLIEST_ORDER.date()} and now"
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z"), None


def _refuse(problems: list[str], what: str) -> None:
    if problems:
        raise HubError("bad_request", f"{what} refused: " + "; ".join(problems[:50])
                       + (f"; and {len(problems) - 50} more" if len(problems) > 50 else ""), 400)


def check_order(doc: Any, *, quote: bool = False) -> dict[str, Any]:
    """``POST /v1/orders`` body -> the order (lines numbered, coupon codes trimmed). Raises ``HubError`` 400
    naming every bad field and every bad line with its field.

    Shape: ``order_id, customer_id, channel (web|app), total_cents`` (what the customer pays: after discounts
    and after the value of the points redeemed), ``lines: [{gtin, qty, unit_price_cents, category?, name?,
    line_no?}]``, and optionally ``points_redeemed``, ``coupons: [code]``, ``store_id`` (the store that sold it),
    ``pickup_store_id``, ``status``, ``created_at``. ``quote``: the order as asked for a quote, whose
    ``total_cents`` (and ``order_id``) may be left out."""
    if not isinstance(doc, dict):
        raise HubError("bad_request", "the order must be a JSON object", 400)
    if quote:
        doc = {"order_id": "quote", "total_cents": 0, **doc}
    problems = _problems(ORDER_FIELDS, doc)
    problems += _line_problems(doc.get("lines"), ORDER_LINE_FIELDS, MAX_ORDER_LINES)
    problems += _coupon_problems(doc.get("coupons"))
    created_at = None
    if isinstance(doc.get("created_at"), str):
        created_at, why = _order_time(doc["created_at"], datetime.now(UTC))
        if why:
            problems.append(f"'created_at' {why}, got {doc['created_at'][:40]!r}")
    if doc.get("status") == "cancelled":
        problems.append("an order is not placed cancelled: cancel it with POST /v1/orders/{order_id}/cancel")
    _refuse(problems, f"order {str(doc.get('order_id'))[:64]!r}")
    lines = [{"line_no": line.get("line_no", n), "gtin": line["gtin"], "qty": line["qty"],
              "unit_price_cents": line["unit_price_cents"], "category": line.get("category"),
              "name": line.get("name")} for n, line in enumerate(doc["lines"], start=1)]
    return {"order_id": doc["order_id"], "customer_id": doc["customer_id"], "channel": doc["channel"],
            "total_cents": doc["total_cents"], "points_redeemed": doc.get("points_redeemed", 0),
            "coupons": [c.strip() for c in doc.get("coupons") or []], "status": doc.get("status", "placed"),
            "store_id": doc.get("store_id"), "pickup_store_id": doc.get("pickup_store_id"),
            "created_at": created_at, "lines": sorted(lines, key=lambda ln: ln["line_no"])}


def check_order_id(order_id: str) -> str:
    """The ``{order_id}`` of a path, as an order id (400 otherwise)."""
    if not Str(1, MAX_ID_CHARS).ok(order_id):
        raise HubError("bad_request", f"the order id must be 1 to {MAX_ID_CHARS} characters", 400)
    return order_id


def check_return(doc: Any) -> dict[str, Any]:
    """``POST /v1/orders/{id}/returns`` body -> ``{return_id, lines: [{line_no, qty}]}``: ``return_id`` makes
    it idempotent, each line names a line of the order and the units returned. Raises ``HubError`` 400."""
    if not isinstance(doc, dict):
        raise HubError("bad_request", "the return must be a JSON object", 400)
    problems = _problems((Field("return_id", Str(1, MAX_ID_CHARS), required=True),), doc)
    problems += _line_problems(doc.get("lines"), RETURN_LINE_FIELDS, MAX_ORDER_LINES)
    _refuse(problems, f"return {str(doc.get('return_id'))[:64]!r}")
    return {"return_id": doc["return_id"],
            "lines": [{"line_no": ln["line_no"], "qty": ln["qty"]} for ln in doc["lines"]]}
