"""Fixtures shared by the whole suite, defined in tests/support and registered here: a seeded demo store in a
real SQLite file under tmp_path (``demo_settings``; ``spanish_settings`` the Spanish demo), real hubs on both engines (``hub``, ``hub_storage``,
``sqlite_hub``, ``sqlite_hub_storage``), and a clean ``STORE_EDGE_*`` environment (``no_store_edge_env``)."""

from __future__ import annotations

from tests.support.cli import no_store_edge_env
from tests.support.demo import FIXED_NOW, demo_settings, spanish_settings
from tests.support.hub import hub, hub_storage, sqlite_hub, sqlite_hub_storage

__all__ = [  # fixtures, found by pytest here; FIXED_NOW for the tests that still import it from here
    "FIXED_NOW", "demo_settings", "hub", "hub_storage", "no_store_edge_env", "spanish_settings", "sqlite_hub",
    "sqlite_hub_storage",
]
