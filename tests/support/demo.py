"""The demo store the till tests run against: default settings on a freshly seeded SQLite file, at a fixed
moment (so offers, expiry and receipts read the same on every run)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.db import open_database
from edge.demo.seed import seed_demo
from edge.settings import Settings, load_settings

FIXED_NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


@pytest.fixture
def demo_settings(tmp_path: Path) -> Settings:
    """Default settings (no config file, no env) pointing at a freshly seeded demo database."""
    settings = load_settings(environ={}).replace(data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    seed_demo(db, now=FIXED_NOW)
    db.close()
    return settings
