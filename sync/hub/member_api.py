"""The member API (``/v1/members...``): for the web shop and the app backend, with an API key and its scopes.

Every call names one member by id (``/v1/members/{id}``); nothing lists members, so a member-facing app can
later be given the same calls scoped to the member's own id. Scopes (``sync/hub/admin.py`` ``API_SCOPES``):
``members:read`` (profile, consents) and ``members:write`` (create, change, consent, merge).

Input is checked before the database sees it: a body must be a JSON object; a field this API does not know is
refused (400 naming it, and the fields it knows); each field's type, length and range are checked, and every
problem is named in one sentence (``{"error": "bad_request", "message": ...}``). Unknown member: 404; a key
without the scope: 403; a card number or external id held by another member: 409; an unknown home store: 422.
Phone numbers and e-mail addresses are hashed here (``edge.core.contacts``) and never stored.

Records: ``sync/hub/member_records.py``. Protocol text: docs/sync-protocol.md, "Member API".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.core.contacts import contact_hash, looks_like_email, phone_e164
from edge.core.contract import MAX_ID_CHARS, member_card_problem, text_problem
from sync import protocol
from sync.hub.common import HubError
from sync.hub.member_records import birthday_problem, display_name_problem

SCOPE_READ, SCOPE_WRITE = "members:read", "members:write"
MAX_BODY_BYTES = 64 * 1024  # a member document is small; anything larger is not one
MAX_EMAIL = 254  # RFC 5321 path limit
MAX_PHONE = 32
MAX_CONSENTS = 20
MAX_PREFERENCES = 20
MAX_PREFERENCE_CHARS = 200
MAX_HISTORY = 200
CONSENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
REGION = re.compile(r"[A-Z]{2}")

Check = Callable[[Any], str | None]


# ------------------------------------------------------------------------------------------- field checks
def _text(lo: int, hi: int) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a string of {lo} to {hi} characters"
        if not lo <= len(value.strip() if lo else value) or len(value) > hi:
            return f"must be {lo} to {hi} characters long, got {len(value)}"
        return text_problem(value)

    return check




def _email(value: Any) -> str | None:
    problem = _text(3, MAX_EMAIL)(value)
    return problem or (None if looks_like_email(value) else "is not an e-mail address (name@domain.tld)")


def _phone(value: Any) -> str | None:
    return _text(6, MAX_PHONE)(value)  # read with the region (below), once the region is known


def _birthday(value: Any) -> str | None:
    return birthday_problem(value) if isinstance(value, str) else "must be a date written YYYY-MM-DD"


def _card(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string of digits"
    return member_card_problem(value)


def _region(value: Any) -> str | None:
    ok = isinstance(value, str) and REGION.fullmatch(value)
    return None if ok else "must be a two-letter ISO 3166 country code in capitals, e.g. ES"


def _preferences(value: Any) -> str | None:
    if not isinstance(value, dict) or len(value) > MAX_PREFERENCES:
        return f"must be an object of at most {MAX_PREFERENCES} entries"
    for key, item in value.items():
        if _text(1, 40)(key) is not None:
            return f"key {key[:40]!r} must be 1 to 40 characters"
        if isinstance(item, str):
            if len(item) > MAX_PREFERENCE_CHARS or text_problem(item):
                return f"{key!r} must be a clean string of at most {MAX_PREFERENCE_CHARS} characters"
        elif not isinstance(item, bool) and item is not None:
            return f"{key!r} must be a string, true/false or null"
    return None


def _consents(value: Any) -> str | None:
    if not isinstance(value, list) or len(value) > MAX_CONSENTS:
        return f"must be a list of at most {MAX_CONSENTS} consents"
    seen: set[str] = set()
    for i, item in enumerate(value):
        problem = _consent_problem(item)
        if problem:
            return f"item {i}: {problem}"
        if item["name"] in seen:
            return f"item {i}: {item['name']!r} is given twice"
        seen.add(item["name"])
    return None


def _consent_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return 'must be an object {"name", "granted", "wording_version"}'
    unknown = sorted(set(item) - {"name", "granted", "wording_version"})
    if unknown:
        return f"unknown field {unknown[0]!r}; a consent has name, granted and wording_version"
    name = item.get("name")
    if not isinstance(name, str) or not CONSENT_NAME.fullmatch(name):
        return "'name' must be 1 to 32 lower-case letters, digits or _ (e.g. marketing, location)"
    if not isinstance(item.get("granted"), bool):
        return "'granted' must be true or false"
    version = item.get("wording_version")
    if _text(1, 40)(version) is not None:
        return "'wording_version' must be 1 to 40 characters naming the text the member agreed to (e.g. 2026-01)"
    return None


def _nullable(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


CREATE_FIELDS: dict[str, Check] = {
    "display_name": display_name_problem, "email": _email, "phone": _phone, "region": _region,
    "birthday": _birthday, "home_store_id": _text(1, MAX_ID_CHARS), "preferences": _preferences,
    "external_id": _text(1, MAX_ID_CHARS), "card_number": _card, "consents": _consents,
}
UPDATE_FIELDS: dict[str, Check] = {
    **CREATE_FIELDS, "email": _nullable(_email), "phone": _nullable(_phone), "birthday": _nullable(_birthday),
    "home_store_id": _nullable(_text(1, MAX_ID_CHARS)),
}
REQUIRED_ON_CREATE = ("display_name",)


def check_member_doc(doc: Any, fields: dict[str, Check], required: tuple[str, ...] = ()
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A create/update body -> (customers columns to write, consents to record). Raises ``HubError`` 400 with
    every problem named: not an object, an unknown field, a missing required one, a bad value."""
    if not isinstance(doc, dict):
        raise HubError("bad_request", "the body must be a JSON object", 400)
    problems = [f"unknown field {name[:40]!r}: the fields are {', '.join(fields)}" for name in doc if name not in fields]
    problems += [f"{name!r} is required" for name in required if name not in doc]
    problems += [f"{name!r} {problem}" for name, value in doc.items() if name in fields
                 and (problem := fields[name](value)) is not None]
    if not problems and "region" in doc and "phone" not in doc:
        problems.append("'region' is only used to read 'phone'; give both")
    region = str(doc.get("region") or "")
    if not problems and isinstance(doc.get("phone"), str) and phone_e164(doc["phone"], region, strict=True) is None:
        where = f"in {region}" if region else "in international form (+CC ...); give 'region' for a local number"
        problems.append(f"'phone' {doc['phone']!r} is not a valid phone number {where}")
    if problems:
        raise HubError("bad_request", "; ".join(problems), 400)
    columns = {k: doc[k] for k in ("display_name", "birthday", "home_store_id", "preferences", "external_id",
                                   "card_number") if k in doc}
    if "email" in doc:
        columns["email_hash"] = None if doc["email"] is None else contact_hash("email", doc["email"])
    if "phone" in doc:
        columns["phone_hash"] = None if doc["phone"] is None else contact_hash("phone", doc["phone"], region)
    if isinstance(columns.get("display_name"), str):
        columns["display_name"] = columns["display_name"].strip()
    return columns, list(doc.get("consents", []))


