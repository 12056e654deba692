"""The hub's OpenAPI 3.0 description, served at /openapi.json and fuzzed by the tests."""

from __future__ import annotations

from typing import Any

from sync.protocol import CHANGE_KINDS, MAX_PULL_LIMIT, PROTOCOL_VERSION

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_EVENT = {
    "type": "object",
    "required": ["id", "device_id", "store_id", "seq", "type", "payload", "device_time"],
    "properties": {
        "id": {"type": "string", "description": "UUIDv7, globally unique and time-ordered"},
        "device_id": {"type": "string"},
        "store_id": {"type": "string"},
        "seq": {"type": "integer", "minimum": 0, "description": "per-device sequence number"},
        "type": {"type": "string", "example": "ledger.earn"},
        "payload": {"type": "object"},
        "device_time": {"type": "string", "description": "ISO 8601 UTC"},
    },
}


_MEMBER_ID = {"name": "member_id", "in": "path", "required": True,
              "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
_CONSENT_IN = {
    "type": "object", "required": ["name", "granted", "wording_version"], "additionalProperties": False,
    "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}, "granted": {"type": "boolean"},
                   "wording_version": {"type": "string", "minLength": 1, "maxLength": 40}}}
_MEMBER_FIELDS: dict[str, Any] = {
    "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
    "email": {"type": "string", "maxLength": 254, "description": "hashed at once; never stored"},
    "phone": {"type": "string", "maxLength": 32, "description": "read in 'region' (or +CC ...); hashed, never stored"},
    "region": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166 country reading 'phone'"},
    "birthday": {"type": "string", "format": "date"},
    "home_store_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "preferences": {"type": "object", "maxProperties": 20},
    "external_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "card_number": {"type": "string", "pattern": "^6009[0-9]{12}$",
                    "description": "only to keep an existing card; the hub allocates one otherwise"},
    "consents": {"type": "array", "maxItems": 20, "items": _CONSENT_IN},
}
_MEMBER_UPDATE = {**_MEMBER_FIELDS, **{k: {**_MEMBER_FIELDS[k], "nullable": True}
                                       for k in ("email", "phone", "birthday", "home_store_id")}}
_CONSENT_STATE = {"type": "object", "properties": {
    "granted": {"type": "boolean"}, "at": {"type": "string", "nullable": True},
    "source": {"type": "string", "nullable": True}, "wording_version": {"type": "string", "nullable": True}}}
