"""API keys with scopes (issue 12 item 4): the cross-store exceptions report needs the ``reports`` scope, over
HTTP on 127.0.0.1 on both engines; ``hub create-api-key --scope``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sync.hub.server import HubServer
from sync.hub.storage import HubStorage

ORDER = {"order_id": "W-1", "customer_id": "ada", "channel": "web", "total_cents": 100,
         "lines": [{"gtin": "4000000000011", "qty": 1, "unit_price_cents": 100}]}


def _get_report(hub: HubServer, key: str) -> httpx.Response:
    return httpx.get(f"{hub.url}/v1/admin/exceptions", headers={"Authorization": f"Bearer {key}"})


def test_an_orders_key_cannot_read_the_cross_store_report(hub: HubServer) -> None:
    hub.storage.upsert_customer({"id": "ada", "display_name": "Ada"})
    shop = hub.storage.create_api_key("webshop")  # default scopes: orders, sightings
    refused = _get_report(hub, shop)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert "--scope reports" in refused.json()["message"]
    placed = httpx.post(f"{hub.url}/v1/orders", json=ORDER, headers={"Authorization": f"Bearer {shop}"})
    assert placed.status_code in (201, 200), placed.text
    ops = hub.storage.create_api_key("ops", ["reports"])
    assert _get_report(hub, ops).status_code == 200
    denied = httpx.post(f"{hub.url}/v1/orders", json={**ORDER, "order_id": "W-2"},
                        headers={"Authorization": f"Bearer {ops}"})
    assert denied.status_code == 403 and "'orders' scope" in denied.json()["message"]
    assert _get_report(hub, "hk_not-a-key").status_code == 403
    assert httpx.get(f"{hub.url}/v1/admin/exceptions").status_code == 401


def test_unknown_scope_is_refused(sqlite_hub_storage: HubStorage) -> None:
    with pytest.raises(ValueError, match="unknown API key scope admin"):
        sqlite_hub_storage.create_api_key("x", ["orders", "admin"])


def test_create_api_key_command_takes_scopes(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.db")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edge.cli", "hub", "create-api-key", "--db", db, *args],
                              capture_output=True, text=True, timeout=120)

    made = run("ops", "--scope", "reports")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    bad = run("x", "--scope", "everything")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "unknown API key scope" in bad.stderr
    storage = HubStorage.open(db)
    try:
        assert storage.check_api_key(key, "reports") and not storage.check_api_key(key, "orders")
    finally:
        storage.close()
