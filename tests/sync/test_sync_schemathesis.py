"""schemathesis fuzzes the hub through its own OpenAPI spec, over real HTTP: no request may cause a 5xx.

Against a SQLite hub file and a PostgreSQL hub (a fresh schema), as production may use either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sync.enroll import enroll
from sync.hub.admin import API_SCOPES
from sync.hub.server import HubServer
from tests.support.hub import close_hub_storage, open_hub_storage, seed


class _Hub:
    def __init__(self, server: HubServer, device_token: str, api_key: str) -> None:
        self.server, self.device_token, self.api_key = server, device_token, api_key


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Hub]:
    tmp = tmp_path_factory.mktemp("fuzzhub")
    storage = open_hub_storage(request.param, tmp)
    codes = seed(storage, {"s1": ["t1"]}, {"ada": ("s1", 10)})
    storage.add_reward({"id": "coffee", "name": "Free coffee", "kind": "product", "points": 5, "gtin": "04000000000028"})
    with HubServer(storage) as server:
        cred = enroll(server.url, codes["t1"], Path(tmp) / "edge")
        # every scope, so the fuzzer gets past 403 on each API-key call (rewards included)
        yield _Hub(server, cred.token, storage.create_api_key("fuzz", sorted(API_SCOPES)))
    close_hub_storage(storage)


@pytest.fixture(scope="module")
def hub_schema(fuzz_hub: _Hub) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_hub.server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("hub_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_hub_never_answers_5xx(case: Any, fuzz_hub: _Hub) -> None:
    # the member look-up is a till's call (device token); every other /v1/members call and /v1/rewards take a key
    by_key = case.path.startswith(("/v1/orders", "/v1/sightings", "/v1/admin/", "/v1/members", "/v1/rewards")) \
        and case.path != "/v1/members/lookup"
    token = fuzz_hub.api_key if by_key else fuzz_hub.device_token
    case.call_and_validate(
        base_url=fuzz_hub.server.url,
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