def member_id_param(request: Request) -> str:
    """The ``{member_id}`` of the path, checked (1..64 clean characters)."""
    value = str(request.path_params["member_id"])
    if not 1 <= len(value) <= MAX_ID_CHARS or text_problem(value) or not value.isprintable():
        raise HubError("bad_request", f"a member id is 1 to {MAX_ID_CHARS} printable characters", 400)
    return value


def history_param(request: Request) -> int:
    raw = request.query_params.get("history", "50")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4 or not 1 <= int(raw) <= MAX_HISTORY:
        raise HubError("bad_request", f"history must be a whole number from 1 to {MAX_HISTORY}", 400)
    return int(raw)


# ------------------------------------------------------------------------------------------- request plumbing
def _storage(request: Request) -> Any:
    return request.app.state.storage


async def api_client(request: Request, scope: str) -> str:
    """The name of the API key the request carries, when it holds ``scope``: 401 without a key, 403 otherwise."""
    value = request.headers.get("authorization", "")
    scheme, _, key = value.partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise HubError("unauthorized", "this call needs an API key created with 'store-edge hub create-api-key'", 401)
    name = await run_in_threadpool(_storage(request).api_key_holder, key, scope)
    if name is None:
        raise HubError("forbidden", f"this call needs an API key with the '{scope}' scope: create one with "
                       f"'store-edge hub create-api-key NAME --scope {scope}'", 403)
    return str(name)


