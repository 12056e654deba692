"""Fixtures: a real hub (SQLite file or a fresh PostgreSQL schema) on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# the helpers live beside this file; test modules import them as a top-level module (rootdir-relative
# imports are not available without an __init__.py, which would shadow the real ``sync`` package)
sys.path.insert(0, str(Path(__file__).parent))
from synchelpers import close_hub_storage, open_hub_storage  # noqa: E402

from sync.hub.server import HubServer  # noqa: E402
from sync.hub.storage import HubStorage  # noqa: E402


@pytest.fixture(params=["sqlite", "postgres"])
def hub_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubStorage]:
    storage = open_hub_storage(request.param, tmp_path)
    yield storage
    close_hub_storage(storage)


@pytest.fixture
def sqlite_hub_storage(tmp_path: Path) -> Iterator[HubStorage]:
    storage = open_hub_storage("sqlite", tmp_path)
    yield storage
    storage.close()


@pytest.fixture
def hub(hub_storage: HubStorage) -> Iterator[HubServer]:
    with HubServer(hub_storage) as server:
        yield server


@pytest.fixture
def sqlite_hub(sqlite_hub_storage: HubStorage) -> Iterator[HubServer]:
    with HubServer(sqlite_hub_storage) as server:
        yield server


