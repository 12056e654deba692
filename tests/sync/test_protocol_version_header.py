"""The protocol version header: the hub refuses other versions in words; no header means version 1."""

from __future__ import annotations

import httpx
import pytest

from sync.hub.server import HubServer

pytestmark = pytest.mark.usefixtures("no_store_edge_env")


def test_the_hub_refuses_other_protocol_versions_in_words(sqlite_hub: HubServer) -> None:
    resp = httpx.get(f"{sqlite_hub.url}/v1/health", headers={"X-Store-Edge-Protocol": "99"})
    assert resp.status_code == 400
    assert resp.json() == {"error": "unsupported_protocol", "message": "this till speaks sync protocol 99; the hub "
                           "speaks 1 - upgrade the hub or the till"}
    resp = httpx.post(f"{sqlite_hub.url}/v1/events", headers={"X-Store-Edge-Protocol": "2"}, content=b"{}")
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_protocol"
    assert httpx.get(f"{sqlite_hub.url}/v1/health", headers={"X-Store-Edge-Protocol": "1"}).status_code == 200
    assert httpx.get(f"{sqlite_hub.url}/v1/health").status_code == 200  # curl without the header: version 1