async def _body(request: Request) -> Any:
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise HubError("too_large", f"a member document is at most {MAX_BODY_BYTES} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HubError("too_large", f"a member document is at most {MAX_BODY_BYTES} bytes", 413)
    return protocol.decode_body_checked(bytes(body), request.headers.get("content-encoding"))[0]


# ------------------------------------------------------------------------------------------- endpoints
async def create_member(request: Request) -> Response:
    client = await api_client(request, SCOPE_WRITE)
    columns, consents = check_member_doc(await _body(request), CREATE_FIELDS, REQUIRED_ON_CREATE)
    member, created = await run_in_threadpool(
        functools.partial(_storage(request).create_member, columns, consents, source=f"api:{client}"))
    return JSONResponse({**member, "created": created}, status_code=201 if created else 200)


async def get_member(request: Request) -> Response:
    await api_client(request, SCOPE_READ)
    member_id, limit = member_id_param(request), history_param(request)
    return JSONResponse(await run_in_threadpool(_storage(request).member_profile, member_id, limit))


async def update_member(request: Request) -> Response:
    client = await api_client(request, SCOPE_WRITE)
    member_id = member_id_param(request)
    doc = await _body(request)
    columns, consents = check_member_doc(doc, UPDATE_FIELDS)
    if not doc:
        raise HubError("bad_request", f"nothing to change: give one or more of {', '.join(UPDATE_FIELDS)}", 400)
    profile = await run_in_threadpool(
        functools.partial(_storage(request).update_member, member_id, columns, consents, source=f"api:{client}"))
    return JSONResponse(profile)


async def get_consents(request: Request) -> Response:
    await api_client(request, SCOPE_READ)
    member_id = member_id_param(request)
    return JSONResponse(await run_in_threadpool(_storage(request).member_consents, member_id))


async def set_consents(request: Request) -> Response:
    client = await api_client(request, SCOPE_WRITE)
    member_id = member_id_param(request)
    doc = await _body(request)
    if not isinstance(doc, dict) or set(doc) != {"consents"}:
        raise HubError("bad_request", 'send {"consents": [{"name", "granted", "wording_version"}, ...]} and '
                       "nothing else", 400)
    problem = _consents(doc["consents"]) or (None if doc["consents"] else "must hold at least one consent")
    if problem:
        raise HubError("bad_request", f"'consents' {problem}", 400)
    await run_in_threadpool(functools.partial(_storage(request).update_member, member_id, {}, doc["consents"],
                                              source=f"api:{client}"))
    return JSONResponse(await run_in_threadpool(_storage(request).member_consents, member_id))


async def merge_members(request: Request) -> Response:
    client = await api_client(request, SCOPE_WRITE)
    survivor = member_id_param(request)
    doc = await _body(request)
    if not isinstance(doc, dict):
        raise HubError("bad_request", 'send {"absorbed_id": "...", "reason": "..."}', 400)
    checks = {"absorbed_id": _text(1, MAX_ID_CHARS), "reason": _text(1, 500)}
    problems = [f"unknown field {k[:40]!r}: the fields are absorbed_id, reason" for k in doc if k not in checks]
    problems += [f"{k!r} is required" if k not in doc else f"{k!r} {p}" for k, check in checks.items()
                 if k not in doc or (p := check(doc[k])) is not None]
    if problems:
        raise HubError("bad_request", "; ".join(problems), 400)
    result = await run_in_threadpool(functools.partial(
        _storage(request).merge_members, survivor, doc["absorbed_id"], who=f"api:{client}", reason=doc["reason"]))
    return JSONResponse(result, status_code=200)


ROUTES = [
    Route("/v1/members", create_member, methods=["POST"]),
    Route("/v1/members/{member_id}", get_member, methods=["GET"]),
    Route("/v1/members/{member_id}", update_member, methods=["PATCH"]),
    Route("/v1/members/{member_id}/consents", get_consents, methods=["GET"]),
    Route("/v1/members/{member_id}/consents", set_consents, methods=["POST"]),
    Route("/v1/members/{member_id}/merge", merge_members, methods=["POST"]),
]
