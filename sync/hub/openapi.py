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
                "operationId": "recordOrder",
                "security": api_key,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["order_id", "customer_id", "channel", "total_cents"],
                    "properties": {
                        "order_id": {"type": "string", "minLength": 1, "maxLength": 64},
                        "customer_id": {"type": "string"},
                        "channel": {"type": "string", "enum": ["web", "app"]},
                        "total_cents": {"type": "integer", "minimum": 0},
                        "status": {"type": "string"},
                        "pickup_store_id": {"type": "string", "nullable": True},
                        "created_at": {"type": "string"},
                        "lines": {"type": "array", "items": {"type": "object"}}}}}}},
                "responses": {
                    "201": {"description": "recorded", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "200": {"description": "already recorded (idempotent)",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": _err("malformed order"),
                    "401": _err("missing or unknown API key"),
                    "422": _err("unknown customer"),
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
        },
        "components": {
            "schemas": {"Error": _ERROR, "Event": _EVENT},
            "securitySchemes": {
                "device": {"type": "http", "scheme": "bearer", "description": "the per-device token from /v1/enroll"},
                "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key from 'hub create-api-key'"},
            },
        },
    }