_MEMBER = {
    "type": "object", "required": ["id", "card_number", "display_name", "balance", "tier", "consents"],
    "properties": {
        "id": {"type": "string"}, "card_number": {"type": "string", "nullable": True},
        "display_name": {"type": "string"}, "external_id": {"type": "string", "nullable": True},
        "home_store_id": {"type": "string", "nullable": True}, "birthday": {"type": "string", "nullable": True},
        "preferences": {"type": "object"}, "has_phone": {"type": "boolean"}, "has_email": {"type": "boolean"},
        "balance": {"type": "integer"}, "tier": {"type": "string"}, "spend_12m_cents": {"type": "integer"},
        "next_tier": {"type": "object", "nullable": True, "properties": {
            "tier": {"type": "string"}, "cents_to_go": {"type": "integer"}, "threshold_cents": {"type": "integer"}}},
        "tier_override": {"type": "object", "nullable": True},
        "consents": {"type": "object", "additionalProperties": _CONSENT_STATE},
        "purchases": {"type": "array", "items": {"type": "object", "properties": {
            "channel": {"type": "string"}, "id": {"type": "string"}, "total_cents": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "object"}}}}},
        "points": {"type": "array", "items": {"type": "object", "properties": {
            "entry_id": {"type": "string"}, "points": {"type": "integer"}, "reason": {"type": "string"},
            "source": {"type": "string", "nullable": True}, "balance_after": {"type": "integer"}}}},
        "merged_from": {"type": "array", "items": {"type": "string"}},
        "created": {"type": "boolean"},
    },
}
_CONSENTS = {"type": "object", "required": ["member_id", "consents", "history"], "properties": {
    "member_id": {"type": "string"}, "consents": {"type": "object", "additionalProperties": _CONSENT_STATE},
    "history": {"type": "array", "items": {"type": "object"}}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _member_errors(*codes: str) -> dict[str, Any]:
    words = {"400": "a field is unknown, missing or out of range (the message names it)",
             "401": "no API key", "403": "the API key lacks the scope", "404": "unknown member",
             "409": "card number or external id held by another member, or the record was merged elsewhere",
             "413": "the body is larger than 64 KB", "422": "unknown home store",
             "503": "the hub is busy; honour Retry-After"}
    return {code: _err(words[code]) for code in codes}


def _member_paths(api_key: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The member API (sync/hub/member_api.py); scopes members:read and members:write."""
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["display_name"], "additionalProperties": False, "properties": _MEMBER_FIELDS}}}}
    patch = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "minProperties": 1, "additionalProperties": False, "properties": _MEMBER_UPDATE}}}}
    consents = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["consents"], "additionalProperties": False,
        "properties": {"consents": {"type": "array", "minItems": 1, "maxItems": 20, "items": _CONSENT_IN}}}}}}
    merge = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["absorbed_id", "reason"], "additionalProperties": False,
        "properties": {"absorbed_id": {"type": "string", "minLength": 1, "maxLength": 64},
                       "reason": {"type": "string", "minLength": 1, "maxLength": 500}}}}}}
    history = {"name": "history", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": 200}}
    return {
        "/v1/members": {"post": {
            "operationId": "createMember", "security": api_key, "description": "scope members:write",
            "requestBody": body,
            "responses": {"201": _json(_MEMBER, "created; the hub allocated the id and the card number"),
                          "200": _json(_MEMBER, "the member holding this external_id (a retried sign-up)"),
                          **_member_errors("400", "401", "403", "409", "413", "422", "503")}}},
        "/v1/members/{member_id}": {
            "get": {"operationId": "getMember", "security": api_key, "description": "scope members:read",
                    "parameters": [_MEMBER_ID, history],
                    "responses": {"200": _json(_MEMBER, "the member's profile (a merged id answers its survivor)"),
                                  **_member_errors("400", "401", "403", "404", "503")}},
            "patch": {"operationId": "updateMember", "security": api_key,
                      "description": "scope members:write; only the given fields change", "parameters": [_MEMBER_ID],
                      "requestBody": patch,
                      "responses": {"200": _json(_MEMBER, "the profile after the change"),
                                    **_member_errors("400", "401", "403", "404", "409", "413", "422", "503")}}},
        "/v1/members/{member_id}/consents": {
            "get": {"operationId": "getMemberConsents", "security": api_key, "description": "scope members:read",
                    "parameters": [_MEMBER_ID],
                    "responses": {"200": _json(_CONSENTS, "current consents and their history"),
                                  **_member_errors("400", "401", "403", "404", "503")}},
            "post": {"operationId": "setMemberConsents", "security": api_key, "description": "scope members:write",
                     "parameters": [_MEMBER_ID], "requestBody": consents,
                     "responses": {"200": _json(_CONSENTS, "recorded"),
                                   **_member_errors("400", "401", "403", "404", "413", "503")}}},
        "/v1/members/{member_id}/merge": {"post": {
            "operationId": "mergeMembers", "security": api_key,
            "description": "scope members:write; absorbed_id is merged into member_id (idempotent)",
            "parameters": [_MEMBER_ID], "requestBody": merge,
            "responses": {"200": _json({"type": "object", "properties": {
                "survivor_id": {"type": "string"}, "absorbed_id": {"type": "string"},
                "points_moved": {"type": "integer"}, "merged": {"type": "boolean"},
                "balance": {"type": "integer", "nullable": True}}}, "merged, or already merged (merged: false)"),
                **_member_errors("400", "401", "403", "404", "409", "413", "503")}}},
    }
_ORDER_ID = {"name": "order_id", "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
_ORDER_LINE = {
    "type": "object", "required": ["gtin", "qty", "unit_price_cents"],
    "properties": {
        "line_no": {"type": "integer", "minimum": 1, "description": "default: the line's position"},
        "gtin": {"type": "string", "pattern": "^[0-9]{1,14}$"},
        "qty": {"type": "integer", "minimum": 1, "maximum": 999},
        "unit_price_cents": {"type": "integer", "minimum": 0,
                             "description": "what one unit costs before the hub's offers; not above the catalogue"},
        "category": {"type": "string", "nullable": True, "description": "for a GTIN the hub does not know"},
        "name": {"type": "string", "nullable": True},
    },
}


def _order(placing: bool) -> dict[str, Any]:
    required = ["order_id", "customer_id", "channel", "total_cents", "lines"] if placing else \
        ["customer_id", "channel", "lines"]
    return {"type": "object", "required": required, "properties": {
        "order_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "customer_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "channel": {"type": "string", "enum": ["web", "app"]},
        "total_cents": {"type": "integer", "minimum": 0,
                        "description": "what the customer pays: after discounts and the points' value"},
        "lines": {"type": "array", "minItems": 1, "maxItems": 500, "items": _ORDER_LINE},
        "points_redeemed": {"type": "integer", "minimum": 0, "description": "points spent on the order"},
        "coupons": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
        "store_id": {"type": "string", "nullable": True, "description": "the store that sold it (its points "
                                                                        "count there)"},
        "pickup_store_id": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": ["placed", "ready", "collected", "shipped", "delivered"],
                   "description": "the order's state; cancel with POST /v1/orders/{order_id}/cancel"},
        "created_at": {"type": "string", "nullable": True}}}


def _json_ref(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


_ORDER_OUTCOME = {"type": "object", "required": ["order_id", "recorded", "store_id", "points_earned",
                                                 "points_redeemed"],
                  "properties": {"order_id": {"type": "string"}, "recorded": {"type": "boolean"},
                                 "store_id": {"type": "string"}, "total_cents": {"type": "integer"},
                                 "points_earned": {"type": "integer"}, "points_redeemed": {"type": "integer"},
                                 "coupons": {"type": "array", "items": {"type": "string"}},
                                 "lines": {"type": "array", "items": {"type": "object"}},
                                 "balance": {"type": "integer", "nullable": True}}}
_ORDER_QUOTE = {"type": "object", "required": ["total_cents", "points_earned", "discounts", "lines"],
                "properties": {"total_cents": {"type": "integer"}, "subtotal_cents": {"type": "integer"},
                               "discount_cents": {"type": "integer"}, "points_value_cents": {"type": "integer"},
                               "points_earned": {"type": "integer"}, "points_redeemed": {"type": "integer"},
                               "discounts": {"type": "array", "items": {"type": "object"}},
                               "lines": {"type": "array", "items": {"type": "object"}}}}
_RETURN_OUTCOME = {"type": "object", "required": ["order_id", "return_id", "recorded", "points_reversed",
                                                  "points_refunded", "refund_cents"],
                   "properties": {"order_id": {"type": "string"}, "return_id": {"type": "string"},
                                  "recorded": {"type": "boolean"}, "points_reversed": {"type": "integer"},
                                  "points_refunded": {"type": "integer"}, "refund_cents": {"type": "integer"},
                                  "lines": {"type": "array", "items": {"type": "object"}}}}


def spec() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"device": []}]
    api_key: list[dict[str, list[str]]] = [{"apiKey": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "store-edge hub", "version": str(PROTOCOL_VERSION),
                 "description": "Edge <-> hub sync protocol; see docs/sync-protocol.md"},
        "paths": {
            "/v1/health": {"get": {"operationId": "health", "responses": {
                "200": {"description": "the hub is up", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"status": {"type": "string"}, "protocol": {"type": "integer"}}}}}}}}},
            "/v1/enroll": {"post": {
                "operationId": "enroll",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}}}},
                "responses": {
                    "200": {"description": "the device credential", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["device_id", "store_id", "token"],
                        "properties": {"device_id": {"type": "string"}, "store_id": {"type": "string"},
                                       "token": {"type": "string"}, "protocol": {"type": "integer"}}}}}},
                    "400": _err("malformed request"),
                    "403": _err("unknown, used or expired code"),
                }}},
            "/v1/events": {"post": {
                "operationId": "pushEvents",
                "security": bearer,
                "description": "Push a batch. The body may be gzip-compressed (Content-Encoding: gzip).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["protocol", "events"],
                    "properties": {"protocol": {"type": "integer", "enum": [PROTOCOL_VERSION]},
                                   "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}}}},
                "responses": {
                    "200": {"description": "one result per event, in order", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["results"], "properties": {
                            "results": {"type": "array", "items": {"type": "object", "required": ["id", "status"],
                                "properties": {"id": {"type": "string"},
                                               "status": {"type": "string", "enum": ["accepted", "duplicate", "rejected"]},
                                               "reason": {"type": "string"}}}},
                            "server_time": {"type": "string"}}}}}},
                    "400": _err("the batch envelope is malformed"),
                    "401": _err("no or unknown device credential"),
                    "403": _err("the device was revoked"),
                    "413": _err("the batch is too large"),
                    "503": _err("the hub is busy; honour Retry-After"),
                }}},
            "/v1/changes": {"get": {
                "operationId": "pullChanges",
                "security": bearer,
                "parameters": [
                    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PULL_LIMIT}},
                ],
                "responses": {
                    "200": {"description": "a page of changes for the device's store", "content": {
                        "application/json": {"schema": {"type": "object", "required": ["changes", "cursor", "has_more"],
                            "properties": {"protocol": {"type": "integer"},
                                           "changes": {"type": "array", "items": {"type": "object",
                                               "required": ["kind", "key"],
                                               "properties": {"kind": {"type": "string", "enum": list(CHANGE_KINDS)},
                                                              "key": {"type": "string"},
                                                              "data": {"type": "object", "nullable": True}}}},
                                           "cursor": {"type": "string"}, "has_more": {"type": "boolean"}}}}}},
                    "400": _err("bad cursor or limit"),
                    "401": _err("no or unknown device credential"),
                    "403": _err("the device was revoked"),
                }}},
            "/v1/orders": {"post": {
                "operationId": "placeOrder",
                "security": api_key,
                "description": "A web or app order, priced by the hub with the till's rules (offers, coupons, "
                               "category/tier/promotion multipliers, points rounded once per order); it earns "
                               "and burns points, redeems its coupons and counts spend. Idempotent on order_id. "
                               "total_cents must equal the hub's price (ask /v1/orders/quote).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _order(True)}}},
                "responses": {
                    "201": {"description": "placed", "content": _json_ref("OrderOutcome")},
                    "200": {"description": "already placed (idempotent): the first outcome, nothing changed",
                            "content": _json_ref("OrderOutcome")},
                    "400": _err("malformed order: every bad field and line named"),
                    "401": _err("missing or unknown API key"),
                    "403": _err("the API key lacks the orders scope"),
                    "409": _err("too few points, a coupon already used, or the order id is another customer's"),
                    "422": _err("unknown customer or store, a line unlike the catalogue, a withdrawn or another "
                                "customer's coupon, a redemption rule, or a total unlike the hub's price"),
                }}},
            "/v1/orders/quote": {"post": {
                "operationId": "quoteOrder",
                "security": api_key,
                "description": "What the order would cost and earn, nothing written (order_id and total_cents "
                               "optional).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _order(False)}}},
                "responses": {
                    "200": {"description": "the price, discounts and points", "content": _json_ref("OrderQuote")},
                    "400": _err("malformed order"),
                    "401": _err("missing or unknown API key"),
                    "403": _err("the API key lacks the orders scope"),
                    "409": _err("too few points or a coupon already used"),
                    "422": _err("refused as placing would be"),
                }}},
            "/v1/orders/{order_id}/cancel": {"post": {
                "operationId": "cancelOrder",
                "security": api_key,
                "description": "Reverse what the order's returns have not: points earned taken back, points "
                               "redeemed given back, spend reduced, coupons usable again. Idempotent.",
                "parameters": [_ORDER_ID],
                "responses": {
                    "200": {"description": "cancelled (cancelled false: it already was)",
                            "content": {"application/json": {"schema": {"type": "object", "required": [
                                "order_id", "cancelled"], "properties": {"order_id": {"type": "string"},
                                                                         "cancelled": {"type": "boolean"}}}}}},
                    "400": _err("malformed order id"),
                    "401": _err("missing or unknown API key"),
                    "403": _err("the API key lacks the orders scope"),
                    "404": _err("unknown order"),
                }}},
            "/v1/orders/{order_id}/returns": {"post": {
                "operationId": "returnOrderLines",
                "security": api_key,
                "description": "Units returned per line: each reverses exactly its share of the points earned and "
                               "redeemed and of what was paid. Idempotent on return_id.",
                "parameters": [_ORDER_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["return_id", "lines"],
                    "properties": {"return_id": {"type": "string", "minLength": 1, "maxLength": 64},
                                   "lines": {"type": "array", "minItems": 1, "items": {
                                       "type": "object", "required": ["line_no", "qty"],
                                       "properties": {"line_no": {"type": "integer", "minimum": 1},
                                                      "qty": {"type": "integer", "minimum": 1, "maximum": 999}}}}}}}}},
                "responses": {
                    "201": {"description": "recorded", "content": _json_ref("ReturnOutcome")},
                    "200": {"description": "already recorded (idempotent)", "content": _json_ref("ReturnOutcome")},
                    "400": _err("malformed return: every bad line named"),
                    "401": _err("missing or unknown API key"),
                    "403": _err("the API key lacks the orders scope"),
                    "404": _err("unknown order"),
                    "409": _err("the order was cancelled"),
                    "422": _err("a line not on the order, or more units than remain"),
                }}},
            "/v1/members/lookup": {"get": {
                "operationId": "lookupMember",
                "security": bearer,
                "description": "A till asks who an unknown card, phone, e-mail or app code belongs to (exactly one "
                               "query parameter). A hit makes the member relevant to the device's store and "
                               "returns the profile as the change feed sends it (kind customer). Every look-up is "
                               "logged (kind of identifier, never its value); a device gets at most "
                               "lookup_misses_per_minute misses (hub config, default 10) in any 60 s, then 429.",
                "parameters": [
                    {"name": "card", "in": "query", "schema": {"type": "string", "minLength": 1, "maxLength": 64}},
                    {"name": "phone_hash", "in": "query",
                     "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                    {"name": "email_hash", "in": "query",
                     "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                    {"name": "app_token", "in": "query",
                     "schema": {"type": "string", "minLength": 1, "maxLength": 1024}}],
                "responses": {
                    "200": {"description": "found: {found: true, message, customer}",
                            "content": {"application/json": {"schema": {"type": "object",
                                "required": ["found", "customer"],
                                "properties": {"found": {"type": "boolean"}, "message": {"type": "string"},
                                               "customer": {"type": "object"}}}}}},
                    "400": _err("not exactly one identifier, or a malformed one"),
                    "401": _err("missing or unknown device token"),
                    "403": _err("device revoked"),
                    "404": _err("not_found (no member) or ambiguous (more than one member)"),
                    "429": _err("too_many_lookups: wait Retry-After seconds"),
                }}},
            "/v1/members/{customer_id}/claims": {"post": {
                "operationId": "claimReceipt",
                "security": api_key,
                "description": "The app claims a guest receipt's points for its member (API key scope "
                               "'members:write'); the hub computes the points from the sale it holds, once.",
                "parameters": [{"name": "customer_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["code"],
                    "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 40}}}}}},
                "responses": {
                    "201": {"description": "claimed: {sale_id, customer_id, points, message}",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": _err("malformed body"),
                    "401": _err("missing or unknown API key"),
                    "403": _err("the key lacks the 'members' scope"),
                    "404": _err("unknown_claim_code: no receipt with this code (or its sale not received yet)"),
                    "409": _err("already_claimed, or sale_had_member"),
                    "410": _err("claim_expired"),
                    "422": _err("bad_claim_code (typing error) or unknown_customer"),
                }}},
            "/v1/sightings": {"post": {
                "operationId": "recordSighting",
                "security": api_key,
                "description": "A store beacon woke the customer's app (iOS background); relayed to the store "
                               "only while the customer has location consent.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["customer_id", "kind", "time"],
                    "properties": {
                        "customer_id": {"type": "string", "minLength": 1, "maxLength": 64},
                        "kind": {"type": "string", "enum": ["enter", "exit"]},
                        "time": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                        "beacon": {"type": "string", "description": "e.g. ibeacon:UUID:MAJOR:MINOR"},
                        "store_id": {"type": "string"}, "zone": {"type": "string"},
                        "sighting_id": {"type": "string", "minLength": 1, "maxLength": 64}}}}}},
                "responses": {
                    "201": {"description": "recorded", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"sighting_id": {"type": "string"},
                                                         "recorded": {"type": "boolean"},
                                                         "forwarded": {"type": "boolean"}}}}}},
                    "200": {"description": "already recorded (idempotent on sighting_id)",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": _err("malformed sighting"),
                    "401": _err("missing or unknown API key"),
                    "422": _err("unknown customer, store or beacon"),
                }}},
            "/v1/admin/liability": {"get": {
                "operationId": "liabilityReport",
                "security": api_key,
                "description": "Outstanding points and their value per store, expiring in 30/60/90 days.",
                "responses": {
                    "200": {"description": "the liability (as 'store-edge hub report liability --json')",
                            "content": {"application/json": {"schema": {"type": "object", "required": [
                                "stores", "total"], "properties": {"stores": {"type": "array",
                                                                              "items": {"type": "object"}},
                                                                   "total": {"type": "object"}}}}}},
                    "401": _err("missing or unknown API key"),
                    "403": _err("the API key lacks the reports scope"),
                }}},
            "/v1/rewards": {"get": {
                "operationId": "rewardCatalogue",
                "security": api_key,
                "description": "The live rewards (API key with the 'rewards' scope).",
                "responses": {
                    "200": {"description": "the catalogue", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"rewards": {"type": "array", "items": {"type": "object"}}}}}}},
                    "401": _err("missing or unknown API key"),
                    "403": _err("the key lacks the 'rewards' scope"),
                }}},
            "/v1/members/{member}/rewards/{reward}/claim": {"post": {
                "operationId": "claimReward",
                "security": api_key,
                "description": "A member claims a reward: its points are burnt once per claim_id (reason "
                               "'reward: <name>'); a coupon reward answers its single-use coupon code.",
                "parameters": [{"name": "member", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "reward", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "claim_id": {"type": "string", "minLength": 1, "maxLength": 64,
                                     "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"}}}}}},
                "responses": {
                    "201": {"description": "claimed", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "200": {"description": "claimed before under this claim_id (idempotent)",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": _err("malformed body"),
                    "401": _err("missing or unknown API key"),
                    "403": _err("the key lacks the 'rewards' scope"),
                    "404": _err("unknown member or reward"),
                    "409": _err("not enough points, or the claim_id names another claim"),
                }}},
            "/v1/admin/exceptions": {"get": {
                "operationId": "exceptionsReport",
                "security": api_key,
                "parameters": [{"name": "kind", "in": "query", "required": False, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "overdrafts and other exceptions", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"exceptions": {"type": "array",
                                                                                   "items": {"type": "object"}}}}}}},
                    "400": _err("a value the hub database cannot store"),
                    "401": _err("missing or unknown API key"),
                }}},
            **_member_paths(api_key),
        },
        "components": {
            "schemas": {"Error": _ERROR, "Event": _EVENT, "OrderOutcome": _ORDER_OUTCOME,
                        "OrderQuote": _ORDER_QUOTE, "ReturnOutcome": _RETURN_OUTCOME},
            "securitySchemes": {
                "device": {"type": "http", "scheme": "bearer", "description": "the per-device token from /v1/enroll"},
                "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key from 'hub create-api-key'"},
            },
        },
    }
